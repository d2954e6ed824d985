"""Position losses on 3D joints: MPJPE, per-joint weighted MPJPE and velocity error (MPJVE).

All take root-relative camera-frame joints in metres, shaped ``(..., J, 3)`` (a batch is
``(B, T, J, 3)``), and return metres (velocity: metres per frame). ``reduction="none"``
returns the per-frame value, ``"mean"`` (default) its mean, ``"sum"`` its sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from poseviz.losses._validation import (
    Reduction,
    check_finite,
    check_pair,
    check_reduction,
    reduce,
)

__all__ = [
    "MPJPELoss",
    "VelocityLoss",
    "WeightedMPJPELoss",
    "joint_errors",
    "mpjpe_loss",
    "velocity_loss",
    "weighted_mpjpe_loss",
]


def joint_errors(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per joint, ``(..., J, C) -> (..., J)`` (no checks; internal use)."""
    return torch.linalg.vector_norm(pred - target, dim=-1)


def mpjpe_loss(
    pred: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Mean per-joint position error, the standard lifting loss (seed 001 RePOSE eq. 1;
    VideoPose3D's ``mpjpe``), averaged over joints per frame:
    ``L = 1/J * sum_i ||y_hat_i - y_i||_2``.

    RePOSE's eq. 1 writes a sum over frames and joints; implementations (VideoPose3D,
    RePOSE's released code) take the mean, which is what ``reduction="mean"`` gives.

    Args:
        pred, target: ``(..., J, 3)`` root-relative joints in metres; target must be finite.
        reduction: ``"none"`` -> ``(...)`` per-frame errors; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Metres.
    """
    fn = "mpjpe_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn)
    return reduce(joint_errors(pred, target).mean(-1), reduction)


def _joint_weights(
    weights: torch.Tensor | Sequence[float], like: torch.Tensor, fn: str
) -> torch.Tensor:
    w = torch.as_tensor(weights, dtype=like.dtype, device=like.device)
    batch_shape = like.shape[:-1]  # (..., J) of a (..., J, 3) pose
    try:
        ok = torch.broadcast_shapes(w.shape, batch_shape) == batch_shape
    except RuntimeError:
        ok = False
    if not ok or w.ndim == 0 or w.shape[-1] != batch_shape[-1]:
        raise ValueError(
            f"{fn}: joint_weights must have shape (J,) = ({batch_shape[-1]},) or broadcast to "
            f"the per-joint shape {tuple(batch_shape)}, got {tuple(w.shape)}"
        )
    check_finite(w, "joint_weights", fn)
    if bool((w < 0).any()):
        raise ValueError(f"{fn}: joint_weights must be >= 0")
    return w


def weighted_mpjpe_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    joint_weights: torch.Tensor | Sequence[float],
    *,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """MPJPE with a weight per joint (VideoPose3D's ``weighted_mpjpe``):
    ``L = 1/J * sum_i w_i ||y_hat_i - y_i||_2`` per frame.

    Args:
        pred, target: ``(..., J, 3)`` root-relative joints in metres; target must be finite.
        joint_weights: ``(J,)`` non-negative weights, or any shape broadcasting to ``(..., J)``
            (e.g. per-sample weights ``(B, T, J)``). All ones gives `mpjpe_loss`.
        reduction: ``"none"`` -> ``(...)`` per frame; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Metres (weighted).
    """
    fn = "weighted_mpjpe_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn)
    w = _joint_weights(joint_weights, pred, fn)
    return reduce((w * joint_errors(pred, target)).mean(-1), reduction)


def velocity_loss(
    pred: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Mean per-joint velocity error, MPJVE (seed 001 RePOSE §2; VideoPose3D's
    ``mean_velocity_error``) on first differences over time:
    ``L_t = 1/J * sum_i ||(y_hat_{t,i} - y_hat_{t-1,i}) - (y_{t,i} - y_{t-1,i})||_2``.

    Args:
        pred, target: ``(..., T, J, 3)`` with ``T >= 2`` frames, metres; target finite.
        reduction: ``"none"`` -> ``(..., T - 1)`` per frame pair; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Metres per frame.
    """
    fn = "velocity_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn, layout="(..., T, J, 3)", min_ndim=3)
    if pred.shape[-3] < 2:
        raise ValueError(
            f"{fn}: expected at least 2 frames in axis -3 of (..., T, J, 3), got T = "
            f"{pred.shape[-3]}"
        )
    d_pred = pred[..., 1:, :, :] - pred[..., :-1, :, :]
    d_target = target[..., 1:, :, :] - target[..., :-1, :, :]
    return reduce(joint_errors(d_pred, d_target).mean(-1), reduction)


class MPJPELoss(nn.Module):
    """`mpjpe_loss` as a module: ``forward(pred, target)`` with ``(..., J, 3)`` metres."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mpjpe_loss(pred, target, reduction=self.reduction)


class WeightedMPJPELoss(nn.Module):
    """`weighted_mpjpe_loss` with fixed per-joint weights ``(J,)`` (kept as a buffer, so
    they follow the module to its device)."""

    def __init__(
        self, joint_weights: torch.Tensor | Sequence[float], *, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        w = torch.as_tensor(joint_weights, dtype=torch.get_default_dtype())
        if w.ndim != 1:
            raise ValueError(
                f"WeightedMPJPELoss: joint_weights must have shape (J,), got {tuple(w.shape)}"
            )
        self.register_buffer("joint_weights", w)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return weighted_mpjpe_loss(pred, target, self.joint_weights, reduction=self.reduction)


class VelocityLoss(nn.Module):
    """`velocity_loss` (MPJVE) as a module: ``forward(pred, target)`` with ``(..., T, J, 3)``."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return velocity_loss(pred, target, reduction=self.reduction)
