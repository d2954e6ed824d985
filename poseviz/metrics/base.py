"""Accumulating metrics: the shared machinery (torchmetrics-style).

A metric turns each batch into per-item rows of additive statistics (``_items``), sums them
per group of metadata labels (overall, per subject, action, camera, sequence, occlusion
severity, MPI-INF-3DHP activity and scene), and turns a summed row into numbers
(``_values``) with the same private update/compute code the functional forms use. Because
every state is a sum, accumulating batch by batch equals one call on the concatenated data,
and under ``torch.distributed`` one ``all_reduce`` (after agreeing on the union of group
labels) gives the global result on every process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poseviz.metrics.tables import Table

__all__ = ["GROUP_FIELDS", "SEVERITIES", "Metric", "MetricReport"]

# Occlusion severities, in the order of the batch contract's ``severity`` index
# (``poseviz.data.batch.SEVERITIES``; metrics sit beside data, so the names are repeated here
# and a test keeps the two equal).
SEVERITIES = ("none", "joint", "body_part", "half_body")
SEVERITY_TITLES = {
    "none": "None",
    "joint": "Joint",
    "body_part": "Body part",
    "half_body": "Half body",
}
GROUP_FIELDS = ("subject", "action", "camera", "sequence", "severity", "activity", "scene")
ALL = ("all", "all")


def _as_label_array(value: Any, lead: tuple[int, ...], fieldname: str, owner: str) -> np.ndarray:
    """Per-item labels ``(prod(lead),)`` from a scalar, one label per batch element
    (``lead[0]``), or one per item (shape ``lead``)."""
    n = int(np.prod(lead)) if lead else 1
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, int, np.integer)) or np.ndim(value) == 0:
        arr = np.full(n, value, dtype=object)
    else:
        arr = np.asarray(value, dtype=object)
        if arr.shape == tuple(lead) or arr.shape == (n,):
            arr = arr.reshape(-1)
        elif len(lead) >= 1 and arr.shape == (lead[0],):
            arr = np.repeat(arr, n // lead[0])
        else:
            raise ValueError(
                f"{owner}.update: {fieldname} must be one label, {lead[0] if lead else 1} "
                f"labels (one per batch element) or an array of shape {tuple(lead)}, "
                f"got shape {arr.shape}"
            )
    if fieldname == "severity":
        out = []
        for v in arr:
            if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                if not 0 <= int(v) < len(SEVERITIES):
                    raise ValueError(
                        f"{owner}.update: severity index {int(v)} is not one of 0..{len(SEVERITIES) - 1} "
                        f"{SEVERITIES}"
                    )
                out.append(SEVERITIES[int(v)])
            else:
                out.append(str(v))
        return np.asarray(out, dtype=object)
    return np.asarray([str(v) for v in arr], dtype=object)


class Metric:
    """Base of the accumulating metrics.

    Subclasses define ``_size`` (the length of a statistics row), ``_items(pred, target)``
    -> ``(values (N, D), lead)`` where ``lead`` is the shape of the items (poses or frames),
    optionally ``_group_sums(values, inverse, G)`` -> ``(G, _size)`` (default: row sums of
    ``values`` with ``D == _size``) and ``_values(row)`` -> ``{name: float}`` plus
    ``_joint_values(row)`` -> ``{name: (J,) list}``.

    Args:
        group_by: metadata fields to break results down by (only those given to `update`
            are used); default all of `GROUP_FIELDS`.
        label: the row label of the seed-paper tables (the model's name).
    """

    _size: int = 0
    joint_names: tuple[str, ...] = ()

    def __init__(self, *, group_by: Iterable[str] = GROUP_FIELDS, label: str = "model") -> None:
        group_by = tuple(group_by)
        unknown = [f for f in group_by if f not in GROUP_FIELDS]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}: unknown group fields {unknown}; use {GROUP_FIELDS}"
            )
        self.group_by = group_by
        self.label = label
        self.reset()

    # -- state -------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything accumulated."""
        self._sums: dict[tuple[str, str], torch.Tensor] = {}

    def _add(self, key: tuple[str, str], row: torch.Tensor) -> None:
        if key in self._sums:
            self._sums[key] += row
        else:
            self._sums[key] = row.clone()

    def _group_sums(self, values: torch.Tensor, inverse: torch.Tensor, G: int) -> torch.Tensor:
        out = torch.zeros(G, self._size, dtype=torch.float64)
        return out.index_add_(0, inverse, values.detach().to("cpu", torch.float64))

    def _accumulate(self, values: torch.Tensor, lead: tuple[int, ...], metadata: Mapping[str, Any]):
        n = values.shape[0]
        self._add(ALL, self._group_sums(values, torch.zeros(n, dtype=torch.long), 1)[0])
        metadata = dict(metadata)
        if (
            "scene" in self.group_by
            and metadata.get("scene") is None
            and metadata.get("sequence") is not None
        ):
            from poseviz.metrics.functional.pck import MPI_INF_3DHP_SCENES

            seq = _as_label_array(metadata["sequence"], lead, "sequence", type(self).__name__)
            if all(s in MPI_INF_3DHP_SCENES for s in seq):
                metadata["scene"] = np.asarray([MPI_INF_3DHP_SCENES[s] for s in seq], dtype=object)
        for f in self.group_by:
            if metadata.get(f) is None:
                continue
            labels = _as_label_array(metadata[f], lead, f, type(self).__name__)
            if labels.shape[0] != n:
                raise ValueError(
                    f"{type(self).__name__}.update: {f} gives {labels.shape[0]} labels for {n} items"
                )
            uniq, inv = np.unique(labels.astype(str), return_inverse=True)
            sums = self._group_sums(values, torch.from_numpy(inv.reshape(-1)).long(), len(uniq))
            for g, lab in enumerate(uniq):
                self._add((f, str(lab)), sums[g])

    def update(self, pred: Any, target: Any, **metadata: Any) -> None:
        """Add a batch. ``pred``/``target`` as the metric's functional form; metadata
        (``subject``, ``action``, ``camera``, ``sequence``, ``severity`` (index into
        `SEVERITIES` or its name), ``activity``, ``scene``) is one label, one label per batch
        element, or an array with one label per pose/frame."""
        unknown = [k for k in metadata if k not in GROUP_FIELDS]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.update: unknown metadata {unknown}; use {GROUP_FIELDS}"
            )
        values, lead = self._items(pred, target)
        self._accumulate(values, lead, metadata)

    def _items(self, pred: Any, target: Any) -> tuple[torch.Tensor, tuple[int, ...]]:
        raise NotImplementedError

    def _values(self, row: torch.Tensor) -> dict[str, float]:
        raise NotImplementedError

    def _joint_values(self, row: torch.Tensor) -> dict[str, list[float]]:
        return {}

    # -- reduction ---------------------------------------------------------------------
    def synced_sums(self) -> dict[tuple[str, str], torch.Tensor]:
        """The summed states over all processes of the default ``torch.distributed`` group
        (this process's own states when not distributed). Local states are left unchanged,
        so `compute` can be called repeatedly and accumulation can go on."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return {k: v.clone() for k, v in self._sums.items()}
        keys: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(keys, sorted(self._sums))
        union = sorted({tuple(k) for ks in keys for k in ks})
        buf = torch.zeros(len(union), self._size, dtype=torch.float64)
        for i, k in enumerate(union):
            if k in self._sums:
                buf[i] = self._sums[k]
        if dist.get_backend() == "nccl":
            buf = buf.cuda(torch.cuda.current_device())
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        buf = buf.cpu()
        return {k: buf[i] for i, k in enumerate(union)}

    def compute(self) -> MetricReport:
        """Reduce over processes and return a `MetricReport`."""
        sums = self.synced_sums()
        if ALL not in sums:
            raise ValueError(
                f"{type(self).__name__}.compute: nothing accumulated (call update first)"
            )
        return MetricReport.from_sums(
            sums, self._values, self._joint_values, self.joint_names, self.label
        )


def _nan_safe(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


@dataclass
class MetricReport:
    """Computed results: ``overall`` (name -> value), ``per_joint`` (name -> joint name ->
    value), ``groups`` (field -> label -> name -> value). Units: errors in mm, PCK/AUC in %,
    PSIM+ and accuracies as fractions. Tables follow seed 000: `action_table` (Table 2) and
    `severity_table` (Table 5)."""

    label: str
    overall: dict[str, float]
    per_joint: dict[str, dict[str, float]] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    _pool: Callable[[str, list[str]], dict[str, float]] | None = field(default=None, repr=False)

    @classmethod
    def from_sums(cls, sums, values_fn, joint_fn, joint_names, label) -> MetricReport:
        overall = values_fn(sums[ALL])
        per_joint = {
            name: dict(zip(joint_names, vals, strict=True))
            for name, vals in joint_fn(sums[ALL]).items()
        }
        groups: dict[str, dict[str, dict[str, float]]] = {}
        for (f, lab), row in sorted(sums.items()):
            if (f, lab) != ALL:
                groups.setdefault(f, {})[lab] = values_fn(row)

        def pool(f: str, labels: list[str]) -> dict[str, float]:
            rows = [sums[(f, lab)] for lab in labels if (f, lab) in sums]
            return values_fn(torch.stack(rows).sum(0)) if rows else {}

        return cls(label, overall, per_joint, groups, pool)

    @staticmethod
    def merge(reports: Iterable[MetricReport], label: str | None = None) -> MetricReport:
        """Combine the reports of several metrics over the same data into one."""
        reports = list(reports)
        out = MetricReport(label or reports[0].label, {}, {}, {})
        for r in reports:
            out.overall.update(r.overall)
            out.per_joint.update(r.per_joint)
            for f, labs in r.groups.items():
                for lab, vals in labs.items():
                    out.groups.setdefault(f, {}).setdefault(lab, {}).update(vals)
        pools = [r._pool for r in reports if r._pool is not None]

        def pool(f: str, labels: list[str]) -> dict[str, float]:
            merged: dict[str, float] = {}
            for p in pools:
                merged.update(p(f, labels))
            return merged

        out._pool = pool
        return out

    # -- output ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready dict (NaN -> None)."""
        clean = lambda d: {k: _nan_safe(v) for k, v in d.items()}  # noqa: E731
        return {
            "label": self.label,
            "overall": clean(self.overall),
            "per_joint": {k: clean(v) for k, v in self.per_joint.items()},
            "groups": {
                f: {lab: clean(v) for lab, v in labs.items()} for f, labs in self.groups.items()
            },
        }

    def overall_table(self) -> Table:
        cols = list(self.overall)
        return Table("Overall", cols, [(self.label, [self.overall[c] for c in cols])], "method")

    def per_joint_table(self) -> Table:
        """Rows = joints; columns = the per-joint metrics (per-bone ones are in
        `per_bone_table`)."""
        return self._keyed_table(joints=True)

    def per_bone_table(self) -> Table:
        """Rows = bones ("parent-child"); columns = per-bone metrics (BSLE)."""
        return self._keyed_table(joints=False)

    def _keyed_table(self, joints: bool) -> Table:
        names = [n for n, v in self.per_joint.items() if any("-" in k for k in v) != joints]
        keys: list[str] = []
        for n in names:
            keys += [k for k in self.per_joint[n] if k not in keys]
        rows = [(k, [self.per_joint[n].get(k, math.nan) for n in names]) for k in keys]
        return Table(
            "Per joint" if joints else "Per bone", names, rows, "joint" if joints else "bone"
        )

    def group_table(self, fieldname: str, metrics: Iterable[str] | None = None) -> Table:
        """Rows = the labels of ``fieldname`` plus "All" (pooled over everything)."""
        if fieldname not in self.groups:
            raise ValueError(
                f"no {fieldname!r} breakdown: pass {fieldname}= to update (have {sorted(self.groups)})"
            )
        labs = self.groups[fieldname]
        cols = list(metrics) if metrics is not None else list(self.overall)
        rows = [(lab, [labs[lab].get(c, math.nan) for c in cols]) for lab in labs]
        rows.append(("All", [self.overall.get(c, math.nan) for c in cols]))
        return Table(f"Per {fieldname}", cols, rows, fieldname)

    def action_table(self) -> Table:
        """Seed 000 Table 2 layout: one row; MPJPE of each action, then MPJPE, P-MPJPE and
        PSIM+ averaged over the actions (the Human3.6M convention: the mean of per-action
        results, not pooled over frames)."""
        if "action" not in self.groups:
            raise ValueError("no per-action results: pass action= to update")
        acts = self.groups["action"]
        cols, vals = [], []
        for a, v in acts.items():
            cols.append(a)
            vals.append(v.get("MPJPE", math.nan))
        for m in ("MPJPE", "P-MPJPE", "PSIM+"):
            xs = [v[m] for v in acts.values() if m in v]
            if xs:
                cols.append(m)
                vals.append(float(np.mean(xs)))
        return Table(
            "Per action (MPJPE in mm; last columns: mean over actions)",
            cols,
            [(self.label, vals)],
            "method",
        )

    def severity_table(self, metrics: Iterable[str] = ("MPJPE", "PSIM+ (P+S)", "PSIM+")) -> Table:
        """Seed 000 Table 5 layout: one row; for each occlusion severity present (other than
        "none") the given metrics, then "Average" pooled over the frames of those
        severities. ``PSIM+ (P+S)`` stands in for the paper's PSIM column (the seeds do not
        define PSIM)."""
        if "severity" not in self.groups:
            raise ValueError("no per-severity results: pass severity= to update")
        sev = [s for s in SEVERITIES if s != "none" and s in self.groups["severity"]]
        sev += [s for s in self.groups["severity"] if s not in SEVERITIES]
        metrics = list(metrics)
        cols, vals = [], []
        for s in sev:
            for m in metrics:
                cols.append(f"{SEVERITY_TITLES.get(s, s)} {m}")
                vals.append(self.groups["severity"][s].get(m, math.nan))
        pooled = self._pool("severity", sev) if self._pool else {}
        for m in metrics:
            cols.append(f"Average {m}")
            vals.append(pooled.get(m, math.nan))
        return Table("Per occlusion severity", cols, [(self.label, vals)], "method")

    def tables(self) -> dict[str, Table]:
        """Every table that has data: overall, per joint, per group field, and the seed
        layouts where their metadata was given."""
        out = {"overall": self.overall_table()}
        for key, table in (
            ("per_joint", self.per_joint_table()),
            ("per_bone", self.per_bone_table()),
        ):
            if table.columns:
                out[key] = table
        main = [c for c in self.overall if not c.startswith(("PCK ", "AUC "))]
        for f in self.groups:
            out[f] = self.group_table(f, main)
        if "action" in self.groups:
            out["table2_actions"] = self.action_table()
        if "severity" in self.groups:
            out["table5_severity"] = self.severity_table()
        return out

    def to_markdown(self) -> str:
        return "\n\n".join(t.to_markdown() for t in self.tables().values())

    def to_csv(self, folder: str | Path) -> list[Path]:
        """Write one ``<table>.csv`` per table into ``folder``; returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, t in self.tables().items():
            p = folder / f"{name}.csv"
            t.to_csv(p)
            paths.append(p)
        return paths
