"""The accumulating metric classes. Each feeds batches through the private update code of
its functional form (`poseviz.metrics.functional`) and sums the results per metadata group
(see `poseviz.metrics.base`).

Units: errors in mm, PCK/AUC in %, PSIM+ and depth-order accuracy as fractions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch

from poseviz.metrics.base import GROUP_FIELDS, Metric
from poseviz.metrics.functional._common import pose_pair, resolve_layout, resolve_root
from poseviz.metrics.functional.depth_order import (
    DEFAULT_DEPTH_WINDOW,
    DEFAULT_TOLERANCE,
    _check_args,
    _depth_order_update,
)
from poseviz.metrics.functional.pck import (
    MPI_INF_3DHP_JOINT_GROUPS,
    MPI_INF_3DHP_PCK_JOINTS,
    PCK_THRESHOLD,
    PCK_THRESHOLDS,
    _check_thresholds,
    _pck_compute,
    _pck_update,
)
from poseviz.metrics.functional.position import (
    ALIGNMENTS,
    _difference_errors,
    _joint_errors_update,
)
from poseviz.metrics.functional.psim import (
    DEFAULT_WEIGHTS,
    DEFAULT_WINDOW,
    psim_plus,
)
from poseviz.metrics.functional.structure import _bsle_update, _lse_update
from poseviz.skeleton import Skeleton, get_skeleton

__all__ = [
    "BSLE",
    "LSE",
    "MPJPE",
    "MPJVE",
    "NMPJPE",
    "PCK3DHP",
    "PMPJPE",
    "AccelerationError",
    "DepthOrderAccuracy",
    "PSIMPlus",
    "PositionError",
]

_NAMES = {"root": "MPJPE", "procrustes": "P-MPJPE", "scale": "N-MPJPE", "none": "MPJPE (absolute)"}


def _ones(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.ones(n, 1, dtype=like.dtype, device=like.device)


def _mean(row: torch.Tensor, n: torch.Tensor) -> float:
    return float(row / n) if float(n) > 0 else float("nan")


class PositionError(Metric):
    """Accumulated per-joint position error in mm after ``alignment`` (``"root"``: MPJPE,
    ``"procrustes"``: P-MPJPE, ``"scale"``: N-MPJPE; see `poseviz.metrics.functional.joint_errors`).
    `update` takes ``(..., J, 3)`` poses in metres; every pose is an item."""

    def __init__(
        self,
        *,
        alignment: str = "root",
        root: int = 0,
        layout: str | Skeleton = "h36m17",
        group_by: Iterable[str] = GROUP_FIELDS,
        label: str = "model",
    ) -> None:
        if alignment not in ALIGNMENTS:
            raise ValueError(
                f"{type(self).__name__}: alignment must be one of {ALIGNMENTS}, got {alignment!r}"
            )
        self.alignment, self.root, self.layout = alignment, root, layout
        self.name = _NAMES[alignment]
        self._set_layout(layout)
        super().__init__(group_by=group_by, label=label)

    def _set_layout(self, layout: str | Skeleton) -> None:
        # Sizes are known before any data, so a process that saw none still reduces.
        sk = layout if isinstance(layout, Skeleton) else get_skeleton(layout)
        self.joint_names, self._size = sk.names, sk.num_joints + 1

    def _items(self, pred, target):
        fn = f"{type(self).__name__}.update"
        p, t, _ = pose_pair(pred, target, fn)
        J = p.shape[-2]
        sk = resolve_layout(self.layout, J, fn)
        self.joint_names, self._size = sk.names, J + 1
        root = resolve_root(self.root, J, fn) if self.alignment in ("root", "scale") else None
        err = _joint_errors_update(p, t, self.alignment, root).reshape(-1, J)
        return torch.cat([err, _ones(err.shape[0], err)], 1), tuple(p.shape[:-2])

    def _values(self, row):
        J = self._size - 1
        return {self.name: _mean(row[:J].sum(), row[J] * J)}

    def _joint_values(self, row):
        J = self._size - 1
        return {self.name: [_mean(v, row[J]) for v in row[:J]]}


class MPJPE(PositionError):
    """Accumulated MPJPE (root-aligned) in mm; see `PositionError`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(alignment="root", **kwargs)


class PMPJPE(PositionError):
    """Accumulated P-MPJPE (per-pose similarity Procrustes) in mm; see `PositionError`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(alignment="procrustes", **kwargs)


class NMPJPE(PositionError):
    """Accumulated N-MPJPE (root-aligned, scale-only) in mm; see `PositionError`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(alignment="scale", **kwargs)


class _DifferenceError(Metric):
    order = 1
    name = ""

    def __init__(
        self,
        *,
        root: int | None = 0,
        layout: str | Skeleton = "h36m17",
        group_by: Iterable[str] = GROUP_FIELDS,
        label: str = "model",
    ) -> None:
        self.root, self.layout = root, layout
        PositionError._set_layout(self, layout)
        super().__init__(group_by=group_by, label=label)

    def _items(self, pred, target):
        """Frames are the items: frame ``t >= order`` carries the error of the difference
        ending at it; earlier frames (and sequences too short) carry nothing."""
        fn = f"{type(self).__name__}.update"
        p, t, _ = pose_pair(pred, target, fn, min_frames_axis=-3, min_frames=1)
        T, J = p.shape[-3], p.shape[-2]
        self.joint_names, self._size = resolve_layout(self.layout, J, fn).names, J + 1
        root = resolve_root(self.root, J, fn)
        lead = tuple(p.shape[:-2])
        vals = p.new_zeros(*p.shape[:-3], T, J + 1)
        if T > self.order:
            vals[..., self.order :, :J] = _difference_errors(p, t, self.order, root)
            vals[..., self.order :, J] = 1
        return vals.reshape(-1, J + 1), lead

    _values = PositionError._values
    _joint_values = PositionError._joint_values


class MPJVE(_DifferenceError):
    """Accumulated mean per-joint velocity error in mm per frame on ``(..., T, J, 3)``
    sequences (`poseviz.metrics.functional.mpjve`); frames are the items."""

    order, name = 1, "MPJVE"


class AccelerationError(_DifferenceError):
    """Accumulated acceleration error in mm per frame squared on ``(..., T, J, 3)``
    sequences (`poseviz.metrics.functional.acceleration_error`); frames are the items."""

    order, name = 2, "Accel"


class PCK3DHP(Metric):
    """MPI-INF-3DHP PCK (at 150 mm) and AUC (thresholds 0:5:150 mm) in %, over the official
    14 joints of root-aligned ``(..., 17, 3)`` h36m17 poses, with the per-joint-group columns
    of the official tables ("PCK Head", ..., "AUC Ankle"). Group by ``activity`` and
    ``scene`` (or ``sequence``: TS1-TS6 are mapped to their scene) for the official
    breakdowns. See `poseviz.metrics.functional.pck` for the definition matched."""

    def __init__(
        self,
        *,
        threshold: float = PCK_THRESHOLD,
        thresholds: Sequence[float] = PCK_THRESHOLDS,
        root: int = 0,
        group_by: Iterable[str] = GROUP_FIELDS,
        label: str = "model",
    ) -> None:
        self.thresholds = _check_thresholds(thresholds, type(self).__name__)
        self.pck_threshold = _check_thresholds([threshold], type(self).__name__)
        self.root = root
        self.joints = MPI_INF_3DHP_PCK_JOINTS
        J, K = len(self.joints), self.thresholds.numel()
        self._size = J * (K + 1) + 1  # hits at each threshold and at the PCK threshold, frames
        super().__init__(group_by=group_by, label=label)

    def _items(self, pred, target):
        fn = f"{type(self).__name__}.update"
        p, t, _ = pose_pair(pred, target, fn)
        if p.shape[-2] != 17:
            raise ValueError(f"{fn}: expected h36m17 poses (..., 17, 3), got {tuple(p.shape)}")
        err = _joint_errors_update(p, t, "root", self.root).reshape(-1, 17)
        return err[:, list(self.joints)], tuple(p.shape[:-2])

    def _group_sums(self, values, inverse, G):
        out = torch.zeros(G, self._size, dtype=torch.float64)
        thr = torch.cat([self.thresholds, self.pck_threshold])
        for g in range(G):
            sel = values[inverse.to(values.device) == g]
            if sel.shape[0]:
                out[g, :-1] = _pck_update(sel, thr).reshape(-1).double().cpu()
                out[g, -1] = sel.shape[0]
        return out

    def _values(self, row):
        J, K = len(self.joints), self.thresholds.numel()
        n = row[-1]
        if float(n) == 0:
            return {}
        hits = row[:-1].reshape(J, K + 1)
        pos = {j: i for i, j in enumerate(self.joints)}
        out = {
            "PCK": float(_pck_compute(hits[:, K].sum(), n * J)),
            "AUC": float(_pck_compute(hits[:, :K].sum(0), n * J).mean()),
        }
        for name, joints in MPI_INF_3DHP_JOINT_GROUPS.items():
            h = hits[[pos[j] for j in joints]]
            out[f"PCK {name}"] = float(_pck_compute(h[:, K].sum(), n * len(joints)))
            out[f"AUC {name}"] = float(_pck_compute(h[:, :K].sum(0), n * len(joints)).mean())
        return out


class PSIMPlus(Metric):
    """Accumulated PSIM+ (`poseviz.metrics.functional.psim_plus`): frames are the items.

    Reports the frame means of "PSIM+", "PSIM+ P", "PSIM+ S", "PSIM+ V" and "PSIM+ (P+S)"
    (the ablation that stands in for the undefined PSIM) and, with ``temporal=True`` on
    ``(..., T, J, 3)`` sequences, "PSIM+ temporal" and "PSIM+ temporal (P+S)": the mean over
    all frames of ``w_t(t) * PSIM+(t)``. For one sequence that is eq. 5 exactly; pooled over
    sequences it weights each by its length.
    """

    _COLS = ("PSIM+", "PSIM+ P", "PSIM+ S", "PSIM+ V", "PSIM+ (P+S)")

    def __init__(
        self,
        *,
        temporal: bool = False,
        window: int | None = None,
        weights: tuple[float, float, float] = DEFAULT_WEIGHTS,
        variant: str = "literal",
        layout: str | Skeleton = "h36m17",
        group_by: Iterable[str] = GROUP_FIELDS,
        label: str = "model",
    ) -> None:
        self.temporal, self.weights, self.variant, self.layout = temporal, weights, variant, layout
        self.window = (DEFAULT_WINDOW if window is None else window) if temporal else None
        self._size = len(self._COLS) + (2 if temporal else 0) + 1
        super().__init__(group_by=group_by, label=label)

    def _items(self, pred, target):
        r = psim_plus(
            target if isinstance(target, torch.Tensor) else torch.as_tensor(target),
            pred if isinstance(pred, torch.Tensor) else torch.as_tensor(pred),
            weights=self.weights,
            temporal=self.temporal,
            window=self.window,
            variant=self.variant,
            layout=self.layout,
        )
        cols = [r.frame_score, r.positional, r.structural, r.sensitivity]
        w_p, w_s, _ = r.weights
        ps = (
            (w_p * r.positional + w_s * r.structural) / (w_p + w_s)
            if w_p + w_s
            else (r.positional + r.structural) / 2
        )
        cols.append(ps)
        if self.temporal:
            cols += [r.temporal_weight * r.frame_score, r.temporal_weight * ps]
        cols.append(torch.ones_like(r.frame_score))
        vals = torch.stack([c.detach().double() for c in cols], -1)
        return vals.reshape(-1, self._size), tuple(r.frame_score.shape)

    def _values(self, row):
        n = row[-1]
        names = list(self._COLS) + (
            ["PSIM+ temporal", "PSIM+ temporal (P+S)"] if self.temporal else []
        )
        return {name: _mean(row[i], n) for i, name in enumerate(names)}


class BSLE(Metric):
    """Accumulated body segment length error in mm (`poseviz.metrics.functional.bsle`),
    overall and per bone ("BSLE <parent>-<child>" in ``per_joint``)."""

    def __init__(
        self, *, layout: str | Skeleton = "h36m17", group_by=GROUP_FIELDS, label: str = "model"
    ):
        self.layout = layout
        super().__init__(group_by=group_by, label=label)

    def _items(self, pred, target):
        fn = f"{type(self).__name__}.update"
        p, t, _ = pose_pair(pred, target, fn)
        sk = resolve_layout(self.layout, p.shape[-2], fn)
        self._bones = [f"{sk.names[a]}-{sk.names[b]}" for a, b in sk.bones]
        v = _bsle_update(p, t, sk).reshape(-1, len(sk.bones))
        self._size = v.shape[1] + 1
        return torch.cat([v, _ones(v.shape[0], v)], 1), tuple(p.shape[:-2])

    def _values(self, row):
        nb = self._size - 1
        return {"BSLE": _mean(row[:nb].sum(), row[nb] * nb)}

    def compute(self):
        report = super().compute()
        row = self.synced_sums()[("all", "all")]
        nb = self._size - 1
        report.per_joint["BSLE"] = {b: _mean(row[i], row[nb]) for i, b in enumerate(self._bones)}
        return report


class LSE(Metric):
    """Accumulated limb symmetry error in mm (`poseviz.metrics.functional.lse`) of the
    prediction ("LSE") and, beside it, of the ground truth ("LSE (GT)")."""

    def __init__(
        self, *, layout: str | Skeleton = "h36m17", group_by=GROUP_FIELDS, label: str = "model"
    ):
        self.layout = layout
        super().__init__(group_by=group_by, label=label)

    def _items(self, pred, target):
        fn = f"{type(self).__name__}.update"
        p, t, _ = pose_pair(pred, target, fn)
        sk = resolve_layout(self.layout, p.shape[-2], fn)
        a = _lse_update(p, sk).reshape(-1, len(sk.symmetric_bones))
        b = _lse_update(t, sk).reshape(-1, len(sk.symmetric_bones))
        self._size = 2 * a.shape[1] + 1
        return torch.cat([a, b, _ones(a.shape[0], a)], 1), tuple(p.shape[:-2])

    def _values(self, row):
        n2 = (self._size - 1) // 2
        n = row[-1] * n2
        return {"LSE": _mean(row[:n2].sum(), n), "LSE (GT)": _mean(row[n2 : 2 * n2].sum(), n)}


class DepthOrderAccuracy(Metric):
    """Accumulated depth-order accuracy (`poseviz.metrics.functional.depth_order_accuracy`),
    pooled as correct / decided pairs: "Depth order (spatial)" or "Depth order (temporal)"
    (fractions). ``mode="temporal"`` takes ``(..., T, J, 3)`` sequences; frames are the items."""

    def __init__(
        self,
        *,
        mode: str = "spatial",
        tolerance: float = DEFAULT_TOLERANCE,
        window: int = DEFAULT_DEPTH_WINDOW,
        root: int | None = 0,
        group_by: Iterable[str] = GROUP_FIELDS,
        label: str = "model",
    ) -> None:
        self.tolerance = _check_args(mode, tolerance, window, type(self).__name__)
        self.mode, self.window, self.root = mode, window, root
        self._size = 2
        super().__init__(group_by=group_by, label=label)

    def _items(self, pred, target):
        fn = f"{type(self).__name__}.update"
        temporal = self.mode == "temporal"
        p, t, _ = pose_pair(pred, target, fn, min_frames_axis=-3 if temporal else None)
        root = resolve_root(self.root, p.shape[-2], fn)
        c, d = _depth_order_update(p, t, self.mode, self.tolerance, self.window, root)
        return torch.stack([c, d], -1).reshape(-1, 2).double(), tuple(c.shape)

    def _values(self, row):
        return {f"Depth order ({self.mode})": _mean(row[0], row[1])}
