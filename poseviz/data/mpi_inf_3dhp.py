"""MPI-INF-3DHP test set: ``mpi_inf_3dhp_test_set/TS<n>/annot_data.mat``.

Each sequence folder holds an ``annot_data.mat`` with, for n frames:

- ``annot2``: 2D joints in pixels, MATLAB ``2 x 17 x 1 x n``;
- ``annot3``: 3D joints in camera coordinates, millimetres, ``3 x 17 x 1 x n``;
- ``univ_annot3``: ``annot3`` rescaled to the universal (Human3.6M-height) skeleton, the
  3D used for evaluation;
- ``valid_frame``: 1 where the frame is used for evaluation;
- ``activity_annotation``: per-frame activity id 1-7 (below).

The released files are MATLAB v7.3 (HDF5): read with ``h5py`` if installed, where arrays
come out axis-reversed (``n x 1 x 17 x 2``); older v5 files are read with
``scipy.io.loadmat``. Both orders are accepted. Joints are in 3DHP's 17-joint order
(pelvis = joint 14), converted to h36m17 unless ``raw=True``.

The file has no world frame and no intrinsics: ``joints_3d`` is in the camera frame
(metres), the one camera ``"cam0"`` has identity extrinsics and intrinsics fitted by least
squares to ``annot2`` against ``annot3`` (pinhole, `fit_intrinsics`). The image size is
2048x2048 for TS1-TS4 (studio) and 1920x1080 for TS5-TS6 (outdoor), or ``image_size=``.
Invalid frames (``valid_frame == 0``) are NaN unless ``keep_invalid=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from poseviz.data._formats import FormatError, fit_intrinsics
from poseviz.skeleton import convert
from poseviz.structures import Camera, PoseSequence

__all__ = ["ACTIVITIES", "activity_labels", "read_mpi_inf_3dhp"]

ACTIVITIES = {
    1: "Standing/Walking", 2: "Exercising", 3: "Sitting", 4: "Reaching/Crouching",
    5: "On the Floor", 6: "Sports", 7: "Miscellaneous",
}  # fmt: skip

# Per test sequence: image size (width, height) and frame rate. TS1-TS4 are the studio
# sequences (2048x2048), TS5-TS6 outdoor (1920x1080, 50 fps).
_SEQUENCES = {
    "TS1": ((2048, 2048), 25.0), "TS2": ((2048, 2048), 25.0), "TS3": ((2048, 2048), 25.0),
    "TS4": ((2048, 2048), 25.0), "TS5": ((1920, 1080), 50.0), "TS6": ((1920, 1080), 50.0),
}  # fmt: skip


def _load_mat(path: Path) -> dict[str, Any]:
    import scipy.io

    with open(path, "rb") as f:
        head = f.read(128)
    if b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n":
        try:
            import h5py
        except ImportError:
            raise FormatError(
                path,
                "file",
                "a MATLAB file scipy can read; this one is MATLAB v7.3 (HDF5), which needs "
                "h5py: pip install h5py",
                "no h5py installed",
            ) from None
        try:
            with h5py.File(path, "r") as f:
                return {k: np.asarray(f[k]) for k in f.keys() if isinstance(f[k], h5py.Dataset)}
        except OSError as err:
            raise FormatError(
                path, "file", "a readable MATLAB v7.3 (HDF5) file", str(err)
            ) from None
    try:
        return scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as err:
        raise FormatError(
            path,
            "file",
            "a readable MATLAB .mat file",
            f"{type(err).__name__}: {err} (truncated file?)",
        ) from None


def _joints(path: Path, data: dict, key: str, C: int, T: int | None) -> np.ndarray:
    if key not in data:
        raise FormatError(
            path,
            key,
            "a joint annotation array",
            f"no such field (fields: {sorted(k for k in data if not k.startswith('__'))})",
        )
    arr = np.squeeze(np.asarray(data[key], dtype=np.float64))
    if T == 1 and arr.ndim == 2:
        arr = arr[None] if arr.shape == (17, C) else arr.T[None]
    if arr.ndim != 3:
        raise FormatError(
            path, key, f"(n, 1, 17, {C}) or ({C}, 17, 1, n)", str(np.shape(data[key]))
        )
    if arr.shape[1:] == (17, C) and (T is None or arr.shape[0] == T):
        return arr
    if arr.shape[:2] == (C, 17) and (T is None or arr.shape[2] == T):
        return arr.transpose(2, 1, 0)
    raise FormatError(
        path,
        key,
        f"(n, 1, 17, {C}) or ({C}, 17, 1, n) with n = {T} frames",
        str(np.shape(data[key])),
    )


def read_mpi_inf_3dhp(
    path: str | Path,
    *,
    raw: bool = False,
    annotation: str = "univ_annot3",
    keep_invalid: bool = False,
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
    name: str | None = None,
) -> list[PoseSequence]:
    """Read one MPI-INF-3DHP test sequence (its ``annot_data.mat`` or its folder).

    Args:
        path: ``annot_data.mat`` or the ``TS<n>`` folder holding it.
        raw: keep the 3DHP 17-joint layout (``mpi_inf_3dhp17``) instead of h36m17.
        annotation: ``"univ_annot3"`` (evaluation standard) or ``"annot3"``.
        keep_invalid: keep frames marked invalid instead of setting them to NaN.
        image_size: ``(width, height)``; default by sequence name (TS1-TS6).
        fps: frame rate; default 25 (TS1-TS4) or 50 (TS5-TS6).
        name: sequence name; default the folder name.

    Returns:
        ``[PoseSequence]``: ``joints_3d`` ``(T, 17, 3)`` camera-frame metres, camera
        ``"cam0"`` with ``joints_2d`` pixels; action = the activities in order of first
        appearance, joined by ``", "``.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "annot_data.mat"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if annotation not in ("univ_annot3", "annot3"):
        raise ValueError(
            f"read_mpi_inf_3dhp: annotation must be 'univ_annot3' or 'annot3', got {annotation!r}"
        )
    data = _load_mat(path)
    if "valid_frame" not in data:
        raise FormatError(
            path,
            "valid_frame",
            "a per-frame validity array",
            f"no such field (fields: {sorted(k for k in data if not k.startswith('__'))})",
        )
    valid = np.asarray(data["valid_frame"]).reshape(-1).astype(bool)
    T = valid.size
    pts3 = _joints(path, data, annotation, 3, T) / 1000.0
    pts2 = _joints(path, data, "annot2", 2, T)
    cam3 = _joints(path, data, "annot3", 3, T) / 1000.0 if "annot3" in data else pts3
    seq = name or path.parent.name or path.stem
    known = _SEQUENCES.get(seq.upper())
    size = image_size or (known[0] if known else None)
    rate = fps or (known[1] if known else 25.0)
    if size is None:
        raise ValueError(f"{path}: unknown sequence {seq!r}: pass image_size=(width, height)")
    use = valid & np.isfinite(cam3).all(axis=(1, 2)) & np.isfinite(pts2).all(axis=(1, 2))
    fx, fy, cx, cy = fit_intrinsics(cam3[use], pts2[use], path, "annot2/annot3")
    camera = Camera("cam0", size[0], size[1], fx, fy, cx, cy)
    if not keep_invalid:
        pts3, pts2 = pts3.copy(), pts2.copy()
        pts3[~valid] = np.nan
        pts2[~valid] = np.nan
    if "activity_annotation" in data:
        ids = np.asarray(data["activity_annotation"]).reshape(-1).astype(int)
        if ids.size != T:
            raise FormatError(path, "activity_annotation", f"{T} per-frame ids", str(ids.size))
        seen: list[str] = []
        for i in ids:
            label = ACTIVITIES.get(int(i), f"activity {int(i)}")
            if label not in seen:
                seen.append(label)
        action = ", ".join(seen)
    else:
        action = "unknown"
    layout = "mpi_inf_3dhp17"
    if not raw:
        pts3, pts2 = convert(pts3, layout), convert(pts2, layout)
        layout = "h36m17"
    return [
        PoseSequence(
            name=seq,
            subject=seq,
            action=action,
            fps=rate,
            skeleton=layout,
            joints_3d=pts3,
            cameras={"cam0": camera},
            joints_2d={"cam0": pts2},
        )  # fmt: skip
    ]


def activity_labels(path: str | Path) -> np.ndarray:
    """Per-frame activity names of a test sequence (``(T,)`` str), for per-activity tables."""
    path = Path(path)
    data = _load_mat(path / "annot_data.mat" if path.is_dir() else path)
    ids = np.asarray(data.get("activity_annotation", [])).reshape(-1).astype(int)
    return np.array([ACTIVITIES.get(int(i), f"activity {int(i)}") for i in ids])
