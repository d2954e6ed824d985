"""DG-CNN's similarity loss 1 - PSIM+ and Lifting-Net's eq. 12 against direct loops of the
PSIM+ equations (seed 000 eqs. 1-5), zero on perfect predictions, gradients, sign, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseviz import losses as L
from tests.losses import loops


def _pair(rng, shape, noise=0.03):
    g = rng.normal(scale=0.25, size=(*shape, 17, 3))
    return g + rng.normal(scale=noise, size=g.shape), g


@pytest.mark.parametrize("weights", [(0.6, 0.15, 0.25), (1.0, 0.0, 0.0), (0.2, 0.5, 0.3)])
def test_spatial_matches_loop(rng, weights):
    p, g = _pair(rng, (2, 3))
    got = L.psim_similarity_loss(
        torch.from_numpy(p), torch.from_numpy(g), weights=weights, reduction="none"
    )
    assert got.shape == (2, 3)
    for b in range(2):
        for t in range(3):
            expected = 1 - loops.psim_plus_frame(g[b, t], p[b, t], weights)
            assert got[b, t].item() == pytest.approx(expected, rel=1e-10, abs=1e-14)


def test_temporal_matches_loop(rng):
    p, g = _pair(rng, (2, 7))
    got = L.psim_similarity_loss(
        torch.from_numpy(p), torch.from_numpy(g), temporal=True, window=5, reduction="none"
    )
    assert got.shape == (2,)
    for b in range(2):
        expected = 1 - loops.psim_plus_sequence(g[b], p[b], window=5)
        assert got[b].item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("temporal", [False, True])
def test_zero_on_perfect_prediction(rng, temporal):
    _, g = _pair(rng, (2, 5))
    pred = torch.tensor(g, requires_grad=True)
    loss = L.psim_similarity_loss(pred, torch.from_numpy(g), temporal=temporal)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(pred.grad).all()


@pytest.mark.parametrize("temporal", [False, True])
def test_gradcheck_and_sign(rng, temporal):
    p, g = _pair(rng, (1, 5), noise=0.05)
    target = torch.from_numpy(g)
    pred = torch.tensor(p, requires_grad=True)
    kw = {"temporal": temporal, "window": 3 if temporal else None}
    assert torch.autograd.gradcheck(lambda x: L.psim_similarity_loss(x, target, **kw), (pred,))
    before = L.psim_similarity_loss(pred, target, **kw)
    assert before > 0
    closer = torch.from_numpy(g + 0.5 * (p - g))
    assert L.psim_similarity_loss(closer, target, **kw) < before


def test_lifting_net_loss_is_eq12(rng):
    p, g = _pair(rng, (2, 3))
    P, G = torch.from_numpy(p), torch.from_numpy(g)
    frames = [(b, t) for b in range(2) for t in range(3)]
    l3d = loops.limb_joint(p, g)
    lsim = sum(1 - loops.psim_plus_frame(g[f], p[f]) for f in frames) / len(frames)
    assert L.lifting_net_loss(P, G).item() == pytest.approx(0.1 * l3d + 0.9 * lsim, rel=1e-10)
    assert L.LiftingNetLoss()(P, G).item() == pytest.approx(0.1 * l3d + 0.9 * lsim, rel=1e-10)
    got = L.lifting_net_loss(P, G, w_3d=1.0, w_sim=0.0)
    assert got.item() == pytest.approx(l3d, rel=1e-10)
    assert L.lifting_net_loss(G, G).item() == 0.0
    pred = P.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda x: L.lifting_net_loss(x, G), (pred,))


def test_module_and_options(rng):
    p, g = _pair(rng, (2, 6))
    P, G = torch.from_numpy(p), torch.from_numpy(g)
    module = L.PSIMSimilarityLoss(weights=(0.5, 0.25, 0.25), temporal=True, window=3)
    expected = L.psim_similarity_loss(P, G, weights=(0.5, 0.25, 0.25), temporal=True, window=3)
    assert module(P, G).item() == pytest.approx(expected.item())
    per_joint = L.psim_similarity_loss(P, G, variant="per_joint")
    assert per_joint.item() != pytest.approx(L.psim_similarity_loss(P, G).item())


def test_bad_inputs(rng):
    p, g = _pair(rng, (2,))
    P, G = torch.from_numpy(p), torch.from_numpy(g)
    with pytest.raises(ValueError, match="same shape"):
        L.psim_similarity_loss(P, G[:, :16])
    bad = G.clone()
    bad[1, 4, 0] = float("nan")
    with pytest.raises(ValueError, match="target contains NaN"):
        L.psim_similarity_loss(P, bad)
    with pytest.raises(ValueError, match="weights"):
        L.psim_similarity_loss(P, G, weights=(1.0, 2.0))
    with pytest.raises(ValueError, match=r"\(\.\.\., T, J, 3\)"):
        L.psim_similarity_loss(P[0], G[0], temporal=True)
    with pytest.raises(ValueError, match="w_sim must be finite and >= 0"):
        L.lifting_net_loss(P, G, w_sim=-0.1)
    with pytest.raises(ValueError, match="skeleton 'h36m17'"):
        L.lifting_net_loss(P[:, :5], G[:, :5])
    assert np.isfinite(L.psim_similarity_loss(P.float(), G.float()).item())
