"""C3D motion-capture files (read with ``ezc3d``).

Marker positions are converted from the file's ``POINT:UNITS`` (mm, cm or m) to metres;
points flagged invalid (negative residual) and ezc3d's NaN become NaN gaps. Labels keep
their marker names with any ``subject:`` prefix removed. A Plug-in-Gait marker set becomes
h36m17 joint centres (`poseviz.skeleton.plugin_gait`); Pose2Sim/OpenPose named keypoints
map by name; ``raw=True`` keeps the markers. The world frame is the lab's (often Z up).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from poseviz.data._formats import FormatError, as_str, fill_gaps, markers_to_layout, unit_scale
from poseviz.skeleton.plugin_gait import PluginGaitOptions, strip_prefix
from poseviz.structures import PoseSequence

__all__ = ["read_c3d", "read_c3d_markers"]


def read_c3d_markers(path: str | Path) -> tuple[list[str], np.ndarray, float]:
    """Markers of a C3D file: ``(labels, (T, M, 3) positions in metres, frame rate in Hz)``.

    Labels lose any ``subject:`` prefix. Invalid samples are NaN.
    """
    labels, xyz, rate, _ = _read(Path(path))
    return labels, xyz, rate


def _read(path: Path) -> tuple[list[str], np.ndarray, float, str | None]:
    import ezc3d

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such C3D file")
    try:
        c3d = ezc3d.c3d(str(path))
    except Exception as err:  # ezc3d raises plain RuntimeError/IndexError on bad files
        raise FormatError(path, "file", "a readable C3D file", f"ezc3d error: {err}") from None
    params = c3d["parameters"]
    if "POINT" not in params or "LABELS" not in params["POINT"]:
        raise FormatError(path, "POINT:LABELS", "marker labels in the C3D header", "none")
    labels = [strip_prefix(as_str(x)) for x in params["POINT"]["LABELS"]["value"]]
    pts = np.asarray(c3d["data"]["points"], dtype=np.float64)  # (4, M, T)
    if pts.ndim != 3 or pts.shape[0] < 3 or pts.shape[1] != len(labels):
        raise FormatError(
            path, "POINT data", f"(4, {len(labels)} markers, T frames)", str(pts.shape)
        )
    units = params["POINT"].get("UNITS", {}).get("value", ["mm"])
    unit = as_str(units[0]) if len(units) else "mm"
    scale = unit_scale(unit or "mm", path, "POINT:UNITS")
    xyz = pts[:3].transpose(2, 1, 0) * scale  # (T, M, 3)
    residuals = c3d["data"].get("meta_points", {}).get("residuals")
    if residuals is not None and np.shape(residuals)[-2:] == xyz.shape[1::-1]:
        xyz[np.asarray(residuals)[0].T < 0] = np.nan
    rate = float(np.asarray(params["POINT"].get("RATE", {}).get("value", [0]))[0])
    if not rate > 0:
        rate = float(c3d["header"]["points"].get("frame_rate", 0))
    if not rate > 0:
        raise FormatError(path, "POINT:RATE", "a positive frame rate", repr(rate))
    names = params.get("SUBJECTS", {}).get("NAMES", {}).get("value", [])
    subject = as_str(names[0]).strip() if len(names) else None
    return labels, xyz, rate, subject or None


def read_c3d(
    path: str | Path,
    *,
    raw: bool = False,
    max_gap: int | None = None,
    subject: str | None = None,
    action: str | None = None,
    plugin_gait: PluginGaitOptions | None = None,
) -> list[PoseSequence]:
    """Read a C3D file as one `PoseSequence` (world metres).

    Args:
        path: the ``.c3d`` file.
        raw: keep the markers (layout ``markers_<digest>``) instead of h36m17 joints.
        max_gap: interpolate marker gaps (NaN runs) of at most this many frames; a longer
            gap raises `FormatError` naming the marker. ``None`` keeps gaps as NaN.
        subject, action: labels (default: the C3D ``SUBJECTS:NAMES`` entry, the file stem).
        plugin_gait: subject measurements for the Plug-in-Gait joint centres.

    Returns:
        ``[PoseSequence]`` with ``joints_3d`` ``(T, J, 3)`` in metres.
    """
    import ezc3d  # noqa: F401  (fail early with ImportError, not FormatError)

    path = Path(path)
    labels, xyz, rate, file_subject = _read(path)
    xyz = fill_gaps(xyz, labels, max_gap, path)
    joints, layout = markers_to_layout(labels, xyz, path=path, raw=raw, plugin_gait=plugin_gait)
    if subject is None:
        subject = file_subject or path.stem
    return [
        PoseSequence(
            name=f"{subject}/{action or path.stem}",
            subject=subject,
            action=action or path.stem,
            fps=rate,
            skeleton=layout,
            joints_3d=joints,
        )
    ]
