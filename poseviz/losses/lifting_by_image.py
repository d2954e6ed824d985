"""Lifting by Image's pose loss (seed ``004_55c22f0de0f62747.txt``, "Loss Function").

Both stages of its progressive training (Stage 1 "Broad Query", Stage 2 "Focused
Exploration", which freezes Stage 1's weights) minimise the same MSE pose loss, eq. 3; the
stage data lives in `poseviz.losses.combine.lifting_by_image_stages`.
"""

from __future__ import annotations

import torch
from torch import nn

from poseviz.losses._validation import Reduction, check_pair, check_reduction, reduce

__all__ = ["MSEPoseLoss", "mse_pose_loss"]


def mse_pose_loss(
    pred: torch.Tensor, target: torch.Tensor, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Lifting by Image eq. 3: ``L = sum_{i=1..J} ||Y_i - Y_hat_i||_2^2`` per pose.

    Args:
        pred, target: ``(..., J, 3)`` root-relative joints in metres; target must be finite.
        reduction: ``"none"`` -> ``(...)`` per pose; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Square metres.
    """
    fn = "mse_pose_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn)
    return reduce((pred - target).square().sum((-1, -2)), reduction)


class MSEPoseLoss(nn.Module):
    """`mse_pose_loss` (Lifting by Image eq. 3) as a module: ``forward(pred, target)``,
    ``(..., J, 3)`` metres."""

    def __init__(self, *, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return mse_pose_loss(pred, target, reduction=self.reduction)
