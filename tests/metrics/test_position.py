"""MPJPE family against plain loops and a scipy orthogonal-Procrustes loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes

from poseviz.metrics.functional import (
    acceleration_error,
    joint_errors,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    per_joint_error,
)
from tests.metrics import _reference as ref
from tests.metrics.conftest import make_poses, make_prediction, make_sequence


def test_mpjpe_and_n_mpjpe_match_loops(poses):
    gt, pred = poses
    got = mpjpe(pred, gt, reduction="pose")
    got_n = n_mpjpe(pred, gt, reduction="pose")
    for b in range(3):
        for f in range(7):
            P, G = pred[b, f].tolist(), gt[b, f].tolist()
            assert got[b, f] == pytest.approx(1000 * ref.mpjpe_pose(P, G), abs=1e-9)
            assert got_n[b, f] == pytest.approx(1000 * ref.n_mpjpe_pose(P, G), abs=1e-9)
    assert float(mpjpe(pred, gt)) == pytest.approx(got.mean(), abs=1e-9)


def test_p_mpjpe_matches_scipy_procrustes_loop(rng):
    gt = make_poses(rng, (40,))
    pred = make_prediction(rng, gt, scale=0.03) * 1.1 + 0.2  # scaled and shifted
    got = p_mpjpe(pred, gt, reduction="none")
    checked = 0
    for b in range(40):
        X0, Y0 = gt[b] - gt[b].mean(0), pred[b] - pred[b].mean(0)
        R, s = orthogonal_procrustes(Y0, X0)
        if np.linalg.det(R) < 0:
            continue  # scipy may reflect; P-MPJPE excludes reflections
        aligned = s / (Y0**2).sum() * Y0 @ R + gt[b].mean(0)
        np.testing.assert_allclose(
            got[b], 1000 * np.linalg.norm(aligned - gt[b], axis=-1), atol=1e-8
        )
        checked += 1
    assert checked >= 38
    assert float(p_mpjpe(pred, gt)) < float(mpjpe(pred, gt))


def test_velocity_and_acceleration_match_loops(rng):
    gt = make_sequence(rng, (2,), 9)
    pred = make_prediction(rng, gt, scale=0.01)
    for fn, order in ((mpjve, 1), (acceleration_error, 2)):
        got = fn(pred, gt, reduction="none")
        assert got.shape == (2, 9 - order, 17)
        for b in range(2):
            want = ref.velocity_errors(pred[b].tolist(), gt[b].tolist(), order)
            np.testing.assert_allclose(got[b], 1000 * np.array(want), atol=1e-9)


def test_identical_poses_give_zero_errors(rng):
    gt = make_sequence(rng, (2,), 6)
    for fn in (mpjpe, p_mpjpe, n_mpjpe, mpjve, acceleration_error):
        assert float(fn(gt.copy(), gt)) == pytest.approx(0.0, abs=1e-9)


def test_reductions_and_types(poses):
    gt, pred = poses
    none = mpjpe(pred, gt, reduction="none")
    assert none.shape == (3, 7, 17)
    np.testing.assert_allclose(mpjpe(pred, gt, reduction="joint"), none.reshape(-1, 17).mean(0))
    np.testing.assert_allclose(per_joint_error(pred, gt), none.reshape(-1, 17).mean(0))
    np.testing.assert_allclose(
        joint_errors(pred, gt, alignment="procrustes"), p_mpjpe(pred, gt, reduction="none")
    )
    t = mpjpe(torch.tensor(pred, dtype=torch.float32), torch.tensor(gt, dtype=torch.float32))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert float(t) == pytest.approx(float(mpjpe(pred, gt)), rel=1e-5)
    absolute = 1000 * np.linalg.norm(pred - gt, axis=-1).mean()  # root=None: no alignment
    assert float(mpjpe(pred, gt, root=None)) == pytest.approx(absolute, abs=1e-9)


def test_chunked_large_batch_matches_small(rng):
    gt = make_poses(rng, (9000,))
    pred = make_prediction(rng, gt)
    whole = p_mpjpe(pred, gt, reduction="pose")
    np.testing.assert_allclose(
        whole[8190:8200], p_mpjpe(pred[8190:8200], gt[8190:8200], reduction="pose")
    )


def test_gradcheck(rng):
    gt = torch.tensor(make_poses(rng, (2,)))
    pred = torch.tensor(make_prediction(rng, gt.numpy()), requires_grad=True)
    for fn in (mpjpe, p_mpjpe, n_mpjpe):
        assert torch.autograd.gradcheck(lambda p, fn=fn: fn(p, gt), (pred,))
    seq = torch.tensor(make_sequence(rng, (1,), 5))
    pseq = torch.tensor(make_prediction(rng, seq.numpy(), 0.01), requires_grad=True)
    for fn in (mpjve, acceleration_error):
        assert torch.autograd.gradcheck(lambda p, fn=fn: fn(p, seq), (pseq,))


def test_bad_input(poses):
    gt, pred = poses
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(pred, gt[:, :2])
    with pytest.raises(ValueError, match="empty"):
        p_mpjpe(pred[:0], gt[:0])
    bad = pred.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mpjpe(bad, gt)
    with pytest.raises(ValueError, match="at least 2 frames"):
        mpjve(pred[:, :1], gt[:, :1])
    with pytest.raises(ValueError, match="at least 3 frames"):
        acceleration_error(pred[:, :2], gt[:, :2])
    with pytest.raises(ValueError, match="reduction"):
        mpjpe(pred, gt, reduction="sum")
    with pytest.raises(ValueError, match="alignment"):
        joint_errors(pred, gt, alignment="rigid")
    with pytest.raises(ValueError, match="out of range"):
        mpjpe(pred, gt, root=17)
