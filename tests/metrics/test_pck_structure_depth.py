"""3DHP PCK/AUC against a loop of the official MATLAB definition; BSLE/LSE, depth order
and background attention against loops of their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseviz.metrics.functional import (
    MPI_INF_3DHP_JOINT_GROUPS,
    MPI_INF_3DHP_PCK_JOINTS,
    auc,
    background_attention_ratio,
    bsle,
    depth_order_accuracy,
    lse,
    pck,
    pck_curve,
)
from poseviz.skeleton import convert, get_skeleton
from tests.metrics import _reference as ref
from tests.metrics.conftest import make_poses, make_prediction, make_sequence


def test_3dhp_joints_are_the_official_fourteen():
    # The script's 14 joints are the first 14 of 3DHP's 17 ('relevant' order); mapped
    # through the skeleton converter they must land on these h36m17 indices.
    eye = np.eye(17)[..., None] * np.ones(3)  # joint k of 3DHP -> one-hot pose
    h36m = convert(eye, "mpi_inf_3dhp17")[..., 0]  # (17 src, 17 h36m)
    mapped = tuple(int(np.argmax(h36m[k])) for k in range(14))
    assert mapped == MPI_INF_3DHP_PCK_JOINTS
    names = get_skeleton("h36m17").names
    assert [
        names[j] for j in MPI_INF_3DHP_JOINT_GROUPS["Head"] + MPI_INF_3DHP_JOINT_GROUPS["Neck"]
    ] == ["head", "thorax"]
    assert sorted(j for g in MPI_INF_3DHP_JOINT_GROUPS.values() for j in g) == sorted(
        MPI_INF_3DHP_PCK_JOINTS
    )


def test_pck_auc_match_the_matlab_definition(rng):
    gt = make_poses(rng, (60,))
    pred = make_prediction(rng, gt, scale=0.06)
    rel = lambda x: x - x[:, :1]  # noqa: E731
    errors = (1000 * np.linalg.norm(rel(pred) - rel(gt), axis=-1)).tolist()
    joints = MPI_INF_3DHP_PCK_JOINTS
    thr = list(range(0, 151, 5))
    curve = ref.pck_matlab(errors, joints, thr)
    assert float(pck(pred, gt)) == pytest.approx(
        100 * ref.pck_matlab(errors, joints, [150])[0], abs=1e-9
    )
    assert float(auc(pred, gt)) == pytest.approx(100 * sum(curve) / len(thr), abs=1e-9)
    np.testing.assert_allclose(pck_curve(pred, gt), 100 * np.array(curve), atol=1e-9)
    per_joint = pck(pred, gt, reduction="joint")
    for i, j in enumerate(joints):
        assert per_joint[i] == pytest.approx(100 * ref.pck_matlab(errors, [j], [150])[0])


def test_pck_threshold_is_strict_and_root_aligned():
    gt = np.zeros((1, 17, 3))
    pred = gt.copy()
    pred[0, 3, 0] = 0.15  # exactly 150 mm: not correct (error < t)
    assert float(pck(pred, gt)) == pytest.approx(100 * 13 / 14)
    assert float(pck(pred + 7.0, gt)) == pytest.approx(100 * 13 / 14)  # translation removed
    assert float(pck(gt.copy(), gt)) == 100.0
    assert float(auc(gt.copy(), gt)) == pytest.approx(100 * 30 / 31)  # threshold 0 counts nothing


def test_pck_bad_input(poses):
    gt, pred = poses
    with pytest.raises(ValueError, match="h36m17"):
        pck(pred[..., :16, :], gt[..., :16, :])
    with pytest.raises(ValueError, match="increasing"):
        auc(pred, gt, thresholds=[10, 5])
    with pytest.raises(ValueError, match="reduction"):
        pck(pred, gt, reduction="none")


def test_bsle_lse_match_loops(poses):
    gt, pred = poses
    sk = get_skeleton("h36m17")
    got = bsle(pred, gt, reduction="none")
    got_lse = lse(pred, reduction="none")
    assert got.shape == (3, 7, 16) and got_lse.shape == (3, 7, 6)
    for b in range(3):
        for f in range(7):
            P, G = pred[b, f].tolist(), gt[b, f].tolist()
            np.testing.assert_allclose(
                got[b, f], 1000 * np.array(ref.bone_length_errors(P, G, sk.bones)), atol=1e-9
            )
            np.testing.assert_allclose(
                got_lse[b, f], 1000 * np.array(ref.limb_asymmetry(P, sk.symmetric_bones)), atol=1e-9
            )
    assert float(bsle(gt.copy(), gt)) == 0.0
    mirrored = gt - gt[..., :1, :]
    mirrored[..., [0, 7, 8, 9, 10], 0] = 0.0  # the centre line on the mirror plane x = 0
    mirrored[..., list(sk.right), :] = mirrored[..., list(sk.left), :] * [-1, 1, 1]
    assert float(lse(mirrored)) < 1e-9 < float(lse(gt))  # a symmetric body has LSE 0
    assert [(p, c) for (p, c), _ in sk.symmetric_bones] == [
        (0, 4),
        (4, 5),
        (5, 6),
        (8, 11),
        (11, 12),
        (12, 13),
    ]


def test_depth_order_matches_loops(rng):
    gt = make_sequence(rng, (2,), 12)
    pred = make_prediction(rng, gt, scale=0.05)
    c, d = depth_order_accuracy(pred, gt, reduction="counts")
    for b in range(2):
        for t in range(12):
            assert (c[b, t], d[b, t]) == ref.depth_pairs_spatial(
                pred[b, t].tolist(), gt[b, t].tolist(), 0.05
            )
    ct, dt = depth_order_accuracy(
        pred, gt, mode="temporal", window=4, tolerance=0.01, reduction="counts"
    )
    for b in range(2):
        want = ref.depth_pairs_temporal(pred[b].tolist(), gt[b].tolist(), 0.01, 4)
        assert (int(ct[b].sum()), int(dt[b].sum())) == want
    assert float(depth_order_accuracy(pred, gt)) == pytest.approx(c.sum() / d.sum())
    assert float(depth_order_accuracy(gt.copy(), gt)) == 1.0
    flipped = gt * np.array([1.0, 1.0, -1.0])  # every depth order reversed
    assert float(depth_order_accuracy(flipped, gt)) == 0.0
    assert np.isnan(depth_order_accuracy(gt, gt, tolerance=100.0))


def test_depth_order_bad_input(poses):
    gt, pred = poses
    with pytest.raises(ValueError, match="mode"):
        depth_order_accuracy(pred, gt, mode="both")
    with pytest.raises(ValueError, match="window"):
        depth_order_accuracy(pred, gt, mode="temporal", window=1)
    with pytest.raises(ValueError, match="tolerance"):
        depth_order_accuracy(pred, gt, tolerance=-1)


def test_background_attention_matches_loop(rng):
    A = rng.random((2, 3, 8, 6))
    K = rng.random((2, 3, 2)) * [48, 64]
    out = background_attention_ratio(A, K, radius=12.0, image_size=(64, 48))
    for b in range(2):
        want = ref.background_ratio(A[b].tolist(), K[b].tolist(), 12.0, 48 / 6, 64 / 8)
        np.testing.assert_allclose(out.per_keypoint[b], want, atol=1e-12)
    np.testing.assert_allclose(out.mean, out.per_keypoint.mean(-1))
    same_res = background_attention_ratio(A[0], K[0] / 8, radius=1.5)  # map at image resolution
    np.testing.assert_allclose(
        same_res.per_keypoint, ref.background_ratio(A[0].tolist(), (K[0] / 8).tolist(), 1.5)
    )
    on_kp = np.zeros((1, 4, 4))
    on_kp[0, 2, 1] = 1.0  # all mass at the keypoint's own cell
    assert background_attention_ratio(on_kp, np.array([[1.0, 2.0]])).per_keypoint[0] == 0.0
    At = torch.tensor(A[:1, :2, :4, :3], requires_grad=True)
    Kt = torch.tensor(K[:1, :2]) / 2
    assert torch.autograd.gradcheck(
        lambda a: background_attention_ratio(a, Kt, radius=12.0, image_size=(32, 24)).mean, (At,)
    )


def test_background_attention_bad_input(rng):
    A = rng.random((3, 8, 6))
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 2\)"):
        background_attention_ratio(A, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="no mass"):
        background_attention_ratio(np.zeros_like(A), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        background_attention_ratio(-A, np.zeros((3, 2)))


def test_structure_gradcheck(rng):
    gt = torch.tensor(make_poses(rng, (2,)))
    pred = torch.tensor(make_prediction(rng, gt.numpy()), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: bsle(p, gt), (pred,))
    assert torch.autograd.gradcheck(lambda p: lse(p), (pred,))
