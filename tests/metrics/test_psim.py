"""PSIM+ (seed 000 §3) against plain-Python loops written from eqs. 1-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseviz.metrics.functional import psim_plus
from poseviz.skeleton import get_skeleton
from tests.metrics import _reference as ref
from tests.metrics.conftest import make_poses, make_prediction, make_sequence


def test_body_parts_are_the_designed_five():
    sk = get_skeleton("h36m17")
    got = sorted((bp.origin, list(bp.joints)) for bp in sk.body_parts.values())
    assert got == sorted(ref.PARTS)


@pytest.mark.parametrize("variant", ["literal", "per_joint"])
def test_spatial_matches_reference_loop(poses, variant):
    gt, pred = poses
    out = psim_plus(gt, pred, variant=variant)
    assert out.score.shape == (3, 7) and out.sensitive_mask.shape == (3, 7, 17)
    for b in range(3):
        for f in range(7):
            P, S, V, A, score = ref.psim_frame(
                gt[b, f].tolist(), pred[b, f].tolist(), variant=variant
            )
            assert out.positional[b, f] == pytest.approx(P, abs=1e-12)
            assert out.structural[b, f] == pytest.approx(S, abs=1e-12)
            assert out.sensitivity[b, f] == pytest.approx(V, abs=1e-12)
            assert np.flatnonzero(out.sensitive_mask[b, f]).tolist() == A
            assert out.score[b, f] == pytest.approx(score, abs=1e-12)


def test_literal_and_per_joint_differ_and_per_joint_is_more_sensitive(poses):
    gt, pred = poses
    lit = psim_plus(gt, pred)
    pj = psim_plus(gt, pred, variant="per_joint")
    assert (pj.positional < lit.positional).mean() > 0.8


@pytest.mark.parametrize("weights", [(0.6, 0.15, 0.25), (1.0, 0.0, 0.0), (0.2, 0.5, 0.3)])
def test_weights_combine_the_components(poses, weights):
    gt, pred = poses
    out = psim_plus(gt, pred, weights=weights)
    w_p, w_s, w_v = weights
    np.testing.assert_allclose(
        out.score, w_p * out.positional + w_s * out.structural + w_v * out.sensitivity, atol=1e-14
    )
    np.testing.assert_allclose(
        out.ps_ablation, (w_p * out.positional + w_s * out.structural) / (w_p + w_s), atol=1e-14
    )


@pytest.mark.parametrize("variant", ["literal", "per_joint"])
@pytest.mark.parametrize(("frames", "window"), [(12, 9), (12, 3), (5, 9), (1, 9), (6, 1)])
def test_temporal_matches_reference_loop(rng, variant, frames, window):
    gt = make_sequence(rng, (2,), frames)
    pred = make_prediction(rng, gt, scale=0.02)
    out = psim_plus(gt, pred, temporal=True, window=window, variant=variant)
    assert out.score.shape == (2,) and out.temporal_weight.shape == (2, frames)
    assert out.window == window
    for b in range(2):
        score, wts = ref.psim_temporal(gt[b].tolist(), pred[b].tolist(), window, variant=variant)
        np.testing.assert_allclose(out.temporal_weight[b], wts, atol=1e-12)
        assert out.score[b] == pytest.approx(score, abs=1e-12)
        frame = psim_plus(gt[b], pred[b], variant=variant)
        np.testing.assert_allclose(out.frame_score[b], frame.score, atol=1e-14)
        assert out.avg_pool[b] == pytest.approx(frame.score.mean(), abs=1e-14)


def test_temporal_default_window_is_nine(rng):
    gt = make_sequence(rng, (), 20)
    pred = make_prediction(rng, gt)
    out = psim_plus(gt, pred, temporal=True)
    assert out.window == 9
    score, _ = ref.psim_temporal(gt.tolist(), pred.tolist(), 9)
    assert out.score == pytest.approx(score, abs=1e-12)


def test_temporal_weight_penalises_jitter_not_a_constant_offset(rng):
    gt = make_sequence(rng, (), 30)
    offset = gt + np.array([0.0, 0.0, 0.05])  # a rigid offset is removed by root-relativity
    jitter = gt + rng.normal(scale=0.01, size=gt.shape)
    assert np.allclose(psim_plus(gt, offset, temporal=True).temporal_weight, 1.0)
    assert (psim_plus(gt, jitter, temporal=True).temporal_weight < 0.99).all()


def test_identical_poses_score_exactly_one(rng):
    gt = make_poses(rng, (5,))
    for variant in ("literal", "per_joint"):
        out = psim_plus(gt, gt.copy(), variant=variant)
        for field in ("score", "positional", "structural", "sensitivity", "ps_ablation"):
            np.testing.assert_array_equal(getattr(out, field), 1.0)
        assert out.sensitive_mask.all()  # all errors 0 >= MPJPE 0
    seq = make_sequence(rng, (2,), 15)
    out = psim_plus(seq, seq.copy(), temporal=True)
    np.testing.assert_allclose(out.temporal_weight, 1.0, atol=1e-15)
    np.testing.assert_allclose(out.score, 1.0, atol=1e-15)


def test_invariances(poses, rng):
    gt, pred = poses
    base = psim_plus(gt, pred)
    moved = psim_plus(gt + 3.0, pred - 1.0)  # root-relative: translations do not matter
    np.testing.assert_allclose(moved.score, base.score, atol=1e-12)
    scaled = psim_plus(gt, 1.7 * pred)  # hops are divided by the part's first hop
    np.testing.assert_allclose(scaled.structural, base.structural, atol=1e-12)
    assert not np.allclose(scaled.positional, base.positional)


def test_sensitive_set_holds_the_worst_joint_and_never_the_root(poses):
    gt, pred = poses
    out = psim_plus(gt, pred)
    rel = lambda x: x - x[..., :1, :]  # noqa: E731
    err = np.linalg.norm(rel(gt) - rel(pred), axis=-1)
    worst = err.argmax(-1)
    assert np.take_along_axis(out.sensitive_mask, worst[..., None], -1).all()
    assert not out.sensitive_mask[..., 0].any()


def test_torch_in_torch_out_and_dtype_kept(poses):
    gt, pred = poses
    out = psim_plus(torch.tensor(gt, dtype=torch.float32), torch.tensor(pred, dtype=torch.float32))
    assert isinstance(out.score, torch.Tensor) and out.score.dtype == torch.float32
    assert out.sensitive_mask.dtype == torch.bool
    np.testing.assert_allclose(out.score.numpy(), psim_plus(gt, pred).score, atol=1e-5)
    assert isinstance(psim_plus(gt, pred).score, np.ndarray)


def test_large_batches_are_chunked_consistently(rng):
    gt = make_poses(rng, (20000,), noise=0.05)
    pred = make_prediction(rng, gt)
    whole = psim_plus(gt, pred)
    part = psim_plus(gt[12345:12400], pred[12345:12400])
    np.testing.assert_array_equal(whole.score[12345:12400], part.score)
    seq = gt.reshape(200, 100, 17, 3)
    whole_t = psim_plus(seq, pred.reshape(seq.shape), temporal=True)
    part_t = psim_plus(seq[150:153], pred.reshape(seq.shape)[150:153], temporal=True)
    np.testing.assert_allclose(whole_t.score[150:153], part_t.score, atol=1e-15)


@pytest.mark.parametrize("variant", ["literal", "per_joint"])
def test_gradcheck_spatial_and_temporal(rng, variant):
    gt = torch.tensor(make_poses(rng, (2,)))
    pred = torch.tensor(make_prediction(rng, gt.numpy()), requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: psim_plus(gt, p, variant=variant).score, (pred,))
    seq = torch.tensor(make_sequence(rng, (1,), 6))
    pseq = torch.tensor(make_prediction(rng, seq.numpy(), 0.02), requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p: psim_plus(seq, p, temporal=True, window=3, variant=variant).score, (pseq,)
    )


def test_loss_gradient_is_finite_at_the_optimum(rng):
    gt = torch.tensor(make_sequence(rng, (2,), 8))
    pred = gt.clone().requires_grad_(True)
    loss = 1 - psim_plus(gt, pred, temporal=True).score.mean()
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_bad_input_raises_clear_errors(poses):
    gt, pred = poses
    with pytest.raises(ValueError, match="same shape"):
        psim_plus(gt, pred[:, :3])
    with pytest.raises(ValueError, match="layout 'h36m17' has 17 joints"):
        psim_plus(gt[..., :16, :], pred[..., :16, :])
    with pytest.raises(ValueError, match="no body parts"):
        psim_plus(gt, pred, layout="coco17")
    bad = pred.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(
        ValueError, match=r"target contains NaN or inf \(first at index \(1, 2, 3, 0\)\)"
    ):
        psim_plus(gt, bad)
    with pytest.raises(ValueError, match="empty"):
        psim_plus(gt[:0], pred[:0])
    with pytest.raises(ValueError, match="odd"):
        psim_plus(gt, pred, temporal=True, window=4)
    with pytest.raises(ValueError, match="only used with temporal"):
        psim_plus(gt, pred, window=5)
    with pytest.raises(ValueError, match="three"):
        psim_plus(gt, pred, weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="variant"):
        psim_plus(gt, pred, variant="psim")
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3\)"):
        psim_plus(gt[..., :2], pred[..., :2])
