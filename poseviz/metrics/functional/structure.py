"""Structural plausibility of 3D poses: BSLE and LSE, in millimetres.

Seed ``002_5b68cd8bf437b001`` (SCoTL-pose) names Limb Symmetry Error and Body Segment Length
Error without defining them; the definitions used here:

* BSLE (body segment length error) of a prediction ``X`` against its ground truth ``Y``:
  ``mean over bones (p, c) of | |X_c - X_p| - |Y_c - Y_p| |``, the bones being the
  skeleton's parent-child pairs (16 for ``h36m17``);
* LSE (limb symmetry error) of one pose set ``X``: ``mean over mirrored bone pairs of
  | |left bone| - |right bone| |``, the pairs being `Skeleton.symmetric_bones` (6 for
  ``h36m17``: hip, thigh, shin, shoulder, upper arm, forearm). Report the ground truth's own
  LSE beside the prediction's: real skeletons are not perfectly symmetric either.

Both are invariant to rotation and translation. ``reduction``: ``"mean"`` (scalar), ``"bone"``
(``(n_bones,)`` or ``(n_pairs,)``, mean over poses), ``"pose"`` (``(...,)``) or ``"none"``
(``(..., n)``). Torch in -> torch out (differentiable), numpy in -> numpy out.
"""

from __future__ import annotations

from typing import Any

import torch

from poseviz.metrics.functional._common import (
    as_tensor,
    check_finite,
    joint_distance,
    pose_pair,
    reduce_errors,
    resolve_layout,
    to_output,
)
from poseviz.skeleton import Skeleton

__all__ = ["bone_lengths", "bsle", "lse"]

MM = 1000.0
_REDUCTIONS = ("mean", "bone", "pose", "none")


def _check_reduction(reduction: str, fn: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return "joint" if reduction == "bone" else reduction


def _bone_lengths(x: torch.Tensor, bones: tuple[tuple[int, int], ...]) -> torch.Tensor:
    parents = [p for p, _ in bones]
    children = [c for _, c in bones]
    return joint_distance(x[..., children, :], x[..., parents, :])


def _single(poses: Any, fn: str, layout: str | Skeleton) -> tuple[torch.Tensor, Skeleton, bool]:
    numpy_out = not isinstance(poses, torch.Tensor)
    x = as_tensor(poses, "poses", fn)
    if x.ndim < 2 or x.shape[-1] != 3:
        raise ValueError(
            f"{fn}: expected poses of shape (..., J, 3) in metres, got {tuple(x.shape)}"
        )
    if x.numel() == 0:
        raise ValueError(f"{fn}: empty input of shape {tuple(x.shape)} (no poses to evaluate)")
    check_finite(x, "poses", fn)
    return x, resolve_layout(layout, x.shape[-2], fn), numpy_out


def bone_lengths(poses: Any, *, layout: str | Skeleton = "h36m17") -> Any:
    """``(..., J, 3)`` poses in metres -> ``(..., n_bones)`` bone lengths in metres, in the
    order of ``Skeleton.bones`` (one per non-root joint)."""
    x, sk, numpy_out = _single(poses, "bone_lengths", layout)
    return to_output(_bone_lengths(x, sk.bones), numpy_out)


def _bsle_update(p: torch.Tensor, t: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    return (_bone_lengths(p, sk.bones) - _bone_lengths(t, sk.bones)).abs() * MM


def _lse_update(x: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    pairs = sk.symmetric_bones
    if not pairs:
        raise ValueError(f"lse: layout {sk.name!r} has no left/right bone pairs")
    left = _bone_lengths(x, tuple(lb for lb, _ in pairs))
    right = _bone_lengths(x, tuple(rb for _, rb in pairs))
    return (left - right).abs() * MM


def bsle(
    pred: Any, target: Any, *, layout: str | Skeleton = "h36m17", reduction: str = "mean"
) -> Any:
    """Body segment length error in mm: the mean over bones of the absolute difference
    between predicted and true bone length.

    Args:
        pred, target: ``(..., J, 3)`` in metres.
        layout: joint layout whose bones are compared (``"h36m17"``: 16 bones).
        reduction: ``"mean"``, ``"bone"`` (``(n_bones,)``), ``"pose"`` or ``"none"``.

    Example:
        >>> import numpy as np
        >>> gt = np.random.default_rng(0).normal(size=(3, 17, 3))
        >>> float(bsle(1.1 * gt, gt)) > 0, round(float(bsle(gt + 5.0, gt)), 9)  # shift-invariant
        (True, 0.0)
    """
    fn = "bsle"
    red = _check_reduction(reduction, fn)
    p, t, numpy_out = pose_pair(pred, target, fn)
    sk = resolve_layout(layout, p.shape[-2], fn)
    return to_output(reduce_errors(_bsle_update(p, t, sk), red), numpy_out)


def lse(poses: Any, *, layout: str | Skeleton = "h36m17", reduction: str = "mean") -> Any:
    """Limb symmetry error in mm of one set of poses: the mean over left/right bone pairs of
    the absolute difference of their lengths (compute it for the prediction and for the
    ground truth).

    Args:
        poses: ``(..., J, 3)`` in metres.
        layout: joint layout with left/right pairs (``"h36m17"``: 6 bone pairs).
        reduction: ``"mean"``, ``"bone"`` (``(n_pairs,)``), ``"pose"`` or ``"none"``.
    """
    fn = "lse"
    red = _check_reduction(reduction, fn)
    x, sk, numpy_out = _single(poses, fn, layout)
    return to_output(reduce_errors(_lse_update(x, sk), red), numpy_out)
