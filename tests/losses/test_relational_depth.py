"""RePOSE relational depth losses: true order gives zero, one swapped pair gives exactly its
hinge, chunked == direct O(T^2) == the paper's Algorithms, gradients, and peak memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseviz.losses import (
    repose_loss,
    spatial_depth_loss,
    temporal_depth_loss,
)
from poseviz.losses.relational_depth import pairwise_depth_hinge
from tests.losses import loops
from tests.losses.measure_depth_memory import measure


def _poses(rng, shape, depth):
    """Random x, y and the given z (depth) channel."""
    x = rng.normal(size=(*shape, 3))
    x[..., 2] = depth
    return torch.from_numpy(x)


def test_true_depth_order_gives_zero(rng):
    depth = rng.normal(size=(2, 9, 17))
    target = _poses(rng, (2, 9, 17), depth)
    # any strictly increasing map of the true depths keeps every order, and x, y are free
    pred = _poses(rng, (2, 9, 17), np.exp(3 * depth) - 4.0)
    assert spatial_depth_loss(pred, target, reduction="sum").item() == 0.0
    assert temporal_depth_loss(pred, target, reduction="sum").item() == 0.0
    # ... though the prediction is far from the truth in position
    assert repose_loss(pred, target).item() > 0.1


def test_reversed_order_gives_every_pair(rng):
    depth = np.arange(5.0)
    target = _poses(rng, (1, 5), depth)
    pred = _poses(rng, (1, 5), -depth)
    # every pair i < j (d_i < d_j) is predicted the other way round: hinge -i - (-j) = j - i
    expected = sum(float(j - i) for i in range(5) for j in range(i + 1, 5))
    assert spatial_depth_loss(pred, target, reduction="sum").item() == pytest.approx(expected)


@pytest.mark.parametrize("r, s", [(3, 4), (2, 6), (0, 9)])
def test_swapping_one_pair_gives_exactly_the_hinge(rng, r, s):
    # joints at depths 0..9 (shuffled joint order); swap the predicted depths of ranks r < s
    order = rng.permutation(10)
    depth = np.empty(10)
    depth[order] = np.arange(10.0)
    target = _poses(rng, (10,), depth)
    pred_depth = depth.copy()
    i, j = order[r], order[s]
    pred_depth[i], pred_depth[j] = depth[j], depth[i]
    pred = _poses(rng, (10,), pred_depth)
    # the swapped pair contributes its hinge s - r; each joint k ranked between them is now
    # out of order with both: (s - k) + (k - r) = s - r
    expected = (s - r) + (s - r - 1) * (s - r)
    got = spatial_depth_loss(pred, target, reduction="sum").item()
    assert got == pytest.approx(expected, abs=1e-12)
    if s == r + 1:
        assert got == pytest.approx(depth[j] - depth[i])  # adjacent: exactly one hinge


def test_temporal_swap_of_two_frames(rng):
    T = 12
    depth = np.linspace(-0.5, 0.5, T)[:, None] * np.ones((1, 3))  # every joint recedes
    target = _poses(rng, (1, T, 3), depth)
    pred_depth = depth.copy()
    pred_depth[[4, 5], 1] = pred_depth[[5, 4], 1]  # joint 1: frames 4 and 5 swapped
    pred = _poses(rng, (1, T, 3), pred_depth)
    hinge = depth[5, 1] - depth[4, 1]
    per_track = temporal_depth_loss(pred, target, reduction="none")
    assert per_track.shape == (1, 3)
    np.testing.assert_allclose(per_track.numpy(), [[0.0, hinge, 0.0]], atol=1e-15)
    assert temporal_depth_loss(pred, target).item() == pytest.approx(hinge / (3 * T * T))
    assert spatial_depth_loss(pred, target, reduction="sum").item() == 0.0  # ties: no order


def test_ties_are_skipped(rng):
    target = _poses(rng, (4,), np.zeros(4))
    pred = _poses(rng, (4,), rng.normal(size=4))
    assert spatial_depth_loss(pred, target, reduction="sum").item() == 0.0


def test_one_frame_has_no_temporal_pairs(rng):
    x = _poses(rng, (2, 1, 17), rng.normal(size=(2, 1, 17)))
    y = _poses(rng, (2, 1, 17), rng.normal(size=(2, 1, 17)))
    assert temporal_depth_loss(x, y).item() == 0.0


@pytest.mark.parametrize("chunk", [1, 7, 50, 2**20])
def test_chunked_equals_direct_and_paper_algorithms(rng, chunk):
    g = torch.from_numpy(rng.normal(size=(2, 11, 6, 3)))
    p = (g + 0.3 * torch.from_numpy(rng.normal(size=g.shape))).requires_grad_()
    for fn, algorithm in [
        (spatial_depth_loss, loops.algorithm1_spatial),
        (temporal_depth_loss, loops.algorithm2_temporal),
    ]:
        chunked = fn(p, g, max_chunk_elements=chunk)
        direct = fn(p, g, implementation="direct")
        paper = algorithm(p, g)
        assert chunked.item() == pytest.approx(direct.item(), rel=1e-13)
        assert chunked.item() == pytest.approx(paper.item(), rel=1e-13)
        grads = [torch.autograd.grad(v, p)[0] for v in (chunked, direct, paper)]
        torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=1e-15)
        torch.testing.assert_close(grads[0], grads[2], rtol=0, atol=1e-15)


def test_chunked_equals_direct_at_243_frames(rng):
    g = torch.from_numpy(rng.normal(scale=0.3, size=(2, 243, 17, 3)))
    p = (g + 0.05 * torch.from_numpy(rng.normal(size=g.shape))).requires_grad_()
    chunked = temporal_depth_loss(p, g, reduction="none")
    direct = temporal_depth_loss(p, g, reduction="none", implementation="direct")
    torch.testing.assert_close(chunked, direct, rtol=1e-12, atol=0)
    assert chunked.sum() > 0
    ga = torch.autograd.grad(chunked.sum(), p)[0]
    gb = torch.autograd.grad(direct.sum(), p)[0]
    torch.testing.assert_close(ga, gb, rtol=0, atol=1e-12)
    # float32 prediction: sums accumulate in float32 over 59k pairs per joint and agree
    p32, g32 = p.detach().float(), g.float()
    assert temporal_depth_loss(p32, g32).item() == pytest.approx(
        temporal_depth_loss(p.detach(), g).item(), rel=1e-5
    )


@pytest.mark.parametrize("fn", [spatial_depth_loss, temporal_depth_loss])
def test_gradcheck_chunked_over_several_blocks(rng, fn):
    g = torch.from_numpy(rng.normal(size=(2, 6, 5, 3)))
    p = (g + 0.5 * torch.from_numpy(rng.normal(size=g.shape))).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: fn(x, g, reduction="none", max_chunk_elements=13), (p,)
    )


def test_reductions(rng):
    g = torch.from_numpy(rng.normal(size=(3, 8, 5, 3)))
    p = g + 0.4 * torch.from_numpy(rng.normal(size=g.shape))
    s_none = spatial_depth_loss(p, g, reduction="none")
    t_none = temporal_depth_loss(p, g, reduction="none")
    assert s_none.shape == (3, 8) and t_none.shape == (3, 5)
    assert spatial_depth_loss(p, g, reduction="sum").item() == pytest.approx(
        loops.spatial_sum(p.numpy(), g.numpy())
    )
    assert temporal_depth_loss(p, g, reduction="sum").item() == pytest.approx(
        loops.temporal_sum(p.numpy(), g.numpy())
    )
    assert spatial_depth_loss(p, g).item() == pytest.approx(s_none.sum().item() / (3 * 8 * 25))
    assert temporal_depth_loss(p, g).item() == pytest.approx(t_none.sum().item() / (3 * 5 * 64))


def test_repose_lambdas(rng):
    g = torch.from_numpy(rng.normal(size=(2, 6, 5, 3)))
    p = g + 0.4 * torch.from_numpy(rng.normal(size=g.shape))
    from poseviz.losses import mpjpe_loss

    assert repose_loss(p, g, lambda_s=0, lambda_t=0).item() == pytest.approx(
        mpjpe_loss(p, g).item()
    )
    expected = (
        mpjpe_loss(p, g) + 3 * spatial_depth_loss(p, g) + 5 * temporal_depth_loss(p, g)
    ).item()
    assert repose_loss(p, g, lambda_s=3, lambda_t=5).item() == pytest.approx(expected)
    with pytest.raises(ValueError, match="lambda_s must be finite and >= 0"):
        repose_loss(p, g, lambda_s=-1)


def test_bad_options(rng):
    x = torch.from_numpy(rng.normal(size=(2, 4, 5, 3)))
    with pytest.raises(ValueError, match="implementation must be 'chunked' or 'direct'"):
        temporal_depth_loss(x, x, implementation="fast")
    with pytest.raises(ValueError, match="max_chunk_elements must be >= 1"):
        spatial_depth_loss(x, x, max_chunk_elements=0)
    with pytest.raises(ValueError, match=r"\(\.\.\., T, J, 3\)"):
        temporal_depth_loss(x[0, 0], x[0, 0])


def test_kernel_on_empty_rows():
    out = pairwise_depth_hinge(torch.zeros(0, 5), torch.zeros(0, 5))
    assert out.shape == (0,)


@pytest.mark.slow
def test_peak_memory_at_16x243x17_is_linear():
    """Forward + backward of the temporal term at B x T x J = 16 x 243 x 17 (float32): the
    chunked form stays within tens of MiB, the direct O(T^2) form needs several times more.
    Numbers: ``python3 tests/losses/measure_depth_memory.py``."""
    chunked = measure("chunked", 16, 243, 17)
    direct = measure("direct", 16, 243, 17)
    print(f"\npeak MiB: chunked {chunked['peak_mib']:.1f}, direct {direct['peak_mib']:.1f}")
    assert chunked["loss"] == pytest.approx(direct["loss"], rel=1e-5)
    assert chunked["peak_mib"] < 80
    assert direct["peak_mib"] > 2 * chunked["peak_mib"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_chunked_equals_direct_and_peak_memory():
    torch.manual_seed(0)
    g = torch.randn(16, 243, 17, 3, device="cuda")
    p = (g + 0.1 * torch.randn_like(g)).requires_grad_()
    peaks = {}
    values = {}
    for impl in ("chunked", "direct"):
        p.grad = None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        loss = temporal_depth_loss(p, g, implementation=impl)
        loss.backward()
        torch.cuda.synchronize()
        peaks[impl] = (torch.cuda.max_memory_allocated() - start) / 2**20
        values[impl] = (loss.item(), p.grad.clone())
    print(f"\nCUDA peak MiB: {peaks}")
    assert values["chunked"][0] == pytest.approx(values["direct"][0], rel=1e-5)
    torch.testing.assert_close(values["chunked"][1], values["direct"][1])
    assert peaks["chunked"] < 64 < peaks["direct"]
