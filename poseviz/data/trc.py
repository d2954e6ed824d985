"""TRC marker files (OpenSim / Pose2Sim text format).

Layout of a TRC file (tab-separated)::

    PathFileType  4  (X/Y/Z)  name.trc
    DataRate  CameraRate  NumFrames  NumMarkers  Units  OrigDataRate  OrigDataStartFrame  OrigNumFrames
    60        60          100        22          m      60            1                   100
    Frame#  Time  Hip          RHip ...
                  X1  Y1  Z1   X2  Y2  Z2 ...
    1       0.0   ...

Positions are converted from ``Units`` (mm or m) to metres; empty cells are NaN gaps.
OpenSim's world frame is Y up. Plug-in-Gait marker sets and Pose2Sim keypoint names
(HALPE_26, COCO, BODY_25...) convert to h36m17; ``raw=True`` keeps the markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from poseviz.data._formats import FormatError, fill_gaps, markers_to_layout, unit_scale
from poseviz.skeleton.plugin_gait import PluginGaitOptions
from poseviz.structures import PoseSequence

__all__ = ["read_trc", "read_trc_markers", "write_trc"]

_HEADER_KEYS = ("DataRate", "NumFrames", "NumMarkers", "Units")


def read_trc_markers(path: str | Path) -> tuple[list[str], np.ndarray, float]:
    """Markers of a TRC file: ``(names, (T, M, 3) metres, frame rate in Hz)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such TRC file")
    lines = path.read_text(errors="replace").splitlines()
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise FormatError(
            path,
            "line 1",
            "'PathFileType ...' (a TRC header of 5 lines)",
            repr(lines[0][:40]) if lines else "an empty file",
        )
    keys = lines[1].split("\t")
    values = lines[2].split("\t")
    header = dict(zip((k.strip() for k in keys), (v.strip() for v in values), strict=False))
    for key in _HEADER_KEYS:
        if key not in header:
            raise FormatError(
                path,
                f"header field {key!r} (line 2-3)",
                f"the fields {list(_HEADER_KEYS)}",
                f"{list(header)}",
            )
    try:
        rate, n_frames, n_markers = (
            float(header["DataRate"]),
            int(header["NumFrames"]),
            int(header["NumMarkers"]),
        )
    except ValueError as err:
        raise FormatError(
            path, "header values (line 3)", "numbers for DataRate, NumFrames, NumMarkers", str(err)
        ) from None
    scale = unit_scale(header["Units"], path, "header field 'Units'")
    names = [n.strip() for n in lines[3].split("\t")[2:] if n.strip()]
    if len(names) != n_markers:
        raise FormatError(
            path, "marker names (line 4)", f"NumMarkers={n_markers} names", f"{len(names)}"
        )
    rows = [(i + 1, ln) for i, ln in enumerate(lines) if i >= 5 and ln.strip()]
    if len(rows) != n_frames:
        raise FormatError(
            path,
            "data rows",
            f"NumFrames={n_frames} rows (the file may be truncated)",
            f"{len(rows)}",
        )
    xyz = np.full((n_frames, n_markers * 3), np.nan)
    width = 2 + 3 * n_markers
    for t, (line_no, row) in enumerate(rows):
        cells = row.split("\t")
        if len(cells) < width:
            raise FormatError(
                path,
                f"line {line_no}",
                f"{width} tab-separated cells (frame, time, 3 x {n_markers})",
                f"{len(cells)} (truncated row?)",
            )
        for k, cell in enumerate(cells[2:width]):
            cell = cell.strip()
            if cell:
                try:
                    xyz[t, k] = float(cell)
                except ValueError:
                    raise FormatError(
                        path, f"line {line_no}, marker {names[k // 3]!r}", "a number", repr(cell)
                    ) from None
    return names, xyz.reshape(n_frames, n_markers, 3) * scale, rate


def read_trc(
    path: str | Path,
    *,
    raw: bool = False,
    max_gap: int | None = None,
    subject: str | None = None,
    action: str | None = None,
    plugin_gait: PluginGaitOptions | None = None,
) -> list[PoseSequence]:
    """Read a TRC file as one `PoseSequence` with ``joints_3d`` ``(T, J, 3)`` in metres.

    Options as `poseviz.data.c3d.read_c3d` (``raw``, ``max_gap``, labels, Plug-in-Gait
    subject measurements).
    """
    path = Path(path)
    names, xyz, rate = read_trc_markers(path)
    xyz = fill_gaps(xyz, names, max_gap, path)
    joints, layout = markers_to_layout(names, xyz, path=path, raw=raw, plugin_gait=plugin_gait)
    subject = subject or path.parent.name or "subject"
    action = action or path.stem
    return [PoseSequence(f"{subject}/{action}", subject, action, rate, layout, joints_3d=joints)]


def write_trc(
    path: str | Path, names: Sequence[str], points: np.ndarray, fps: float, *, units: str = "m"
) -> Path:
    """Write ``(T, M, 3)`` marker positions in metres as a TRC file in ``units`` (m or mm).

    NaN gaps are written as empty cells, as OpenSim does.
    """
    path = Path(path)
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (len(names), 3):
        raise ValueError(
            f"write_trc: expected points of shape (T, {len(names)}, 3), got {points.shape}"
        )
    values = points / unit_scale(units)
    T, M = points.shape[:2]
    out = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{fps:g}\t{fps:g}\t{T}\t{M}\t{units}\t{fps:g}\t1\t{T}",
        "Frame#\tTime\t" + "\t".join(f"{n}\t\t" for n in names).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(M)),
        "",
    ]
    for t in range(T):
        cells = ["" if not np.isfinite(v) else f"{v:.9g}" for v in values[t].ravel()]
        out.append(f"{t + 1}\t{t / fps:.6f}\t" + "\t".join(cells))
    path.write_text("\n".join(out) + "\n")
    return path
