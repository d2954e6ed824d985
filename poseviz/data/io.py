"""`load`: read any supported file (or folder) into `PoseSequence` records.

The format comes from ``format=`` or is detected from the extension and, where the
extension is ambiguous (``.npz``, ``.txt``, ``.json``) or missing, from the content:

=================  ====================================================================
format             what
=================  ====================================================================
``h36m``           VideoPose3D ``data_3d_*.npz`` / ``data_2d_*.npz`` (Human3.6M, HumanEva)
``motionbert``     MotionBERT's Human3.6M pickle (``.pkl``)
``mpi_inf_3dhp``   MPI-INF-3DHP test-set ``annot_data.mat`` (or its ``TS*`` folder)
``c3d``            C3D marker files (``ezc3d``)
``bvh``            BVH motion files
``trc``            TRC marker files (OpenSim / Pose2Sim)
``keypoints``      plain ``.npz`` / ``.csv`` 2D or 3D keypoints with a declared layout
``pose2sim``       a Pose2Sim project folder or its Qualisys ``Calib.qca.txt``
``deepmimic``      DeepMimic motion ``.txt`` (JSON with ``Loop`` and ``Frames``)
``demo``           the demo dataset's cache ``demo_v*.npz`` (`poseviz.data.demo`)
(a folder)         any other folder: every recognised data file under it
=================  ====================================================================

Every reader returns world 3D in metres and 2D in pixels, converted to ``h36m17`` unless
``raw=True`` asks for the file's own layout.
"""

from __future__ import annotations

import importlib
import inspect
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from poseviz.data._formats import FormatError
from poseviz.structures import PoseSequence

__all__ = ["FORMATS", "detect_format", "get_reader", "load"]

# format -> (module, function); imported on first use so `import poseviz.data` stays light.
FORMATS: dict[str, tuple[str, str]] = {
    "h36m": ("poseviz.data.h36m", "read_h36m"),
    "motionbert": ("poseviz.data.motionbert", "read_motionbert"),
    "mpi_inf_3dhp": ("poseviz.data.mpi_inf_3dhp", "read_mpi_inf_3dhp"),
    "c3d": ("poseviz.data.c3d", "read_c3d"),
    "bvh": ("poseviz.data.bvh", "read_bvh"),
    "trc": ("poseviz.data.trc", "read_trc"),
    "keypoints": ("poseviz.data.keypoints", "read_keypoints"),
    "pose2sim": ("poseviz.data.pose2sim", "read_pose2sim"),
    "deepmimic": ("poseviz.data.deepmimic", "read_deepmimic"),
    "demo": ("poseviz.data.demo", "read_demo"),
}

_BY_SUFFIX = {
    ".c3d": "c3d",
    ".bvh": "bvh",
    ".trc": "trc",
    ".csv": "keypoints",
    ".mat": "mpi_inf_3dhp",
    ".pkl": "motionbert",
    ".pickle": "motionbert",
}


def get_reader(format: str) -> Callable[..., list[PoseSequence]]:
    """The reader function of a format name (see `FORMATS`)."""
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; known formats: {sorted(FORMATS)}")
    module, func = FORMATS[format]
    try:
        return getattr(importlib.import_module(module), func)
    except ImportError as err:
        raise ValueError(
            f"the {format!r} reader ({module}.{func}) is not available in this installation: {err}"
        ) from None


def _npz_keys(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return [n[:-4] if n.endswith(".npy") else n for n in zf.namelist()]
    except (zipfile.BadZipFile, OSError) as err:
        raise FormatError(path, "file", "an .npz archive (zip of .npy arrays)", str(err)) from None


def _sniff_text(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(4096)
    text = head.decode("utf-8", errors="replace").lstrip()
    if text.startswith("HIERARCHY"):
        return "bvh"
    if text.startswith("PathFileType"):
        return "trc"
    if text.startswith("<?xml") or text.startswith("<calibration"):
        if "<calibration" in text:
            return "pose2sim"
    if text.startswith("{"):
        try:
            data = json.loads(path.read_text(errors="replace"))
        except json.JSONDecodeError:
            return None
        if isinstance(data, dict) and "Frames" in data and "Loop" in data:
            return "deepmimic"
    if len(head) > 1 and head[1] == 0x50:  # C3D: byte 2 of the header is the key 0x50
        return "c3d"
    return None


_DATA_SUFFIXES = (*_BY_SUFFIX, ".npz", ".txt", ".json")


def _folder_format(path: Path) -> str | None:
    if list(path.glob("calibration/*.qca.txt")) or list(path.glob("*.qca.txt")):
        return "pose2sim"
    if (path / "annot_data.mat").is_file():
        return "mpi_inf_3dhp"
    return None


def _data_files(folder: Path) -> list[tuple[Path, str]]:
    """Files under ``folder`` (recursively) whose format is recognised, sorted by path."""
    found = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in _DATA_SUFFIXES:
            continue
        try:
            found.append((p, detect_format(p)))
        except FormatError:
            if p.suffix.lower() not in (".txt", ".json"):  # text notes are not data
                raise
    return found


def detect_format(path: str | Path) -> str:
    """Name of the format of ``path`` (a file or a dataset folder); see the module table.

    A folder that is neither a Pose2Sim project nor an MPI-INF-3DHP sequence reports
    ``"folder"``: `load` then reads every recognised data file under it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return _folder_format(path) or "folder"
    name = path.name.lower()
    if name.endswith(".qca.txt"):
        return "pose2sim"
    if path.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[path.suffix.lower()]
    if path.suffix.lower() == ".npz":
        keys = _npz_keys(path)
        if "positions_3d" in keys or "positions_2d" in keys:
            return "h36m"
        if "keypoints" in keys:
            return "keypoints"
        if "header" in keys and "joints_3d" in keys:
            return "demo"
        raise FormatError(
            path,
            "keys",
            "'positions_3d' / 'positions_2d' (VideoPose3D), 'keypoints' (plain keypoints) "
            "or 'header' (the demo cache)",
            f"{keys}",
        )
    found = _sniff_text(path)
    if found is None:
        raise FormatError(
            path,
            "format",
            f"a known extension ({sorted(_BY_SUFFIX)} .npz .qca.txt) or content "
            f"(BVH, TRC, DeepMimic JSON, Qualisys XML, C3D); pass format= among {sorted(FORMATS)}",
            "neither",
        )
    return found


def load(path: str | Path, format: str | None = None, **options: Any) -> list[PoseSequence]:
    """Read ``path`` into a list of `PoseSequence` (world 3D in metres, 2D in pixels).

    Args:
        path: a file; a Pose2Sim project or MPI-INF-3DHP sequence folder; or any other
            folder, whose recognised data files (recursively) are all read.
        format: a name from `FORMATS`; detected from the file when omitted.
        **options: passed to the format's reader (e.g. ``raw=True`` to keep the file's own
            joint layout instead of h36m17, ``unit="cm"`` for BVH, ``layout="coco17"`` for
            plain keypoints). Unknown options raise `ValueError` listing the accepted ones.

    Returns:
        One `PoseSequence` per recorded sequence in the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    fmt = format or detect_format(path)
    if path.is_dir() and (fmt == "folder" or _folder_format(path) is None):
        return _load_folder(path, None if fmt == "folder" else fmt, options)
    reader = get_reader(fmt)
    params = inspect.signature(reader).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    known = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown and not accepts_any:
        raise ValueError(
            f"load({path.name!r}): option(s) {unknown} not understood by the {fmt!r} reader; "
            f"it accepts {known}"
        )
    sequences = reader(path, **options)
    if not isinstance(sequences, list):
        sequences = list(sequences)
    return sequences


def _load_folder(folder: Path, format: str | None, options: dict[str, Any]) -> list[PoseSequence]:
    """Every recognised data file under ``folder`` (or only those of ``format``)."""
    from tqdm.auto import tqdm

    files = [(p, f) for p, f in _data_files(folder) if format is None or f == format]
    if not files:
        raise FormatError(
            folder,
            "folder",
            "data files of a known format (or a Pose2Sim / MPI-INF-3DHP folder)",
            f"none among {sorted(p.name for p in folder.iterdir())[:10]}",
        )
    out: list[PoseSequence] = []
    for p, f in tqdm(files, desc=f"reading {folder.name}", unit="file", disable=len(files) < 5):
        out.extend(load(p, format=f, **options))
    return out
