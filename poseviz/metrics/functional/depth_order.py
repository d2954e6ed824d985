"""Depth-order accuracy: how often a prediction gets the front-to-back order right
(the relation RePOSE, seed ``001_4d3beb832954539e`` §3, supervises: ``d_i < d_j`` in the
prediction whenever it holds in the ground truth).

Depth is the camera-frame ``z`` (OpenCV: z forward, metres). A pair is *decided* when its
true depth gap exceeds ``tolerance`` (pairs closer than that have no reliable order); it is
*correct* when the predicted gap has the same sign (a predicted gap of exactly 0 is wrong).

* spatial: per frame, every joint pair ``i < j`` (136 for 17 joints) with the gap
  ``z_i - z_j``;
* temporal: per joint, every frame pair ``(t, t + k)`` with ``1 <= k < window`` (so both lie
  in one window of ``window`` frames) and the gap ``z(t + k) - z(t)`` of the root-relative
  depth (``z_j - z_root``: models predict root-relative poses; ``root=None`` uses absolute
  depth). Frame pairs are attributed to their first frame.

Accuracy = correct / decided, pooled over every pair (a fraction in [0, 1]; NaN when no pair
is decided). Default tolerance 0.05 m, window 9 frames (as PSIM+'s temporal window).
"""

from __future__ import annotations

from typing import Any

import torch

from poseviz.metrics.functional._common import pose_pair, resolve_root, to_output

__all__ = ["DEPTH_MODES", "depth_order_accuracy"]

DEPTH_MODES = ("spatial", "temporal")
DEFAULT_TOLERANCE = 0.05
DEFAULT_DEPTH_WINDOW = 9
_PAIR_CACHE: dict[tuple[int, str], tuple[torch.Tensor, torch.Tensor]] = {}


def _pairs(J: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    key = (J, str(device))
    if key not in _PAIR_CACHE:
        i, j = torch.triu_indices(J, J, 1, device=device)
        _PAIR_CACHE[key] = (i, j)
    return _PAIR_CACHE[key]


def _order_counts(dp: torch.Tensor, dt: torch.Tensor, tolerance: float):
    decided = dt.abs() > tolerance
    correct = decided & (torch.sign(dp) == torch.sign(dt))
    return correct, decided


def _spatial_update(
    pred: torch.Tensor, target: torch.Tensor, tolerance: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., J, 3)`` -> per-pose ``(correct, decided)`` pair counts, ``(...,)`` int64."""
    i, j = _pairs(pred.shape[-2], pred.device)
    zp, zt = pred[..., 2].detach(), target[..., 2].detach()
    c, d = _order_counts(zp[..., i] - zp[..., j], zt[..., i] - zt[..., j], tolerance)
    return c.sum(-1), d.sum(-1)


def _temporal_update(
    pred: torch.Tensor, target: torch.Tensor, tolerance: float, window: int, root: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., T, J, 3)`` -> per-frame ``(correct, decided)`` counts ``(..., T)`` over the
    joints and the frame pairs that start at that frame."""
    zp, zt = pred[..., 2].detach(), target[..., 2].detach()
    if root is not None:
        zp, zt = zp - zp[..., root : root + 1], zt - zt[..., root : root + 1]
    T = zp.shape[-2]
    correct = torch.zeros(zp.shape[:-1], dtype=torch.int64, device=zp.device)
    decided = torch.zeros_like(correct)
    for k in range(1, min(window, T)):
        c, d = _order_counts(
            zp[..., k:, :] - zp[..., :-k, :], zt[..., k:, :] - zt[..., :-k, :], tolerance
        )
        correct[..., : T - k] += c.sum(-1)
        decided[..., : T - k] += d.sum(-1)
    return correct, decided


def _check_args(mode: str, tolerance: float, window: int, fn: str) -> float:
    if mode not in DEPTH_MODES:
        raise ValueError(f"{fn}: mode must be one of {DEPTH_MODES}, got {mode!r}")
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: tolerance must be a number of metres, got {tolerance!r}") from None
    if not tol >= 0:
        raise ValueError(f"{fn}: tolerance must be >= 0 metres, got {tolerance!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 2:
        raise ValueError(f"{fn}: window must be an integer >= 2 frames, got {window!r}")
    return tol


def _depth_order_update(pred, target, mode, tolerance, window, root):
    if mode == "spatial":
        return _spatial_update(pred, target, tolerance)
    return _temporal_update(pred, target, tolerance, window, root)


def depth_order_accuracy(
    pred: Any,
    target: Any,
    *,
    mode: str = "spatial",
    tolerance: float = DEFAULT_TOLERANCE,
    window: int = DEFAULT_DEPTH_WINDOW,
    root: int | None = 0,
    reduction: str = "mean",
) -> Any:
    """Share of decided depth orders that the prediction gets right (module docstring).

    Args:
        pred, target: ``(..., J, 3)`` camera-frame poses in metres (z = depth); for
            ``mode="temporal"`` ``(..., T, J, 3)`` sequences.
        mode: ``"spatial"`` (joint pairs within a frame) or ``"temporal"`` (frame pairs of
            one joint within ``window`` frames).
        tolerance: pairs whose true depth gap is at most this (metres) are not scored.
        window: temporal window length in frames (pairs ``1 <= k < window`` apart).
        root: temporal only: depth is taken relative to this joint (``None``: absolute).
        reduction: ``"mean"`` (pooled fraction, scalar), ``"pose"`` (per frame ``(...,)``
            spatial or ``(..., T)`` temporal, NaN where nothing is decided) or ``"counts"``
            (the per-frame ``(correct, decided)`` int64 counts).

    Returns:
        A fraction in [0, 1] (NaN when no pair is decided), or the counts.
    """
    fn = "depth_order_accuracy"
    tol = _check_args(mode, tolerance, window, fn)
    if reduction not in ("mean", "pose", "counts"):
        raise ValueError(f"{fn}: reduction must be 'mean', 'pose' or 'counts', got {reduction!r}")
    p, t, numpy_out = pose_pair(
        pred, target, fn, min_frames_axis=-3 if mode == "temporal" else None, min_frames=2
    )
    root = resolve_root(root, p.shape[-2], fn)
    correct, decided = _depth_order_update(p, t, mode, tol, window, root)
    if reduction == "counts":
        return to_output((correct, decided), numpy_out)
    if reduction == "pose":
        out = correct.double() / decided.double()
    else:
        out = correct.sum().double() / decided.sum().double()
    return to_output(out, numpy_out)
