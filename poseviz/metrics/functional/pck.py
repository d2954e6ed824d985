"""3D PCK and AUC, defined as in the official MPI-INF-3DHP evaluation (MATLAB,
``mpii_compute_3d_pck.m`` with ``mpii_get_pck_auc_joint_groups.m`` of the test-set toolkit).

What the official script does, and what is matched here:

* errors are Euclidean distances in millimetres between the prediction and
  ``univ_annot3`` (the universal-skeleton ground truth) made root-relative at the pelvis
  (3DHP joint 15); here both poses are made root-relative at ``root`` (``h36m17``: 0);
* 14 joints enter PCK/AUC, grouped Head (3DHP 1, head top), Neck (2), Shou (3, 6),
  Elbow (4, 7), Wrist (5, 8), Hip (9, 12), Knee (10, 13), Ankle (11, 14). Pelvis (15),
  spine (16) and head (17, the nose-level head joint) are left out. In ``h36m17`` (through
  `poseviz.skeleton`'s 3DHP map: 3DHP head top = h36m ``head``, neck = ``thorax``, head =
  ``neck_nose``) the 14 are ``head`` 10, ``thorax`` 8, shoulders 14/11, elbows 15/12,
  wrists 16/13, hips 1/4, knees 2/5, ankles 3/6 (`MPI_INF_3DHP_PCK_JOINTS`);
* a joint is correct when its error is *strictly* below the threshold (``error < t``);
* PCK = 100 * (correct joints) / (14 * frames) at 150 mm; the "Total" column is the
  joint-count-weighted mean of the groups, i.e. pooled over all 14 joints;
* AUC = 100 * the mean of the PCK curve (fractions) over the 31 thresholds
  ``0, 5, ..., 150`` mm, the zero threshold included (where nothing is correct);
* per-activity tables pool the frames of each activity over all test sequences (plus an
  "All" row pooled over every frame); per-sequence tables pool each sequence. Scenes group
  the sequences: ``GS`` (green screen, TS1-TS2), ``noGS`` (TS3-TS4), ``Outdoor`` (TS5-TS6)
  (`MPI_INF_3DHP_SCENES`); the accumulating metric classes report these breakdowns.

Values come back in percent (torch in -> torch out, numpy in -> numpy out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from poseviz.metrics.functional._common import (
    pose_pair,
    resolve_root,
    to_output,
)
from poseviz.metrics.functional.position import _joint_errors_update

__all__ = [
    "MPI_INF_3DHP_JOINT_GROUPS",
    "MPI_INF_3DHP_PCK_JOINTS",
    "MPI_INF_3DHP_SCENES",
    "PCK_THRESHOLD",
    "PCK_THRESHOLDS",
    "auc",
    "pck",
    "pck_curve",
]

# The 14 evaluated joints in the official script's order, as h36m17 indices.
MPI_INF_3DHP_PCK_JOINTS = (10, 8, 14, 15, 16, 11, 12, 13, 1, 2, 3, 4, 5, 6)
MPI_INF_3DHP_JOINT_GROUPS = {
    "Head": (10,),
    "Neck": (8,),
    "Shou": (14, 11),
    "Elbow": (15, 12),
    "Wrist": (16, 13),
    "Hip": (1, 4),
    "Knee": (2, 5),
    "Ankle": (3, 6),
}
MPI_INF_3DHP_SCENES = {
    "TS1": "GS", "TS2": "GS", "TS3": "noGS", "TS4": "noGS", "TS5": "Outdoor", "TS6": "Outdoor",
}  # fmt: skip
PCK_THRESHOLD = 150.0
PCK_THRESHOLDS = tuple(float(t) for t in range(0, 151, 5))
PCK_REDUCTIONS = ("mean", "joint")


def _resolve_joints(joints: Any, J: int, fn: str) -> tuple[int, ...]:
    if joints is None:
        return tuple(range(J))
    if isinstance(joints, str):
        if joints != "mpi_inf_3dhp":
            raise ValueError(
                f"{fn}: joints must be 'mpi_inf_3dhp', None or indices, got {joints!r}"
            )
        if J != 17:
            raise ValueError(
                f"{fn}: joints='mpi_inf_3dhp' needs h36m17 poses (..., 17, 3), got {J} joints"
            )
        return MPI_INF_3DHP_PCK_JOINTS
    idx = tuple(int(j) for j in joints)
    if not idx or not all(0 <= j < J for j in idx):
        raise ValueError(f"{fn}: joint indices {idx} out of range for {J} joints")
    return idx


def _check_thresholds(thresholds: Any, fn: str) -> torch.Tensor:
    thr = torch.as_tensor(np.asarray(thresholds, dtype=np.float64).reshape(-1))
    if thr.numel() == 0 or not bool(torch.isfinite(thr).all()) or bool((thr.diff() <= 0).any()):
        raise ValueError(f"{fn}: thresholds must be finite and increasing (mm), got {thresholds!r}")
    return thr


def _pck_update(errors_mm: torch.Tensor, thresholds: torch.Tensor) -> torch.Tensor:
    """``(N, J)`` errors in mm -> ``(J, K)`` int64 counts of ``error < thresholds[k]``.
    One bucketize and one bincount instead of J * K comparisons per pose."""
    N, J = errors_mm.shape
    K = thresholds.numel()
    thr = thresholds.to(errors_mm.device, errors_mm.dtype)
    # bin = number of thresholds <= error; error < thresholds[k]  <=>  k >= bin
    bins = torch.bucketize(errors_mm.detach(), thr, right=True)
    offset = torch.arange(J, device=bins.device) * (K + 1)
    counts = torch.bincount((bins + offset).reshape(-1), minlength=J * (K + 1))
    return counts.reshape(J, K + 1).cumsum(-1)[:, :K]


def _pck_compute(hits: torch.Tensor, frames: torch.Tensor | float) -> torch.Tensor:
    """PCK curve in percent from ``(..., J, K)`` hit counts over ``frames`` frames:
    ``(..., J, K)`` per joint; pool joints with ``.sum(-2)`` and ``frames * J`` first."""
    return 100.0 * hits.double() / frames


def _prepare(fn: str, pred, target, joints, root, thresholds):
    p, t, numpy_out = pose_pair(pred, target, fn)
    J = p.shape[-2]
    idx = _resolve_joints(joints, J, fn)
    root = resolve_root(root, J, fn)
    thr = _check_thresholds(thresholds, fn)
    errors = _joint_errors_update(p, t, "root" if root is not None else "none", root)
    errors = errors.reshape(-1, J)[:, list(idx)]
    return _pck_update(errors, thr), errors.shape[0], numpy_out


def _reduce(curve_hits: torch.Tensor, frames: int, reduction: str, fn: str) -> torch.Tensor:
    if reduction not in PCK_REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {PCK_REDUCTIONS}, got {reduction!r}")
    if reduction == "joint":
        return _pck_compute(curve_hits, frames)
    return _pck_compute(curve_hits.sum(0), frames * curve_hits.shape[0])


def pck_curve(
    pred: Any,
    target: Any,
    *,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
    joints: Any = "mpi_inf_3dhp",
    root: int | None = 0,
    reduction: str = "mean",
) -> Any:
    """3D PCK in percent at each threshold (mm): ``(K,)``, or ``(J_sel, K)`` per selected
    joint with ``reduction="joint"``. Poses ``(..., J, 3)`` in metres, root-aligned at
    ``root``; ``joints`` selects the evaluated joints (``"mpi_inf_3dhp"``: the official 14,
    `MPI_INF_3DHP_PCK_JOINTS`; ``None``: all; or indices)."""
    fn = "pck_curve"
    hits, frames, numpy_out = _prepare(fn, pred, target, joints, root, thresholds)
    return to_output(_reduce(hits, frames, reduction, fn), numpy_out)


def pck(
    pred: Any,
    target: Any,
    *,
    threshold: float = PCK_THRESHOLD,
    joints: Any = "mpi_inf_3dhp",
    root: int | None = 0,
    reduction: str = "mean",
) -> Any:
    """3D PCK in percent: the share of joints whose root-aligned error is strictly below
    ``threshold`` mm (150 by default), over the official 14 MPI-INF-3DHP joints.

    Args:
        pred, target: ``(..., 17, 3)`` h36m17 poses in metres (any J with other ``joints``).
        threshold: mm.
        joints: ``"mpi_inf_3dhp"`` (the 14 of the official script), ``None`` or indices.
        root: joint subtracted from both poses (``None``: no alignment).
        reduction: ``"mean"`` (scalar) or ``"joint"`` (``(J_sel,)`` in ``joints`` order).

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((1, 17, 3)); pred = gt.copy(); pred[0, 10, 0] = 0.2  # head off 200 mm
        >>> round(float(pck(pred, gt)), 3)  # 13 of 14 joints within 150 mm
        92.857
    """
    fn = "pck"
    try:
        thr = [float(threshold)]
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: threshold must be a number of mm, got {threshold!r}") from None
    hits, frames, numpy_out = _prepare(fn, pred, target, joints, root, thr)
    return to_output(_reduce(hits, frames, reduction, fn)[..., 0], numpy_out)


def auc(
    pred: Any,
    target: Any,
    *,
    thresholds: Sequence[float] = PCK_THRESHOLDS,
    joints: Any = "mpi_inf_3dhp",
    root: int | None = 0,
    reduction: str = "mean",
) -> Any:
    """Area under the 3D PCK curve in percent: the mean of PCK over ``thresholds``
    (``0, 5, ..., 150`` mm, as the official script, whose zero threshold counts nothing as
    correct). Arguments as `pck`."""
    fn = "auc"
    hits, frames, numpy_out = _prepare(fn, pred, target, joints, root, thresholds)
    return to_output(_reduce(hits, frames, reduction, fn).mean(-1), numpy_out)
