"""Evaluation reports: predictions scored against their sequences' ground truth.

`score_predictions` feeds every `Prediction` with its target (the sequence's world 3D seen
from the prediction's camera, root-relative) and labels (subject, action, camera, sequence
and, per frame, the occlusion severity of `poseviz.data.occlusion.occlusion_severity` where
the view has occlusion labels) to `poseviz.metrics.EvaluationSuite`, which computes MPJPE,
P-MPJPE, N-MPJPE, MPJVE, acceleration error, PCK/AUC (MPI-INF-3DHP protocol), PSIM+ (spatial,
temporal, components), BSLE, LSE and depth-order accuracy, overall, per joint and per group.

`write_report` writes ``metrics.json`` and every table as markdown (``report.md``) and CSV
(``tables/<name>.csv``: overall, per_joint, per_bone, per action, camera, sequence,
subject, severity, and seed 000's Table 2 / Table 5 layouts).

``poseviz evaluate`` composes `poseviz.inference.predict_sequences` with these two.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.geometry import world_to_camera
from poseviz.metrics import EvaluationSuite, MetricReport
from poseviz.skeleton import get_skeleton
from poseviz.structures import PoseSequence, Prediction
from poseviz.training.serialize import atomic_write_text

__all__ = [
    "HEADLINE",
    "mean_pose_mpjpe",
    "mean_training_pose",
    "score_predictions",
    "target_of",
    "write_report",
]

#: Metrics shown in summaries (README tables, the CLI's last lines).
HEADLINE = (
    "MPJPE",
    "P-MPJPE",
    "N-MPJPE",
    "MPJVE",
    "PCK",
    "AUC",
    "PSIM+",
    "PSIM+ temporal",
    "BSLE",
    "LSE",
)


def target_of(
    sequence: PoseSequence, camera_id: str, frames: np.ndarray | None = None
) -> np.ndarray:
    """Ground truth ``(T, J, 3)``: the sequence's world joints in ``camera_id``'s frame,
    root-relative (metres)."""
    if sequence.joints_3d is None:
        raise ValueError(f"sequence {sequence.name!r} has no 3D ground truth to evaluate against")
    if camera_id not in sequence.cameras:
        raise ValueError(
            f"sequence {sequence.name!r} has no calibrated camera {camera_id!r} "
            f"(cameras: {sorted(sequence.cameras)})"
        )
    X = sequence.joints_3d if frames is None else sequence.joints_3d[frames]
    cam = np.asarray(world_to_camera(np.asarray(X, dtype=np.float64), sequence.cameras[camera_id]))
    root = get_skeleton(sequence.skeleton).root
    return cam - cam[:, root : root + 1]


def score_predictions(
    predictions: Iterable[Prediction],
    sequences: Sequence[PoseSequence],
    *,
    label: str = "model",
    progress: bool = True,
    **suite_options: Any,
) -> MetricReport:
    """Score predictions against ``sequences`` (matched by ``sequence_id``).

    Args:
        predictions: `Prediction` records (``joints_3d`` root-relative camera-frame metres).
        sequences: the sequences they were predicted from, with world ``joints_3d`` and
            the cameras; occlusion labels (``occluded``) give the per-severity breakdown.
        label: the method's row label in the tables.
        progress: tqdm bar over the predictions.
        suite_options: passed to `EvaluationSuite` (``psim_window``, ``pck``, ...).

    Returns:
        The `MetricReport` (errors in mm, PCK/AUC in %, similarities and accuracies as
        fractions).
    """
    from tqdm.auto import tqdm

    from poseviz.data.occlusion import occlusion_severity

    by_name = {s.name: s for s in sequences}
    suite = EvaluationSuite(label=label, **suite_options)
    predictions = list(predictions)
    if not predictions:
        raise ValueError("evaluate: no predictions to score")
    for p in tqdm(predictions, desc="scoring", unit="view", disable=not progress):
        seq = by_name.get(p.sequence_id)
        if seq is None:
            raise ValueError(
                f"evaluate: prediction for sequence {p.sequence_id!r}, which is not in the data"
            )
        frames = np.asarray(p.frame_indices)
        target = target_of(seq, p.camera_id, frames)
        if target.shape != p.joints_3d.shape:
            raise ValueError(
                f"evaluate: {p.sequence_id}/{p.camera_id}: prediction {p.joints_3d.shape} vs "
                f"ground truth {target.shape}"
            )
        meta: dict[str, Any] = dict(
            subject=seq.subject, action=seq.action, camera=p.camera_id, sequence=seq.name
        )
        occ = seq.occluded.get(p.camera_id)
        if occ is not None:
            meta["severity"] = occlusion_severity(occ[frames], skeleton=seq.skeleton)
        suite.update(p.joints_3d.astype(np.float64), target, **meta)
    return suite.compute()


def mean_training_pose(dataset: Any, *, max_items: int = 20000, batch: int = 1024) -> np.ndarray:
    """``(J, 3)`` mean root-relative camera-frame target (metres) over up to ``max_items``
    evenly spaced items of a training dataset (its centre frame for sequence targets): the
    "predict the mean training pose" baseline."""
    n = len(dataset)
    idx = np.unique(np.linspace(0, n - 1, min(n, max_items)).round().astype(int))
    total, count = None, 0
    for s in range(0, len(idx), batch):
        chunk = idx[s : s + batch].tolist()
        getter = getattr(dataset, "__getitems__", None)
        items = getter(chunk) if getter else None
        pose = (
            items["pose_3d"]
            if items is not None
            else np.stack([np.asarray(dataset[i]["pose_3d"]) for i in chunk])
        )
        pose = np.asarray(pose, dtype=np.float64)
        pose = pose[:, pose.shape[1] // 2]  # (B, J, 3)
        total = pose.sum(0) if total is None else total + pose.sum(0)
        count += len(pose)
    if not count:
        raise ValueError("mean_training_pose: empty dataset")
    return total / count


def mean_pose_mpjpe(
    mean_pose: np.ndarray, predictions: Iterable[Prediction], sequences: Sequence[PoseSequence]
) -> float:
    """MPJPE (mm) of predicting ``mean_pose`` ``(J, 3)`` for every frame of the views the
    ``predictions`` cover (the frames a model was scored on)."""
    from poseviz.metrics.functional import mpjpe

    by_name = {s.name: s for s in sequences}
    total, frames = 0.0, 0
    for p in predictions:
        target = target_of(by_name[p.sequence_id], p.camera_id, np.asarray(p.frame_indices))
        guess = np.broadcast_to(mean_pose, target.shape)
        total += float(mpjpe(guess, target)) * len(target)
        frames += len(target)
    return total / max(frames, 1)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_report(
    report: MetricReport, out_dir: str | Path, *, info: Mapping[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``metrics.json`` (``info`` + the report's overall, per-joint and per-group
    numbers), ``report.md`` (every table) and ``tables/*.csv`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "poseviz_evaluation": 1,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **dict(info or {}),
        **report.to_dict(),
    }
    paths = {
        "metrics": atomic_write_text(
            out / "metrics.json", json.dumps(_clean(data), indent=1) + "\n"
        )
    }
    lines = [f"# Evaluation: {report.label}", ""]
    for key, value in (info or {}).items():
        lines.append(f"- {key}: {value}")
    lines += ["", report.to_markdown(), ""]
    paths["markdown"] = atomic_write_text(out / "report.md", "\n".join(lines))
    for p in report.to_csv(out / "tables"):
        paths[p.stem] = p
    return paths
