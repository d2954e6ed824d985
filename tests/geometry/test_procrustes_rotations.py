import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from poseviz.geometry import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion_wxyz,
    procrustes_align,
    quaternion_wxyz_to_matrix,
    scale_align,
)


def test_recovers_known_similarity(rng):
    target = rng.normal(size=(32, 17, 3))
    R = Rotation.random(32, random_state=1).as_matrix()
    s = rng.uniform(0.5, 2.0, size=32)
    t = rng.normal(size=(32, 1, 3))
    pred = s[:, None, None] * np.einsum("bij,bkj->bki", R, target) + t  # pred = s R x + t
    aligned, (s_hat, R_hat, t_hat) = procrustes_align(pred, target, return_transform=True)
    np.testing.assert_allclose(aligned, target, atol=1e-9)
    np.testing.assert_allclose(s_hat, 1 / s, rtol=1e-9)
    np.testing.assert_allclose(
        s_hat[:, None, None] * pred @ R_hat + t_hat[:, None], target, atol=1e-9
    )


def test_matches_scipy_loop_on_noisy_poses(rng):
    target = rng.normal(size=(20, 17, 3))
    pred = target + rng.normal(scale=0.3, size=target.shape)
    ours = procrustes_align(pred, target)
    for b in range(20):  # independent reference: scipy's orthogonal Procrustes, frame by frame
        X0, Y0 = target[b] - target[b].mean(0), pred[b] - pred[b].mean(0)
        R, sc = orthogonal_procrustes(Y0, X0)
        if np.linalg.det(R) < 0:
            continue  # scipy allows reflections; compared separately below
        a = sc / (Y0**2).sum()
        np.testing.assert_allclose(ours[b], a * Y0 @ R + target[b].mean(0), atol=1e-9)


def test_reflection_is_excluded(rng):
    target = rng.normal(size=(17, 3))
    pred = target * np.array([-1.0, 1.0, 1.0])  # a mirror image
    _, (_, R, _) = procrustes_align(pred, target, return_transform=True)
    assert np.isclose(np.linalg.det(R), 1.0)


def test_rigid_and_scale_only(rng):
    target = rng.normal(size=(4, 17, 3))
    R = Rotation.random(4, random_state=2).as_matrix()
    pred = np.einsum("bij,bkj->bki", R, target)
    np.testing.assert_allclose(procrustes_align(pred * 1.0, target, scale=False), target, atol=1e-9)
    np.testing.assert_allclose(scale_align(2.5 * target, target), target, atol=1e-12)


def test_gradients_flow():
    pred = torch.randn(3, 17, 3, dtype=torch.float64, requires_grad=True)
    target = torch.randn(3, 17, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda p: procrustes_align(p, target), (pred,))


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape \(\.\.\., J, 3\)"):
        procrustes_align(np.zeros((2, 17, 3)), np.zeros((2, 16, 3)))


def test_rotation_conversions_against_scipy(rng):
    rot = Rotation.random(50, random_state=3)
    q_xyzw = rot.as_quat()
    q_wxyz = np.concatenate([q_xyzw[:, 3:], q_xyzw[:, :3]], 1)
    np.testing.assert_allclose(quaternion_wxyz_to_matrix(q_wxyz), rot.as_matrix(), atol=1e-12)
    q = matrix_to_quaternion_wxyz(rot.as_matrix())
    q_ref = np.where(q_wxyz[:, :1] < 0, -q_wxyz, q_wxyz)
    np.testing.assert_allclose(q, q_ref, atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix(rot.as_rotvec()), rot.as_matrix(), atol=1e-12)
    np.testing.assert_allclose(matrix_to_axis_angle(rot.as_matrix()), rot.as_rotvec(), atol=1e-9)
    R = rot.as_matrix()
    np.testing.assert_allclose(
        R @ np.swapaxes(R, 1, 2), np.broadcast_to(np.eye(3), R.shape), atol=1e-12
    )


def test_euler_is_intrinsic_in_the_named_order(rng):
    angles = rng.uniform(-180, 180, size=(10, 3))
    for order in ("ZXY", "XYZ", "ZYX"):
        ref = Rotation.from_euler(order, angles, degrees=True).as_matrix()  # uppercase = intrinsic
        np.testing.assert_allclose(euler_to_matrix(angles, order), ref, atol=1e-12)
    with pytest.raises(ValueError, match="order must be three of X, Y, Z"):
        euler_to_matrix(angles, "ZXW")


def _umeyama_loop(pred, target):
    """Reference: per-pose SVD with the reflection fix (Umeyama 1991), plain numpy."""
    out = np.empty_like(pred)
    for b in range(len(pred)):
        X0, Y0 = target[b] - target[b].mean(0), pred[b] - pred[b].mean(0)
        U, s, Vt = np.linalg.svd(Y0.T @ X0)
        d = np.array([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
        out[b] = (s * d).sum() / (Y0**2).sum() * Y0 @ (U * d) @ Vt + target[b].mean(0)
    return out


@pytest.mark.parametrize("noise", [0.01, 0.3, 3.0])
def test_closed_form_matches_svd_loop_including_reflections(rng, noise):
    target = rng.normal(size=(300, 17, 3))
    pred = target + rng.normal(scale=noise, size=target.shape)
    pred[::3] *= np.array([-1.0, 1.0, 1.0])  # mirrored: the best proper rotation is wanted
    np.testing.assert_allclose(
        procrustes_align(pred, target), _umeyama_loop(pred, target), atol=1e-9
    )
    flat = target * np.array([1.0, 1.0, 1e-7])  # a nearly planar target
    np.testing.assert_allclose(procrustes_align(pred, flat), _umeyama_loop(pred, flat), atol=1e-8)
    got32 = procrustes_align(torch.tensor(pred, dtype=torch.float32), torch.tensor(target).float())
    assert got32.dtype == torch.float32
    np.testing.assert_allclose(got32.numpy(), _umeyama_loop(pred, target), atol=2e-5 * (1 + noise))


def test_degenerate_point_sets_stay_finite():
    target = np.zeros((2, 17, 3))
    target[1, :, 0] = np.arange(17)  # collinear
    pred = np.ones((2, 17, 3))
    out = procrustes_align(pred, target)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0], 0.0, atol=1e-12)  # a point cloud collapses onto the target's


def test_procrustes_distances_are_the_aligned_residuals(rng):
    from poseviz.geometry import procrustes_distances

    target = rng.normal(size=(2, 5, 17, 3))
    pred = target + rng.normal(scale=0.2, size=target.shape)
    want = np.linalg.norm(procrustes_align(pred, target) - target, axis=-1)
    np.testing.assert_allclose(procrustes_distances(pred, target), want, atol=1e-12)
    p = torch.tensor(pred[0, :2], requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: procrustes_distances(x, torch.tensor(target[0, :2])), (p,)
    )


def test_large_rotations_take_the_other_adjugate_columns(rng):
    """The eigenvector comes from column 0 of adj(K - lambda I) while the rotation's
    quaternion has w^2 >= 1/4 (angles up to 120 degrees) and from the best column beyond;
    both paths, the switch between them and exact half turns agree with the SVD loop."""
    angles = np.concatenate([np.linspace(0.0, np.pi, 61), [np.pi] * 3])
    axes = rng.normal(size=(len(angles), 3))
    axes[-3:] = np.eye(3)  # exact half turns about x, y and z
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    R = Rotation.from_rotvec(axes * angles[:, None]).as_matrix()
    target = rng.normal(size=(len(angles), 17, 3))
    pred = np.einsum("nij,nkj->nki", R, target) + rng.normal(scale=0.01, size=target.shape)
    np.testing.assert_allclose(
        procrustes_align(pred, target), _umeyama_loop(pred, target), atol=1e-9
    )
    p = torch.tensor(pred[[10, 50, 62]], requires_grad=True)  # 30, 150 and 180 degrees
    assert torch.autograd.gradcheck(
        lambda x: procrustes_align(x, torch.tensor(target[[10, 50, 62]])), (p,)
    )
