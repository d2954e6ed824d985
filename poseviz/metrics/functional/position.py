"""Position errors of 3D poses, in millimetres: MPJPE, P-MPJPE, N-MPJPE, per-joint errors,
MPJVE and acceleration error.

For poses ``X`` (prediction) and ``Y`` (ground truth), ``(..., J, 3)`` in metres:

* MPJPE (protocol 1): ``mean_j |(X_j - X_root) - (Y_j - Y_root)|`` (root-aligned; with
  ``root=None`` the absolute positions are compared);
* P-MPJPE (protocol 2): MPJPE after aligning each predicted pose to its ground truth by the
  similarity transform (rotation without reflection, uniform scale, translation) that
  minimises the squared error, `poseviz.geometry.procrustes_align` (the same solution as
  VideoPose3D's ``p_mpjpe``);
* N-MPJPE: root-aligned poses, the prediction scaled by ``s = <X, Y> / <X, X>`` per pose
  (the scale-only alignment of Rhodin et al. 2018, VideoPose3D's ``n_mpjpe``);
* MPJVE: MPJPE of the first differences over time, ``X(t+1) - X(t)`` vs ``Y(t+1) - Y(t)``
  on root-aligned ``(..., T, J, 3)`` sequences, in mm per frame (VideoPose3D's
  ``mean_velocity_error``; multiply by the frame rate for mm/s);
* acceleration error: the same on second differences ``X(t+1) - 2 X(t) + X(t-1)``, in mm
  per frame squared (Kanazawa et al. 2019).

Every function returns millimetres, torch for torch input (differentiable, on the input's
device) and numpy for numpy input, reduced by ``reduction``: ``"mean"`` (scalar over every
pose and joint), ``"joint"`` (``(J,)``, mean over poses), ``"pose"`` (``(...,)``, mean over
joints) or ``"none"`` (``(..., J)``).
"""

from __future__ import annotations

from typing import Any

import torch

from poseviz.geometry import procrustes_distances, scale_align
from poseviz.metrics.functional._common import (
    CHUNK_POSES,
    check_error_reduction,
    chunked,
    joint_distance,
    pose_pair,
    reduce_errors,
    resolve_root,
    root_relative,
    to_output,
)

__all__ = [
    "ALIGNMENTS",
    "acceleration_error",
    "joint_errors",
    "mpjpe",
    "mpjve",
    "n_mpjpe",
    "p_mpjpe",
    "per_joint_error",
]

ALIGNMENTS = ("root", "procrustes", "scale", "none")
MM = 1000.0


# The Procrustes path runs a few hundred elementwise steps on (N,) per-pose scalars (the 4x4
# eigenproblem, Newton's iterations): larger chunks spread their fixed cost per call over
# more poses (measured: 32768 poses ~10-20 % faster than 8192 on 2 CPU cores).
PROCRUSTES_CHUNK_POSES = 4 * CHUNK_POSES


def _aligned_errors(
    pred: torch.Tensor, target: torch.Tensor, alignment: str, root: int | None
) -> torch.Tensor:
    """Per-joint errors in mm of ``(N, J, 3)`` tensors after ``alignment``."""
    if alignment == "procrustes":
        return procrustes_distances(pred, target) * MM
    if alignment in ("root", "scale"):
        pred, target = root_relative(pred, root), root_relative(target, root)
        if alignment == "scale":
            pred = scale_align(pred, target)
    return joint_distance(pred, target) * MM


def _joint_errors_update(
    pred: torch.Tensor, target: torch.Tensor, alignment: str, root: int | None
) -> torch.Tensor:
    """``(..., J)`` per-joint errors in mm (validated tensors in), chunked over poses."""
    J = pred.shape[-1 - 1]
    lead = pred.shape[:-2]
    out = chunked(
        lambda p, t: _aligned_errors(p, t, alignment, root),
        (pred.reshape(-1, J, 3), target.reshape(-1, J, 3)),
        PROCRUSTES_CHUNK_POSES if alignment == "procrustes" else CHUNK_POSES,
    )
    return out.reshape(*lead, J)


def _check_alignment(alignment: str, fn: str) -> None:
    if alignment not in ALIGNMENTS:
        raise ValueError(f"{fn}: alignment must be one of {ALIGNMENTS}, got {alignment!r}")


def joint_errors(pred: Any, target: Any, *, alignment: str = "root", root: int | None = 0) -> Any:
    """Per-joint position error in millimetres after an alignment.

    Args:
        pred, target: ``(..., J, 3)`` poses in metres.
        alignment: ``"root"`` (subtract joint ``root``; MPJPE), ``"procrustes"`` (per-pose
            similarity transform; P-MPJPE), ``"scale"`` (root, then least-squares scale;
            N-MPJPE) or ``"none"``.
        root: root joint index for ``"root"``/``"scale"`` (``h36m17``: 0, the pelvis).

    Returns:
        ``(..., J)`` errors in mm.
    """
    fn = "joint_errors"
    _check_alignment(alignment, fn)
    p, t, numpy_out = pose_pair(pred, target, fn)
    root = resolve_root(root, p.shape[-2], fn)
    if alignment == "scale" and root is None:
        raise ValueError(f"{fn}: alignment='scale' needs a root joint (root=None given)")
    return to_output(_joint_errors_update(p, t, alignment, root), numpy_out)


def _reduced(fn: str, pred: Any, target: Any, alignment: str, root: int | None, reduction: str):
    check_error_reduction(reduction, fn)
    p, t, numpy_out = pose_pair(pred, target, fn)
    root = resolve_root(root, p.shape[-2], fn)
    errors = _joint_errors_update(p, t, alignment, root)
    return to_output(reduce_errors(errors, reduction), numpy_out)


def mpjpe(pred: Any, target: Any, *, root: int | None = 0, reduction: str = "mean") -> Any:
    """Mean per-joint position error (protocol 1) in millimetres.

    ``mean |(pred_j - pred_root) - (target_j - target_root)|`` over joints and poses.

    Args:
        pred, target: ``(..., J, 3)`` in metres.
        root: joint subtracted from every pose (``None``: compare absolute positions).
        reduction: ``"mean"`` (scalar), ``"joint"`` (``(J,)``), ``"pose"`` (``(...,)``) or
            ``"none"`` (``(..., J)``).

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((2, 17, 3)); pred = gt + [0.0, 0.0, 0.01]; pred[:, 0] = 0
        >>> float(mpjpe(pred, gt))  # 16 of 17 joints off by 10 mm
        9.411764705882353
    """
    return _reduced("mpjpe", pred, target, "root" if root is not None else "none", root, reduction)


def p_mpjpe(pred: Any, target: Any, *, reduction: str = "mean") -> Any:
    """Procrustes-aligned MPJPE (protocol 2) in millimetres: each predicted ``(J, 3)`` pose
    is aligned to its target by the best similarity transform (rotation, uniform scale,
    translation; `poseviz.geometry.procrustes_align`) before the per-joint distances are
    averaged. Shapes and ``reduction`` as `mpjpe`."""
    return _reduced("p_mpjpe", pred, target, "procrustes", None, reduction)


def n_mpjpe(pred: Any, target: Any, *, root: int = 0, reduction: str = "mean") -> Any:
    """Scale-normalised MPJPE in millimetres: root-aligned poses, each prediction scaled by
    ``<pred, target> / <pred, pred>`` (sums over joints and coordinates) before MPJPE
    (VideoPose3D's ``n_mpjpe``). Shapes and ``reduction`` as `mpjpe`."""
    if root is None:
        raise ValueError("n_mpjpe: needs a root joint (root=None given)")
    return _reduced("n_mpjpe", pred, target, "scale", root, reduction)


def per_joint_error(
    pred: Any, target: Any, *, alignment: str = "root", root: int | None = 0
) -> Any:
    """``(J,)`` mean error of each joint over all poses, in mm, after ``alignment`` (see
    `joint_errors`): the per-joint table of a protocol."""
    _check_alignment(alignment, "per_joint_error")
    return _reduced("per_joint_error", pred, target, alignment, root, "joint")


def _difference_errors(
    pred: torch.Tensor, target: torch.Tensor, order: int, root: int | None
) -> torch.Tensor:
    """``(..., T - order, J)`` errors in mm of the ``order``-th time differences."""
    p, t = root_relative(pred, root), root_relative(target, root)
    for _ in range(order):
        p = p[..., 1:, :, :] - p[..., :-1, :, :]
        t = t[..., 1:, :, :] - t[..., :-1, :, :]
    return joint_distance(p, t) * MM


def _temporal(fn: str, pred: Any, target: Any, order: int, root: int | None, reduction: str):
    check_error_reduction(reduction, fn)
    p, t, numpy_out = pose_pair(pred, target, fn, min_frames_axis=-3, min_frames=order + 1)
    root = resolve_root(root, p.shape[-2], fn)
    return to_output(reduce_errors(_difference_errors(p, t, order, root), reduction), numpy_out)


def mpjve(pred: Any, target: Any, *, root: int | None = 0, reduction: str = "mean") -> Any:
    """Mean per-joint velocity error in mm per frame.

    ``mean |dX_j(t) - dY_j(t)|`` with ``dX(t) = X(t+1) - X(t)`` on root-aligned sequences.

    Args:
        pred, target: ``(..., T, J, 3)`` sequences in metres, ``T >= 2``.
        root: joint subtracted per frame (``None``: absolute trajectories).
        reduction: as `mpjpe`; ``"none"`` gives ``(..., T - 1, J)``.
    """
    return _temporal("mpjve", pred, target, 1, root, reduction)


def acceleration_error(
    pred: Any, target: Any, *, root: int | None = 0, reduction: str = "mean"
) -> Any:
    """Mean per-joint acceleration error in mm per frame squared, on second differences
    ``X(t+1) - 2 X(t) + X(t-1)`` of root-aligned ``(..., T, J, 3)`` sequences (``T >= 3``).
    ``reduction`` as `mpjpe`; ``"none"`` gives ``(..., T - 2, J)``."""
    return _temporal("acceleration_error", pred, target, 2, root, reduction)
