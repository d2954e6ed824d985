"""Metric tables: per model for one sequence, and for a whole dataset per action and per
occlusion severity (the evaluation's tables), plus CSV export.

Numbers come from `SequenceAnalysis` (errors in mm, root-relative camera frame; PSIM+ per
`poseviz.metrics.functional.psim_plus`). Dataset tables pool frames: MPJPE, P-MPJPE and
MPJVE are means over all frames of a group, PSIM+ (temporal) the mean of the sequences'
scores, and ``PSIM+ frame`` the mean of the per-frame spatial score (the only PSIM+ that a
per-severity group, whose frames are scattered over sequences, can have).

Without 3D ground truth (a video in the wild) the sequence table holds what the
predictions show on their own (`ModelResult.plausibility`: LSE, bone-length standard
deviation, acceleration), a note says which metrics need ground truth, and the dataset
tables leave such sequences out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from poseviz.data.batch import SEVERITIES
from poseviz.data.occlusion import occlusion_severity, severity_names
from poseviz.viz.analysis import SequenceAnalysis

__all__ = [
    "NO_GROUND_TRUTH_NOTE",
    "MetricsTable",
    "dataset_tables",
    "frame_records",
    "severity_of_frames",
    "sequence_table",
    "tables_to_csv",
]

NO_GROUND_TRUTH_NOTE = (
    "No 3D ground truth: MPJPE, P-MPJPE, MPJVE and PSIM+ compare with it and are not "
    "computed. The table shows the predictions' own plausibility: limb symmetry error "
    "(LSE), how much bone lengths vary over time, and mean joint acceleration (jitter)."
)


def sequence_table(analysis: SequenceAnalysis) -> pd.DataFrame:
    """One row per model with its sequence-level metrics (see `ModelResult.summary`)."""
    rows = analysis.summary_rows()
    if not rows:
        return pd.DataFrame(columns=["model"])
    return pd.DataFrame(rows).set_index("model")


def severity_of_frames(occluded: np.ndarray | None) -> np.ndarray | None:
    """``(T,)`` severity names (`poseviz.data.batch.SEVERITIES`) of frames with ``(T, J)``
    occlusion labels (`poseviz.data.occlusion.occlusion_severity`); None without labels."""
    if occluded is None:
        return None
    return severity_names(occlusion_severity(np.asarray(occluded, bool)))


def frame_records(analysis: SequenceAnalysis) -> pd.DataFrame:
    """One row per (model, frame): model, sequence, action, severity, ``mpjpe``,
    ``pa_mpjpe``, ``velocity`` (mm) and ``psim_frame``, plus the sequence's temporal
    ``psim`` score on every row. Empty for an analysis without ground truth."""
    if not analysis.has_ground_truth:
        return pd.DataFrame()
    sev = severity_of_frames(analysis.occluded)
    parts = []
    for name, res in analysis.models.items():
        T = analysis.num_frames
        parts.append(
            pd.DataFrame(
                {
                    "model": name,
                    "sequence": analysis.sequence.name,
                    "action": analysis.sequence.action,
                    "severity": sev if sev is not None else np.full(T, "unlabelled", object),
                    "mpjpe": res.mpjpe_mm,
                    "pa_mpjpe": res.pa_mpjpe_mm,
                    "velocity": res.velocity_error_mm,
                    "psim_frame": np.asarray(res.psim.frame_score, dtype=np.float64),
                    "psim": float(res.psim.score),
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _pool(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    g = df.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "frames": g.size(),
            "MPJPE (mm)": g["mpjpe"].mean(),
            "P-MPJPE (mm)": g["pa_mpjpe"].mean(),
            "MPJVE (mm/frame)": g["velocity"].mean(),
            "PSIM+ frame": g["psim_frame"].mean(),
        }
    )
    seq = df.drop_duplicates(
        ["model", "sequence"] + [b for b in by if b not in ("model", "sequence")]
    )
    if "severity" not in by:
        out["PSIM+"] = seq.groupby(by, sort=False)["psim"].mean()
    return out


def dataset_tables(analyses: Sequence[SequenceAnalysis]) -> dict[str, pd.DataFrame]:
    """Tables over many analysed sequences: ``"overall"`` (per model), ``"per action"``
    (model x action) and, when occlusion labels exist, ``"per severity"`` (model x
    severity, rows in `SEVERITIES` order)."""
    frames = [frame_records(a) for a in analyses]
    frames = [f for f in frames if len(f)]
    if not frames:
        return {}
    df = pd.concat(frames, ignore_index=True)
    tables = {"overall": _pool(df, ["model"]), "per action": _pool(df, ["model", "action"])}
    labelled = df[df["severity"] != "unlabelled"]
    if len(labelled):
        t = _pool(labelled, ["model", "severity"]).reset_index()
        t["severity"] = pd.Categorical(t["severity"], categories=list(SEVERITIES), ordered=True)
        tables["per severity"] = t.sort_values(["model", "severity"]).set_index(
            ["model", "severity"]
        )
    return tables


def tables_to_csv(tables: dict[str, pd.DataFrame]) -> str:
    """All ``tables`` in one CSV text: a ``table`` column names each one."""
    parts = []
    for name, t in tables.items():
        flat = t.reset_index()
        flat.insert(0, "table", name)
        parts.append(flat)
    if not parts:
        return ""
    return pd.concat(parts, ignore_index=True).to_csv(index=False, float_format="%.4f")


class MetricsTable(pn.viewable.Viewer):
    """Per-model metrics of the current sequence, and dataset tables when given.

    Params:
        analysis: the current `SequenceAnalysis`.
        dataset: analyses of every sequence of the dataset (empty: sequence table only).
    """

    analysis = param.ClassSelector(class_=SequenceAnalysis)
    dataset = param.List(default=[], item_type=SequenceAnalysis)

    def __init__(self, analysis: SequenceAnalysis, **params: Any) -> None:
        super().__init__(analysis=analysis, **params)
        self._layout = pn.Column(sizing_mode="stretch_width")
        self._render()

    def tables(self) -> dict[str, pd.DataFrame]:
        """``"sequence"`` plus the `dataset_tables` of ``dataset``."""
        return {"sequence": sequence_table(self.analysis), **dataset_tables(self.dataset)}

    def csv(self) -> str:
        """The tables as CSV (see `tables_to_csv`)."""
        return tables_to_csv(self.tables())

    @param.depends("analysis", "dataset", watch=True)
    def _render(self) -> None:
        items: list[Any] = []
        for name, table in self.tables().items():
            label = {
                "sequence": f"Sequence {self.analysis.sequence.name} ({self.analysis.camera_id})",
                "overall": f"Dataset: {len(self.dataset)} sequences",
                "per action": "Dataset per action",
                "per severity": "Dataset per occlusion severity",
            }.get(name, name)
            items.append(pn.pane.Markdown(f"**{label}**", margin=(8, 10, 0, 10)))
            items.append(
                pn.pane.DataFrame(
                    table.round(3), sizing_mode="stretch_width", max_height=400, escape=True
                )
            )
        if not self.analysis.has_ground_truth:
            items.insert(0, pn.pane.Alert(NO_GROUND_TRUTH_NOTE, alert_type="info"))
        if not self.analysis.models:
            items.append(pn.pane.Markdown("Add a model to see its metrics."))
        self._layout.objects = items

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
