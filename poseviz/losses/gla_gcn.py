"""GLA-GCN's losses (seed ``003_3159e13fdb6a9cb6.txt`` §3.1-3.2).

- `global_sequence_loss`, eq. 4: the reconstructed intermediate 3D pose *sequence* against
  the ground-truth sequence, ``1/T 1/N sum_t sum_i ||p_ddot_{t,i} - p_{t,i}||_2``;
- `local_pose_loss`, eq. 8: the individually-connected layer's centre-frame pose,
  ``1/N sum_i ||p_bar_i - p_i||_2``.

Training runs in two stages (§3.2): first ``L_global + L_local``, then ``L_local`` alone. The
schedule is data, `poseviz.losses.combine.gla_gcn_stages`.
"""

from __future__ import annotations

import torch
from torch import nn

from poseviz.losses._validation import Reduction, check_pair, check_reduction, reduce
from poseviz.losses.position import joint_errors

__all__ = ["GlobalSequenceLoss", "LocalPoseLoss", "global_sequence_loss", "local_pose_loss"]


def global_sequence_loss(
    pred: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """GLA-GCN eq. 4: ``L_global = 1/T 1/N sum_{t,i} ||p_ddot_{t,i} - p_{t,i}||_2`` per sequence.

    Args:
        pred: ``(..., T, N, 3)`` reconstructed 3D pose sequence (e.g. ``(B, 243, 17, 3)``),
            metres; target: the same shape, finite.
        reduction: ``"none"`` -> ``(...)`` per sequence; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Metres.
    """
    fn = "global_sequence_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn, layout="(..., T, N, 3)", min_ndim=3)
    return reduce(joint_errors(pred, target).mean((-1, -2)), reduction)


def local_pose_loss(
    pred: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """GLA-GCN eq. 8: ``L_local = 1/N sum_i ||p_bar_i - p_i||_2`` per pose.

    Args:
        pred, target: ``(..., N, 3)`` centre-frame poses in metres, e.g. ``(B, 1, 17, 3)``;
            target must be finite.
        reduction: ``"none"`` -> ``(...)`` per pose; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Metres.
    """
    fn = "local_pose_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn, layout="(..., N, 3)")
    return reduce(joint_errors(pred, target).mean(-1), reduction)


class GlobalSequenceLoss(nn.Module):
    """`global_sequence_loss` (GLA-GCN eq. 4) as a module: ``forward(pred, target)``,
    ``(..., T, N, 3)`` metres."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return global_sequence_loss(pred, target, reduction=self.reduction)


class LocalPoseLoss(nn.Module):
    """`local_pose_loss` (GLA-GCN eq. 8) as a module: ``forward(pred, target)``,
    ``(..., N, 3)`` metres."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return local_pose_loss(pred, target, reduction=self.reduction)
