"""DG-CNN Feature-Net losses: integral 2D (eq. 6), focal occlusion (eq. 7), weighted sum (eq. 8)
against direct loops, zero/near-zero on perfect predictions, gradients, sign, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseviz import losses as L
from tests.losses import loops


def _heatmaps_at(centres: np.ndarray, H: int, W: int, sharpness: float) -> np.ndarray:
    """Logit heatmaps ``-sharpness * squared distance`` to each ``(x, y)`` centre."""
    ys, xs = np.mgrid[0:H, 0:W]
    cx, cy = centres[..., 0, None, None], centres[..., 1, None, None]
    return -sharpness * ((xs - cx) ** 2 + (ys - cy) ** 2)


# ---------------------------------------------------------------- integral 2D (eq. 6)


def test_integral_2d_matches_loop(rng):
    h = rng.normal(size=(2, 3, 6, 5))
    target = rng.uniform(0, 4, size=(2, 3, 2))
    got = L.integral_2d_loss(torch.from_numpy(h), torch.from_numpy(target), beta=1.3)
    assert got.item() == pytest.approx(loops.integral_2d(h, target, beta=1.3), rel=1e-12)


def test_integral_2d_zero_on_perfect_heatmaps(rng):
    target = rng.integers(0, 8, size=(2, 4, 2)).astype(float)
    h = np.zeros((2, 4, 8, 8))
    for b in range(2):
        for k in range(4):
            h[b, k, int(target[b, k, 1]), int(target[b, k, 0])] = 1e4
    pred = torch.tensor(h, requires_grad=True)
    loss = L.integral_2d_loss(pred, torch.from_numpy(target))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_integral_2d_gradcheck(rng):
    h = torch.tensor(rng.normal(size=(2, 3, 4, 5)), requires_grad=True)
    target = torch.from_numpy(rng.uniform(0, 4, size=(2, 3, 2)))
    assert torch.autograd.gradcheck(lambda x: L.integral_2d_loss(x, target), (h,))


def test_integral_2d_sign(rng):
    target = rng.uniform(20, 44, size=(3, 5, 2))
    centres = target + rng.normal(scale=6, size=target.shape)
    t = torch.from_numpy(target)
    far = L.integral_2d_loss(torch.from_numpy(_heatmaps_at(centres, 64, 64, 0.05)), t)
    closer = (centres + target) / 2
    near = L.integral_2d_loss(torch.from_numpy(_heatmaps_at(closer, 64, 64, 0.05)), t)
    assert near < far
    # a well-peaked heatmap's soft-argmax is its centre: the loss is the pixel distance
    expected = np.linalg.norm(centres - target, axis=-1).sum(-1).mean()
    assert far.item() == pytest.approx(expected, rel=1e-4)  # edges truncate the tails


def test_integral_2d_bad_inputs(rng):
    h = torch.zeros(2, 3, 8, 8)
    with pytest.raises(
        ValueError, match=r"heatmaps \(\.\.\., K, H, W\) and target \(\.\.\., K, 2\)"
    ):
        L.integral_2d_loss(h, torch.zeros(2, 4, 2))
    with pytest.raises(ValueError, match=r"target \(\.\.\., K, 2\)"):
        L.integral_2d_loss(h, torch.zeros(2, 3, 3))
    bad = torch.zeros(2, 3, 2)
    bad[1, 2, 0] = float("nan")
    with pytest.raises(
        ValueError, match=r"target contains NaN or inf \(first at index \(1, 2, 0\)\)"
    ):
        L.integral_2d_loss(h, bad)
    module = L.Integral2DLoss(beta=2.0, reduction="none")
    assert module(h, torch.zeros(2, 3, 2)).shape == (2,)


# ------------------------------------------------------------ focal occlusion (eq. 7)


def test_focal_matches_loop(rng):
    logits = rng.normal(scale=2, size=(3, 17))
    labels = (rng.random(size=(3, 17)) < 0.3).astype(float)
    got = L.focal_occlusion_loss(torch.from_numpy(logits), torch.from_numpy(labels))
    assert got.item() == pytest.approx(loops.focal(logits, labels), rel=1e-12)
    got = L.focal_occlusion_loss(
        torch.from_numpy(logits), torch.from_numpy(labels), alpha=0.5, gamma=1.5
    )
    assert got.item() == pytest.approx(loops.focal(logits, labels, 0.5, 1.5), rel=1e-12)


def test_focal_gamma_zero_is_binary_cross_entropy(rng):
    logits = torch.from_numpy(rng.normal(size=(4, 6)))
    labels = torch.from_numpy((rng.random(size=(4, 6)) < 0.5).astype(float))
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="sum")
    got = L.focal_occlusion_loss(logits, labels, gamma=0.0, reduction="sum")
    assert got.item() == pytest.approx(bce.item(), rel=1e-12)


def test_focal_near_zero_on_confident_correct_logits_and_stable_for_extremes():
    labels = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    logits = (labels * 2 - 1) * 50  # +50 where occluded, -50 where visible
    assert L.focal_occlusion_loss(logits, labels).item() < 1e-40
    # confidently wrong logits of any size stay finite (no log(0)), and so do gradients
    wrong = (-(labels * 2 - 1) * 1e4).requires_grad_()
    loss = L.focal_occlusion_loss(wrong, labels)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(4e4)
    loss.backward()
    assert torch.isfinite(wrong.grad).all()
    # float32 too
    loss32 = L.focal_occlusion_loss((-(labels * 2 - 1) * 200).float(), labels.float())
    assert torch.isfinite(loss32)


def test_focal_gradcheck_and_sign(rng):
    logits = torch.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    labels = torch.from_numpy((rng.random(size=(3, 5)) < 0.4).astype(float))
    assert torch.autograd.gradcheck(lambda x: L.focal_occlusion_loss(x, labels), (logits,))
    before = L.focal_occlusion_loss(logits, labels)
    toward = logits + 0.5 * (labels * 2 - 1)  # raise occluded logits, lower visible ones
    assert L.focal_occlusion_loss(toward, labels) < before


def test_focal_focuses_on_hard_examples():
    # easy example (p_t = 0.9) is down-weighted far more than a hard one (p_t = 0.1)
    labels = torch.ones(1, 1, dtype=torch.float64)
    easy = torch.logit(torch.tensor([[0.9]], dtype=torch.float64))
    hard = torch.logit(torch.tensor([[0.1]], dtype=torch.float64))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    ratio_easy = L.focal_occlusion_loss(easy, labels) / bce(easy, labels)
    ratio_hard = L.focal_occlusion_loss(hard, labels) / bce(hard, labels)
    assert ratio_easy.item() == pytest.approx(0.1**2)
    assert ratio_hard.item() == pytest.approx(0.9**2)


def test_focal_bad_inputs():
    x = torch.zeros(2, 17)
    with pytest.raises(ValueError, match=r"same shape \(\.\.\., K\)"):
        L.focal_occlusion_loss(x, torch.zeros(2, 16))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.focal_occlusion_loss(x, torch.full((2, 17), 2.0))
    bad = torch.zeros(2, 17)
    bad[0, 3] = float("nan")
    with pytest.raises(ValueError, match="target contains NaN"):
        L.focal_occlusion_loss(x, bad)
    with pytest.raises(ValueError, match="gamma must be finite and >= 0"):
        L.focal_occlusion_loss(x, torch.zeros(2, 17), gamma=-1)
    assert L.FocalOcclusionLoss(reduction="none")(x, torch.zeros(2, 17)).shape == (2,)


# ------------------------------------------------------------- Feature-Net sum (eq. 8)


def test_feature_net_loss_matches_loops(rng):
    h = rng.normal(size=(2, 3, 6, 5))
    target = rng.uniform(0, 4, size=(2, 3, 2))
    logits = rng.normal(size=(2, 3))
    labels = (rng.random(size=(2, 3)) < 0.5).astype(float)
    expected = 0.999 * loops.integral_2d(h, target) + 0.001 * loops.focal(logits, labels)
    args = [torch.from_numpy(a) for a in (h, logits, target, labels)]
    assert L.feature_net_loss(*args).item() == pytest.approx(expected, rel=1e-12)
    assert L.FeatureNetLoss()(*args).item() == pytest.approx(expected, rel=1e-12)
    got = L.feature_net_loss(*args, w_2d=0.5, w_oc=2.0).item()
    assert got == pytest.approx(
        0.5 * loops.integral_2d(h, target) + 2.0 * loops.focal(logits, labels), rel=1e-12
    )
    with pytest.raises(ValueError, match="w_oc must be finite and >= 0"):
        L.feature_net_loss(*args, w_oc=float("nan"))


def test_feature_net_loss_gradcheck(rng):
    h = torch.tensor(rng.normal(size=(2, 3, 4, 4)), requires_grad=True)
    logits = torch.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    target = torch.from_numpy(rng.uniform(0, 3, size=(2, 3, 2)))
    labels = torch.from_numpy((rng.random(size=(2, 3)) < 0.5).astype(float))
    assert torch.autograd.gradcheck(
        lambda a, b: L.feature_net_loss(a, b, target, labels), (h, logits)
    )
