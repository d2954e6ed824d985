"""`EvaluationSuite`: every metric ``poseviz evaluate`` reports, from per-sequence
predictions, in one accumulating object."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from poseviz.metrics.base import GROUP_FIELDS, Metric, MetricReport
from poseviz.metrics.classes import (
    BSLE,
    LSE,
    MPJPE,
    MPJVE,
    NMPJPE,
    PCK3DHP,
    PMPJPE,
    AccelerationError,
    DepthOrderAccuracy,
    PSIMPlus,
)
from poseviz.metrics.functional._common import pose_pair
from poseviz.metrics.functional.depth_order import DEFAULT_DEPTH_WINDOW, DEFAULT_TOLERANCE
from poseviz.metrics.functional.psim import DEFAULT_WEIGHTS, DEFAULT_WINDOW

__all__ = ["EvaluationSuite"]


class EvaluationSuite:
    """All evaluation metrics of a lifting model, accumulated over sequences.

    Feed it one sequence (or a batch of equally long sequences) at a time with
    `update`; `compute` returns a `MetricReport` with:

    ============================  ===============================================  =======
    name                          definition                                       unit
    ============================  ===============================================  =======
    ``MPJPE``                     root-aligned mean per-joint error (protocol 1)   mm
    ``P-MPJPE``                   after per-frame similarity Procrustes (prot. 2)  mm
    ``N-MPJPE``                   after root + scale-only alignment                mm
    ``MPJVE``                     velocity (first-difference) error                mm/frame
    ``Accel``                     acceleration (second-difference) error           mm/frame²
    ``PCK``, ``AUC``              MPI-INF-3DHP protocol, 14 joints, 150 mm /       %
                                  0:5:150 mm (h36m17 input only; ``pck=False``
                                  to skip), plus per-joint-group columns
    ``PSIM+``, ``PSIM+ P/S/V``    spatial PSIM+ and components, frame mean         —
    ``PSIM+ (P+S)``               the P+S ablation (stands in for PSIM)            —
    ``PSIM+ temporal``            eq. 5, frames weighted by ``w_t``                —
    ``BSLE``                      mean bone-length error                           mm
    ``LSE``, ``LSE (GT)``         left/right bone-length asymmetry, prediction     mm
                                  and ground truth
    ``Depth order (spatial)``     share of joint pairs in the right depth order    fraction
    ``Depth order (temporal)``    same for each joint across frames in a window    fraction
    ============================  ===============================================  =======

    plus per-joint errors (``report.per_joint``) and every metric per metadata group
    (``report.groups[field][label]``). Tables: ``report.to_markdown()``,
    ``report.to_csv(folder)``, ``report.to_dict()``, and the seed-paper layouts
    ``report.action_table()`` (Table 2) and ``report.severity_table()`` (Table 5).

    Reduction is exact: every state is a sum, so results equal one evaluation of all
    sequences at once, and under ``torch.distributed`` (any backend; NCCL needs the current
    CUDA device set) `compute` all-reduces the states, so each rank can feed its own shard.
    Call `compute` on every rank.

    Args:
        label: the method's row label in the tables.
        layout: joint layout (``"h36m17"``).
        psim_window: temporal PSIM+ window in frames (odd; default 9).
        psim_weights: PSIM+ ``(w_p, w_s, w_v)``.
        depth_tolerance, depth_window: depth-order settings (metres, frames).
        pck: include the MPI-INF-3DHP PCK/AUC (needs h36m17 poses).
        group_by: metadata fields to break results down by (those given to `update`).

    Example:
        >>> import numpy as np
        >>> suite = EvaluationSuite(label="baseline")
        >>> gt = np.random.default_rng(0).normal(scale=0.3, size=(50, 17, 3))
        >>> suite.update(gt + 0.01, gt, action="Walk", subject="S9")
        >>> report = suite.compute()
        >>> round(report.overall["MPJPE"], 6), round(report.overall["PSIM+ temporal"], 6)
        (0.0, 1.0)
    """

    def __init__(
        self,
        *,
        label: str = "model",
        layout: str = "h36m17",
        psim_window: int = DEFAULT_WINDOW,
        psim_weights: tuple[float, float, float] = DEFAULT_WEIGHTS,
        depth_tolerance: float = DEFAULT_TOLERANCE,
        depth_window: int = DEFAULT_DEPTH_WINDOW,
        pck: bool = True,
        group_by: Iterable[str] = GROUP_FIELDS,
    ) -> None:
        kw = dict(group_by=tuple(group_by), label=label)
        self.label = label
        self.metrics: list[Metric] = [
            MPJPE(layout=layout, **kw),
            PMPJPE(layout=layout, **kw),
            NMPJPE(layout=layout, **kw),
            MPJVE(layout=layout, **kw),
            AccelerationError(layout=layout, **kw),
            PSIMPlus(temporal=True, window=psim_window, weights=psim_weights, layout=layout, **kw),
            BSLE(layout=layout, **kw),
            LSE(layout=layout, **kw),
            DepthOrderAccuracy(mode="spatial", tolerance=depth_tolerance, **kw),
            DepthOrderAccuracy(
                mode="temporal", tolerance=depth_tolerance, window=depth_window, **kw
            ),
        ]
        if pck:
            self.metrics.insert(5, PCK3DHP(**kw))

    def update(self, pred: Any, target: Any, **metadata: Any) -> None:
        """Add one sequence ``(T, J, 3)`` or a batch of sequences ``(B, T, J, 3)``:
        predicted and ground-truth poses in metres, camera frame (z = depth), any origin
        (each metric aligns as it defines). Metadata (all optional): ``subject``,
        ``action``, ``camera``, ``sequence``, ``activity``, ``scene`` as one label (or one
        per sequence of the batch), and ``severity`` as a `SEVERITIES` index or name, per
        sequence or per frame (``(T,)`` / ``(B, T)``)."""
        p, t, _ = pose_pair(pred, target, "EvaluationSuite.update", min_frames_axis=-3)
        if p.ndim not in (3, 4):
            raise ValueError(
                f"EvaluationSuite.update: expected (T, J, 3) or (B, T, J, 3) sequences, got {tuple(p.shape)}"
            )
        for m in self.metrics:
            m.update(p, t, **metadata)

    def reset(self) -> None:
        for m in self.metrics:
            m.reset()

    def compute(self) -> MetricReport:
        """Reduce (across processes too) and return the merged `MetricReport`."""
        return MetricReport.merge([m.compute() for m in self.metrics], self.label)

    def to_dict(self) -> dict:
        """``compute().to_dict()``."""
        return self.compute().to_dict()
