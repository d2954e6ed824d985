"""Every (pred, target) pose loss against a direct loop of its equation, zero on perfect
predictions, float64 gradcheck, the right sign, and clear errors on bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from poseviz import losses as L
from tests.losses import loops

W5 = [0.5, 1.0, 2.0, 0.0, 3.0]


@dataclass
class Case:
    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    ref: Callable[[np.ndarray, np.ndarray], float]
    shape: tuple[int, ...]

    def __repr__(self) -> str:
        return self.name


CASES = [
    Case("mpjpe", L.mpjpe_loss, loops.mpjpe, (2, 3, 5, 3)),
    Case(
        "weighted_mpjpe",
        lambda p, g: L.weighted_mpjpe_loss(p, g, W5),
        lambda p, g: loops.weighted_mpjpe(p, g, W5),
        (2, 3, 5, 3),
    ),
    Case("velocity", L.velocity_loss, loops.velocity, (2, 4, 5, 3)),
    Case("limb_joint", L.limb_joint_loss, loops.limb_joint, (2, 2, 17, 3)),
    Case("mse_pose", L.mse_pose_loss, loops.mse_pose, (2, 3, 5, 3)),
    Case("gla_global", L.global_sequence_loss, loops.gla_global, (2, 6, 5, 3)),
    Case("gla_local", L.local_pose_loss, loops.mpjpe, (3, 1, 5, 3)),
    Case(
        "repose_spatial",
        L.spatial_depth_loss,
        lambda p, g: loops.spatial_sum(p, g) / (p.shape[0] * p.shape[1] * p.shape[2] ** 2),
        (2, 3, 6, 3),
    ),
    Case(
        "repose_temporal",
        L.temporal_depth_loss,
        lambda p, g: loops.temporal_sum(p, g) / (p.shape[0] * p.shape[2] * p.shape[1] ** 2),
        (2, 7, 4, 3),
    ),
    Case(
        "repose",
        L.repose_loss,
        lambda p, g: (
            loops.mpjpe(p, g)
            + 20 * loops.spatial_sum(p, g) / (p.shape[0] * p.shape[1] * p.shape[2] ** 2)
            + 20 * loops.temporal_sum(p, g) / (p.shape[0] * p.shape[2] * p.shape[1] ** 2)
        ),
        (2, 5, 4, 3),
    ),
]


def _pair(case: Case, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    g = rng.normal(scale=0.3, size=case.shape)
    p = g + rng.normal(scale=0.1, size=case.shape)
    return p, g


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_matches_direct_loop(case, rng):
    p, g = _pair(case, rng)
    got = case.fn(torch.from_numpy(p), torch.from_numpy(g)).item()
    assert got == pytest.approx(case.ref(p, g), rel=1e-10, abs=1e-14)
    assert got > 0


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_zero_on_perfect_prediction_with_finite_gradient(case, rng):
    _, g = _pair(case, rng)
    pred = torch.tensor(g, requires_grad=True)
    loss = case.fn(pred, torch.from_numpy(g))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(pred.grad).all()


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_gradcheck_float64(case, rng):
    p, g = _pair(case, rng)
    pred = torch.tensor(p, requires_grad=True)
    target = torch.from_numpy(g)
    assert torch.autograd.gradcheck(lambda x: case.fn(x, target), (pred,))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_moving_toward_truth_lowers_the_loss(case, rng):
    p, g = _pair(case, rng)
    target = torch.from_numpy(g)
    before = case.fn(torch.from_numpy(p), target)
    closer = torch.from_numpy(g + 0.5 * (p - g))
    assert case.fn(closer, target) < before
    # and one gradient step lowers it too
    pred = torch.tensor(p, requires_grad=True)
    case.fn(pred, target).backward()
    with torch.no_grad():
        stepped = pred - 1e-3 * pred.grad / pred.grad.norm()
    assert case.fn(stepped, target) < before


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_float32_target_follows_float64_pred(case, rng):
    p, g = _pair(case, rng)
    got = case.fn(torch.from_numpy(p), torch.from_numpy(g).float())
    assert got.dtype == torch.float64


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_mismatched_shapes_raise(case, rng):
    p, g = _pair(case, rng)
    with pytest.raises(ValueError, match=r"same shape .*got pred \(.*\) and target \("):
        case.fn(torch.from_numpy(p), torch.from_numpy(g[..., :-1, :]))
    with pytest.raises(ValueError, match="same shape"):
        case.fn(torch.from_numpy(p[..., :2]), torch.from_numpy(g[..., :2]))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_nan_target_raises(case, rng):
    p, g = _pair(case, rng)
    g[(0,) * (g.ndim - 2) + (1, 2)] = np.nan
    with pytest.raises(ValueError, match=r"target contains NaN or inf \(first at index"):
        case.fn(torch.from_numpy(p), torch.from_numpy(g))


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_non_tensor_raises(case, rng):
    p, g = _pair(case, rng)
    with pytest.raises(ValueError, match="torch.Tensor"):
        case.fn(p, torch.from_numpy(g))


def test_reductions_agree(rng):
    g = rng.normal(size=(2, 3, 5, 3))
    p = g + rng.normal(scale=0.1, size=g.shape)
    p, g = torch.from_numpy(p), torch.from_numpy(g)
    for fn, shape in [
        (L.mpjpe_loss, (2, 3)),
        (L.mse_pose_loss, (2, 3)),
        (L.velocity_loss, (2, 2)),
        (L.global_sequence_loss, (2,)),
        (L.local_pose_loss, (2, 3)),
    ]:
        none = fn(p, g, reduction="none")
        assert none.shape == shape
        assert fn(p, g, reduction="mean") == pytest.approx(none.mean().item())
        assert fn(p, g, reduction="sum") == pytest.approx(none.sum().item())
    with pytest.raises(ValueError, match="reduction must be one of"):
        L.mpjpe_loss(p, g, reduction="avg")


def test_weighted_mpjpe_weights(rng):
    g = torch.from_numpy(rng.normal(size=(4, 5, 3)))
    p = g + 0.1
    assert L.weighted_mpjpe_loss(p, g, [1.0] * 5) == pytest.approx(L.mpjpe_loss(p, g).item())
    per_sample = torch.ones(4, 5)
    per_sample[0] = 0
    got = L.weighted_mpjpe_loss(p, g, per_sample, reduction="none")
    assert got[0] == 0 and got[1] == pytest.approx(L.mpjpe_loss(p[1], g[1]).item())
    with pytest.raises(ValueError, match=r"joint_weights must have shape \(J,\) = \(5,\)"):
        L.weighted_mpjpe_loss(p, g, [1.0] * 4)
    with pytest.raises(ValueError, match=">= 0"):
        L.weighted_mpjpe_loss(p, g, [1.0, -1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        L.weighted_mpjpe_loss(p, g, [1.0, float("nan"), 1.0, 1.0, 1.0])
    module = L.WeightedMPJPELoss(W5)
    assert module(p, g) == pytest.approx(L.weighted_mpjpe_loss(p, g, W5).item())
    assert "joint_weights" in dict(module.named_buffers())


def test_velocity_needs_two_frames(rng):
    x = torch.from_numpy(rng.normal(size=(2, 1, 5, 3)))
    with pytest.raises(ValueError, match="at least 2 frames"):
        L.velocity_loss(x, x)


def test_velocity_ignores_constant_offsets(rng):
    g = torch.from_numpy(rng.normal(size=(2, 4, 5, 3)))
    assert L.velocity_loss(g + 0.3, g) == pytest.approx(0.0, abs=1e-15)


def test_limb_joint_loss_skeleton_checks(rng):
    x = torch.from_numpy(rng.normal(size=(2, 5, 3)))
    with pytest.raises(ValueError, match="skeleton 'h36m17'"):
        L.limb_joint_loss(x, x)
    with pytest.raises(ValueError, match="unknown skeleton layout"):
        L.limb_joint_loss(x, x, skeleton="nope")


def test_limb_term_sees_bone_length_error(rng):
    # A pure limb-length change on the last bone (wrist moved along the forearm): the loss
    # is the joint term plus exactly the squared length change.
    g = torch.from_numpy(rng.normal(size=(17, 3)))
    p = g.clone()
    forearm = g[16] - g[15]
    p[16] = g[16] + 0.1 * forearm / forearm.norm()
    expected = 0.1**2 + 0.1**2
    assert L.limb_joint_loss(p, g).item() == pytest.approx(expected, rel=1e-12)


def test_modules_call_their_functions(rng):
    g = torch.from_numpy(rng.normal(size=(2, 4, 17, 3)))
    p = g + torch.from_numpy(rng.normal(scale=0.1, size=g.shape))
    pairs = [
        (L.MPJPELoss(), L.mpjpe_loss),
        (L.VelocityLoss(), L.velocity_loss),
        (L.LimbJointLoss(), L.limb_joint_loss),
        (L.MSEPoseLoss(), L.mse_pose_loss),
        (L.GlobalSequenceLoss(), L.global_sequence_loss),
        (L.LocalPoseLoss(), L.local_pose_loss),
        (L.SpatialDepthLoss(), L.spatial_depth_loss),
        (L.TemporalDepthLoss(), L.temporal_depth_loss),
        (L.RePOSELoss(), L.repose_loss),
    ]
    for module, fn in pairs:
        assert module(p, g).item() == pytest.approx(fn(p, g).item(), rel=1e-12), module
    assert L.MPJPELoss(reduction="none")(p, g).shape == (2, 4)
