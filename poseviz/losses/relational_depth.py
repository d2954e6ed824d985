"""RePOSE's relational depth consistency losses (seed ``001_4d3beb832954539e.txt`` §3.3-3.5).

Depth is the camera ``z`` of root-relative camera-frame joints (channel 2 of ``(..., 3)``,
metres, OpenCV: z points away from the camera). For every ordered pair ``(a, b)`` whose true
depths satisfy ``d_a < d_b`` (ties are skipped: their order is not known), the hinge
``max(0, d_hat_a - d_hat_b)`` penalises a prediction that puts ``a`` behind ``b``:

- spatial (eq. 2): pairs of joints within each frame,
  ``L_S = sum_t sum_{d_{t,i} < d_{t,j}} max(0, d_hat_{t,i} - d_hat_{t,j})``;
- temporal (eq. 3): pairs of frames of each joint,
  ``L_T = sum_j sum_{d_{m,j} < d_{n,j}} max(0, d_hat_{m,j} - d_hat_{n,j})``;
- combined (eq. 4): ``L = L_mpjpe + lambda_S L_S + lambda_T L_T`` with lambda_S = lambda_T = 20
  (§4.2).

Normalisation: the paper's Algorithms 1-2 take ``torch.mean`` over all ordered pairs of the
``(B, T, J, J)`` (spatial) or ``(B, J, T, T)`` (temporal) grid, counting pairs that contribute
nothing; lambda = 20 was tuned for that, so ``reduction="mean"`` divides the hinge sum by
``B*T*J^2`` or ``B*J*T^2``. ``"sum"`` is the equation's literal sum over the batch and
``"none"`` returns the inner sums per frame (spatial) or per joint track (temporal).

Memory: at T = 243 the temporal term has 59,049 ordered frame pairs per joint. The direct
form (Algorithm 2) materialises several ``(B, J, T, T)`` tensors and keeps them for the
backward pass. The default ``implementation="chunked"`` is a custom autograd function that
visits the pair grid in blocks of rows in the forward pass and again in the backward pass
(the gradient of ``a`` is ``#{b: d_a < d_b, d_hat_a > d_hat_b} - #{b: d_b < d_a, d_hat_b >
d_hat_a}``), saving only its two ``(N, L)`` inputs: peak memory is one block, set by
``max_chunk_elements``, whatever T is. ``implementation="direct"`` keeps the O(T^2) autograd
form for reference and testing.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from poseviz.losses._validation import (
    Reduction,
    check_pair,
    check_reduction,
    check_weight,
    reduce,
)
from poseviz.losses.position import mpjpe_loss

__all__ = [
    "DEFAULT_MAX_CHUNK_ELEMENTS",
    "RePOSELoss",
    "SpatialDepthLoss",
    "TemporalDepthLoss",
    "pairwise_depth_hinge",
    "repose_loss",
    "spatial_depth_loss",
    "temporal_depth_loss",
]

Implementation = Literal["chunked", "direct"]

#: Elements of one ``(N, rows, L)`` block of the pair grid (2**20: 4 MiB in float32).
DEFAULT_MAX_CHUNK_ELEMENTS = 2**20


def _accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


class _ChunkedPairwiseHinge(torch.autograd.Function):
    """``out[n] = sum_{a,b: t[n,a] < t[n,b]} relu(p[n,a] - p[n,b])`` over blocks of rows."""

    @staticmethod
    def forward(ctx, pred: torch.Tensor, target: torch.Tensor, rows: int) -> torch.Tensor:
        N, L = pred.shape
        out = torch.zeros(N, dtype=_accumulate_dtype(pred.dtype), device=pred.device)
        p_b, t_b = pred[:, None, :], target[:, None, :]
        for start in range(0, L, rows):
            p_a = pred[:, start : start + rows, None]
            t_a = target[:, start : start + rows, None]
            hinge = (p_a - p_b).clamp_min_(0)  # in place: forward runs without autograd
            hinge.masked_fill_(t_a >= t_b, 0)
            out += hinge.sum((1, 2), dtype=out.dtype)
        ctx.save_for_backward(pred, target)
        ctx.rows = rows
        return out.to(pred.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: torch.Tensor):
        pred, target = ctx.saved_tensors
        rows = ctx.rows
        L = pred.shape[1]
        grad = torch.empty_like(pred)
        p_b, t_b = pred[:, None, :], target[:, None, :]
        for start in range(0, L, rows):
            p_a = pred[:, start : start + rows, None]
            t_a = target[:, start : start + rows, None]
            # +1 per pair where a is in front in truth but predicted behind (a is the
            # minuend), -1 where a is behind in truth but predicted in front (subtrahend).
            # Counted in pred's dtype: summing a bool block would first copy it to int64.
            count = ((t_a < t_b) & (p_a > p_b)).to(pred.dtype)
            count.sub_(((t_b < t_a) & (p_b > p_a)).to(pred.dtype))
            grad[:, start : start + rows] = count.sum(-1)
        return grad * grad_out[:, None], None, None


def _pairwise_hinge_direct(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Algorithm 1/2 of the paper, materialising the whole ``(N, L, L)`` grid."""
    hinge = torch.relu(pred[:, :, None] - pred[:, None, :])
    known = target[:, :, None] < target[:, None, :]
    return (hinge * known).sum((1, 2))


def pairwise_depth_hinge(
    pred_depth: torch.Tensor,
    target_depth: torch.Tensor,
    *,
    implementation: Implementation = "chunked",
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
) -> torch.Tensor:
    """The kernel of eqs. 2 and 3 for ``N`` independent rows of ``L`` depths:
    ``out[n] = sum_{a, b: target[n, a] < target[n, b]} max(0, pred[n, a] - pred[n, b])``.

    Args:
        pred_depth, target_depth: ``(N, L)`` depths in metres (no checks here; the public
            losses check their inputs).
        implementation: ``"chunked"`` (linear extra memory) or ``"direct"`` (O(L^2) autograd).
        max_chunk_elements: size of one block ``N * rows * L`` of the chunked form.

    Returns:
        ``(N,)`` hinge sums in metres.
    """
    if implementation == "direct":
        return _pairwise_hinge_direct(pred_depth, target_depth)
    if implementation != "chunked":
        raise ValueError(
            f"pairwise_depth_hinge: implementation must be 'chunked' or 'direct', got "
            f"{implementation!r}"
        )
    if int(max_chunk_elements) < 1:
        raise ValueError(
            f"pairwise_depth_hinge: max_chunk_elements must be >= 1, got {max_chunk_elements}"
        )
    N, L = pred_depth.shape
    if N == 0 or L == 0:
        return pred_depth.new_zeros(N) + 0 * pred_depth.sum()
    rows = max(1, min(L, int(max_chunk_elements) // max(1, N * L)))
    return _ChunkedPairwiseHinge.apply(pred_depth, target_depth, rows)


def _finish(sums: torch.Tensor, pairs_per_item: int, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return sums.sum() / max(1, sums.numel() * pairs_per_item)
    return reduce(sums, reduction)


def spatial_depth_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: Reduction = "mean",
    implementation: Implementation = "chunked",
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Spatial relational depth consistency, RePOSE eq. 2 (pairs of joints in each frame).

    Args:
        pred, target: ``(..., J, 3)`` root-relative camera-frame joints in metres (depth =
            channel 2); target must be finite.
        reduction: ``"mean"`` (Algorithm 1: hinge sum / (frames * J^2)), ``"sum"`` (eq. 2),
            or ``"none"`` -> ``(...)`` per-frame sums over joint pairs.
        implementation, max_chunk_elements: see `pairwise_depth_hinge`.

    Returns:
        Metres.
    """
    fn = "spatial_depth_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn)
    batch, J = pred.shape[:-2], pred.shape[-2]
    sums = pairwise_depth_hinge(
        pred[..., 2].reshape(-1, J),
        target[..., 2].reshape(-1, J),
        implementation=implementation,
        max_chunk_elements=max_chunk_elements,
    ).reshape(batch)
    return _finish(sums, J * J, reduction)


def temporal_depth_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    reduction: Reduction = "mean",
    implementation: Implementation = "chunked",
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
) -> torch.Tensor:
    """Temporal relational depth consistency, RePOSE eq. 3 (pairs of frames of each joint).

    A clip with one frame (centre-frame models) has no frame pairs and gives 0.

    Args:
        pred, target: ``(..., T, J, 3)`` root-relative camera-frame joints in metres (depth
            = channel 2); target must be finite.
        reduction: ``"mean"`` (Algorithm 2: hinge sum / (tracks * T^2)), ``"sum"`` (eq. 3),
            or ``"none"`` -> ``(..., J)`` per-joint-track sums over frame pairs.
        implementation, max_chunk_elements: see `pairwise_depth_hinge`.

    Returns:
        Metres.
    """
    fn = "temporal_depth_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn, layout="(..., T, J, 3)", min_ndim=3)
    batch, T, J = pred.shape[:-3], pred.shape[-3], pred.shape[-2]
    sums = pairwise_depth_hinge(
        pred[..., 2].transpose(-1, -2).reshape(-1, T),
        target[..., 2].transpose(-1, -2).reshape(-1, T),
        implementation=implementation,
        max_chunk_elements=max_chunk_elements,
    ).reshape(*batch, J)
    return _finish(sums, T * T, reduction)


def repose_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    lambda_s: float = 20.0,
    lambda_t: float = 20.0,
    implementation: Implementation = "chunked",
    max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
) -> torch.Tensor:
    """RePOSE's final objective, eq. 4: ``L = L_mpjpe + lambda_S L_S + lambda_T L_T`` with the
    paper's lambda_S = lambda_T = 20 (§4.2), each term in its ``"mean"`` form.

    Args:
        pred, target: ``(B, T, J, 3)`` root-relative camera-frame joints in metres.
        lambda_s, lambda_t: non-negative weights of the spatial and temporal terms.

    Returns:
        Scalar, metres.
    """
    fn = "repose_loss"
    lambda_s = check_weight(lambda_s, "lambda_s", fn)
    lambda_t = check_weight(lambda_t, "lambda_t", fn)
    check_pair(pred, target, fn, layout="(..., T, J, 3)", min_ndim=3)
    kw = {"implementation": implementation, "max_chunk_elements": max_chunk_elements}
    return (
        mpjpe_loss(pred, target)
        + lambda_s * spatial_depth_loss(pred, target, **kw)
        + lambda_t * temporal_depth_loss(pred, target, **kw)
    )


class _DepthLossModule(nn.Module):
    _fn = staticmethod(spatial_depth_loss)

    def __init__(
        self,
        *,
        reduction: Reduction = "mean",
        implementation: Implementation = "chunked",
        max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    ) -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        if implementation not in ("chunked", "direct"):
            raise ValueError(
                f"{type(self).__name__}: implementation must be 'chunked' or 'direct', got "
                f"{implementation!r}"
            )
        self.reduction = reduction
        self.implementation = implementation
        self.max_chunk_elements = int(max_chunk_elements)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._fn(
            pred,
            target,
            reduction=self.reduction,
            implementation=self.implementation,
            max_chunk_elements=self.max_chunk_elements,
        )


class SpatialDepthLoss(_DepthLossModule):
    """`spatial_depth_loss` (RePOSE eq. 2) as a module: ``forward(pred, target)``,
    ``(..., J, 3)`` metres."""

    _fn = staticmethod(spatial_depth_loss)


class TemporalDepthLoss(_DepthLossModule):
    """`temporal_depth_loss` (RePOSE eq. 3) as a module: ``forward(pred, target)``,
    ``(..., T, J, 3)`` metres."""

    _fn = staticmethod(temporal_depth_loss)


class RePOSELoss(nn.Module):
    """`repose_loss` (RePOSE eq. 4) as a module: ``forward(pred, target)``, ``(B, T, J, 3)``."""

    def __init__(
        self,
        *,
        lambda_s: float = 20.0,
        lambda_t: float = 20.0,
        implementation: Implementation = "chunked",
        max_chunk_elements: int = DEFAULT_MAX_CHUNK_ELEMENTS,
    ) -> None:
        super().__init__()
        self.lambda_s = check_weight(lambda_s, "lambda_s", "RePOSELoss")
        self.lambda_t = check_weight(lambda_t, "lambda_t", "RePOSELoss")
        self.implementation = implementation
        self.max_chunk_elements = int(max_chunk_elements)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return repose_loss(
            pred,
            target,
            lambda_s=self.lambda_s,
            lambda_t=self.lambda_t,
            implementation=self.implementation,
            max_chunk_elements=self.max_chunk_elements,
        )
