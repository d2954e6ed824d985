"""Plain 2D or 3D keypoints in ``.npz`` or ``.csv`` with a declared joint layout.

**npz** keys:

- ``keypoints``: ``(T, J, 2)`` 2D pixels, ``(T, J, 3)`` 3D (or 2D + confidence when
  ``kind`` is ``"2d"``);
- ``layout``: the joint layout's name (``"coco17"``, ``"h36m17"``, ... see
  ``poseviz skeleton``); optional when passed as ``layout=``;
- optional ``confidence`` ``(T, J)``, ``fps``, ``unit`` (3D length unit, default ``"m"``),
  ``kind`` (``"2d"`` / ``"3d"``), ``camera`` (2D: the view's id), ``subject``, ``action``.

**csv**: optional ``# key: value`` lines first (``layout``, ``fps``, ``unit``, ``kind``,
``camera``, ``subject``, ``action``), then a header and one row per frame. Columns are
``<joint>_x``, ``<joint>_y`` and either ``<joint>_z`` (3D) or ``<joint>_conf`` (2D
confidence; ``_c``, ``_score`` and ``_confidence`` also work) for every joint of the layout,
plus optional ``frame`` / ``time`` columns; empty cells are NaN. Without a declared layout
the joint names must match exactly one registered layout.

2D becomes ``joints_2d`` of one view (default ``"cam0"``; no `Camera`, as the file has no
calibration), 3D becomes world ``joints_3d`` in metres. Both convert to h36m17 unless
``raw=True``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.data._formats import FormatError, as_str, fill_gaps, unit_scale
from poseviz.skeleton import CONVERSIONS, convert, get_skeleton, list_skeletons
from poseviz.structures import PoseSequence

__all__ = ["read_keypoints", "write_keypoints"]

_CONF_SUFFIXES = ("_conf", "_confidence", "_score", "_c")


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as f:
            files = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise FormatError(
            path,
            "file",
            "a readable .npz archive without pickled objects",
            f"{type(err).__name__}: {err}",
        ) from None
    if "keypoints" not in files:
        raise FormatError(path, "keys", "a 'keypoints' array (T, J, 2|3)", f"{sorted(files)}")
    meta = {
        k: as_str(v)
        for k, v in files.items()
        if k not in ("keypoints", "confidence") and np.ndim(v) == 0
    }
    try:
        pts = np.asarray(files["keypoints"], dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(
            path, "keypoints", "a numeric array", str(files["keypoints"].dtype)
        ) from None
    conf = files.get("confidence")
    return pts, None if conf is None else np.asarray(conf, dtype=np.float64), meta


def _read_csv(path: Path) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    lines = path.read_text(errors="replace").splitlines()
    meta: dict[str, Any] = {}
    i = 0
    while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
        body = lines[i].lstrip("#").strip()
        if ":" in body:
            key, value = body.split(":", 1)
            meta[key.strip().lower()] = value.strip()
        i += 1
    if i >= len(lines):
        raise FormatError(path, "header", "a header row of column names", "no rows")
    rows = list(csv.reader(lines[i:]))
    header = [h.strip() for h in rows[0]]
    body = []
    for k, row in enumerate(rows[1:], start=i + 2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise FormatError(
                path,
                f"line {k}",
                f"{len(header)} cells like the header",
                f"{len(row)} (truncated row?)",
            )
        try:
            body.append([float(c) if c.strip() else np.nan for c in row])
        except ValueError as err:
            raise FormatError(path, f"line {k}", "numbers or empty cells", str(err)) from None
    if not body:
        raise FormatError(path, "rows", "at least one frame", "none")
    return header, np.asarray(body, dtype=np.float64), meta


def _layout_from_names(path: Path, names: set[str]) -> str:
    matches = [n for n in list_skeletons() if set(get_skeleton(n).names) == names]
    if len(matches) != 1:
        raise FormatError(
            path,
            "layout",
            "a declared layout (layout= or '# layout: name') or joint columns matching one registered layout",
            f"columns for {sorted(names)[:6]}...",
        )
    return matches[0]


def read_keypoints(
    path: str | Path,
    *,
    layout: str | None = None,
    raw: bool = False,
    kind: str | None = None,
    fps: float | None = None,
    unit: str | None = None,
    camera: str | None = None,
    subject: str | None = None,
    action: str | None = None,
    max_gap: int | None = None,
) -> list[PoseSequence]:
    """Read a plain keypoint file (see the module docstring for the two formats).

    Args:
        path: ``.npz`` or ``.csv``.
        layout: joint layout name; overrides the file's declaration.
        raw: keep the declared layout instead of converting to h36m17.
        kind: ``"2d"`` or ``"3d"``; default from the file (3 channels without a
            confidence column or key read as 3D).
        fps: frame rate (default: the file's, else 30).
        unit: 3D length unit (default: the file's, else metres).
        camera: id of the view that 2D keypoints belong to (default ``"cam0"``).
        subject, action: labels (default: the file's, else the folder and file stem).
        max_gap: interpolate NaN runs up to this many frames; longer ones raise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    conf: np.ndarray | None
    if path.suffix.lower() == ".npz":
        pts, conf, meta = _read_npz(path)
        declared = layout or meta.get("layout")
        if declared is None:
            raise FormatError(
                path, "layout", "a 'layout' key or layout= naming the joint layout", "none"
            )
        sk = get_skeleton(declared)
        if pts.ndim != 3 or pts.shape[1] != sk.num_joints or pts.shape[2] not in (2, 3):
            raise FormatError(
                path,
                "keypoints",
                f"shape (T, {sk.num_joints}, 2|3) for layout {declared!r}",
                str(pts.shape),
            )
        is_2d = (kind or meta.get("kind", "")).lower() == "2d" or pts.shape[2] == 2
        if is_2d and pts.shape[2] == 3:
            conf, pts = pts[..., 2], pts[..., :2]
    elif path.suffix.lower() == ".csv":
        header, table, meta = _read_csv(path)
        lowered = [h.lower() for h in header]
        joint_names = {h[:-2] for h in header if h.lower().endswith("_x")}
        declared = layout or meta.get("layout") or _layout_from_names(path, joint_names)
        sk = get_skeleton(declared)
        has_z = all(f"{n}_z".lower() in lowered for n in sk.names)
        suffix = next(
            (s for s in _CONF_SUFFIXES if all(f"{n}{s}".lower() in lowered for n in sk.names)), None
        )
        is_2d = (kind or meta.get("kind", "")).lower() == "2d" or not has_z

        def col(name: str) -> np.ndarray:
            try:
                return table[:, lowered.index(name.lower())]
            except ValueError:
                raise FormatError(
                    path, "header", f"a column {name!r} for layout {declared!r}", "missing"
                ) from None

        axes = "xy" if is_2d else "xyz"
        pts = np.stack(
            [np.stack([col(f"{n}_{a}") for a in axes], axis=-1) for n in sk.names], axis=1
        )
        conf = (
            np.stack([col(f"{n}{suffix}") for n in sk.names], axis=1) if suffix and is_2d else None
        )
    else:
        raise FormatError(path, "extension", "'.npz' or '.csv'", repr(path.suffix))

    T = pts.shape[0]
    if T == 0:
        raise FormatError(path, "keypoints", "at least one frame", "0")
    if conf is not None:
        if conf.shape != pts.shape[:2]:
            raise FormatError(path, "confidence", f"shape {pts.shape[:2]}", str(conf.shape))
        if np.isfinite(conf).any() and (np.nanmin(conf) < 0 or np.nanmax(conf) > 1):
            raise FormatError(
                path,
                "confidence",
                "values in [0, 1]",
                f"[{np.nanmin(conf):.3g}, {np.nanmax(conf):.3g}]",
            )
        conf = np.nan_to_num(conf, nan=0.0)
    if np.isinf(pts).any():
        raise FormatError(path, "keypoints", "finite values or NaN gaps", "inf")
    pts = fill_gaps(pts, sk.names, max_gap, path)
    if not is_2d:
        pts = pts * unit_scale(unit or meta.get("unit", "m"), path, "unit")
    if not raw:
        if declared not in CONVERSIONS:
            raise FormatError(
                path,
                "layout",
                f"a layout with a conversion to h36m17 {sorted(CONVERSIONS)} (or raw=True)",
                repr(declared),
            )
        if conf is not None:
            pts, conf = convert(pts, declared, conf)
        else:
            pts = convert(pts, declared)
    rate = float(fps or meta.get("fps", 30.0))
    subject = subject or meta.get("subject") or path.parent.name or "subject"
    action = action or meta.get("action") or path.stem
    cam = camera or meta.get("camera", "cam0")
    return [
        PoseSequence(
            name=f"{subject}/{action}",
            subject=subject,
            action=action,
            fps=rate,
            skeleton=declared if raw else "h36m17",
            joints_3d=None if is_2d else pts,
            joints_2d={cam: pts} if is_2d else {},
            confidence={cam: conf} if is_2d and conf is not None else {},
        )
    ]


def write_keypoints(
    path: str | Path,
    points: np.ndarray,
    layout: str,
    *,
    confidence: np.ndarray | None = None,
    fps: float = 30.0,
    unit: str = "m",
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Write ``(T, J, 2|3)`` keypoints in ``layout`` as ``.npz`` or ``.csv`` (by suffix).

    3D points are written in ``unit``; 2D with optional ``(T, J)`` confidence. ``extra``
    adds metadata (``subject``, ``action``, ``camera``...). `read_keypoints` reads it back.
    """
    path = Path(path)
    sk = get_skeleton(layout)
    pts = np.asarray(points, dtype=np.float64)
    sk.check_joints(pts, "write_keypoints points")
    if pts.ndim != 3 or pts.shape[-1] not in (2, 3):
        raise ValueError(f"write_keypoints: expected (T, {sk.num_joints}, 2|3), got {pts.shape}")
    is_3d = pts.shape[-1] == 3
    values = pts / unit_scale(unit) if is_3d else pts
    meta = {"layout": layout, "fps": f"{fps:g}", "kind": "3d" if is_3d else "2d", **(extra or {})}
    if is_3d:
        meta["unit"] = unit
    if path.suffix.lower() == ".npz":
        arrays: dict[str, Any] = {"keypoints": values, **{k: np.array(v) for k, v in meta.items()}}
        if confidence is not None:
            arrays["confidence"] = np.asarray(confidence, dtype=np.float64)
        np.savez(path, **arrays)
        return path
    if path.suffix.lower() != ".csv":
        raise ValueError(f"write_keypoints: {path.name}: expected a .npz or .csv name")
    axes = "xyz" if is_3d else "xy"
    header = ["frame"] + [f"{n}_{a}" for n in sk.names for a in axes]
    if confidence is not None and not is_3d:
        header += [f"{n}_conf" for n in sk.names]
    with open(path, "w", newline="") as f:
        for k, v in meta.items():
            f.write(f"# {k}: {v}\n")
        w = csv.writer(f)
        w.writerow(header)
        for t in range(values.shape[0]):
            row = [str(t)] + ["" if not np.isfinite(v) else f"{v:.9g}" for v in values[t].ravel()]
            if confidence is not None and not is_3d:
                row += [f"{c:.6g}" for c in np.asarray(confidence)[t]]
            w.writerow(row)
    return path
