"""The demo dataset: the 15 DeepMimic humanoid clips of the ``pybullet`` wheel, in h36m17,
seen by a Human3.6M-like rig of four virtual cameras.

Anyone gets it offline after ``pip install pybullet``: `load_demo` builds it on first use
(forward kinematics of every clip, `poseviz.data.deepmimic`; four cameras per clip,
`poseviz.data.cameras.h36m_like_rig` seeded by the clip's position in the list so rigs
differ between clips like Human3.6M's between subjects; 2D by projection, no noise;
occlusion labels per camera, `poseviz.data.occlusion.label_sequence`) and
caches it in the user cache directory (``platformdirs.user_cache_dir("poseviz")``, or
``$POSEVIZ_CACHE_DIR``) as ``demo_v<DEMO_VERSION>.npz`` (plain arrays and a JSON header,
no pickle). Later calls read the cache; a cache of another version, or made from other
clip files or by other code (reader, cameras, occlusion labels), is rebuilt.

**Split.** Whole clips, so no motion is in both splits: the validation clips are
`VALIDATION_CLIPS` (``dance_b``, ``getup_faceup``, ``run``: 405 of 1621 frames), each with
a sibling motion in training (``dance_a``, ``getup_facedown``, ``walk``). A sequence's
``subject`` is ``"train"`` or ``"val"``, its ``action`` the clip's motion and its name
``"<subject>/<action>"``. Frame rates are the clips' own (16-60 fps).

World frame: Z up, metres, the floor at z = 0 (see `poseviz.data.deepmimic`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.data._formats import FormatError
from poseviz.data.cameras import attach_cameras, h36m_like_rig
from poseviz.data.deepmimic import find_pybullet_motions, read_deepmimic
from poseviz.data.occlusion import label_sequence
from poseviz.structures import Camera, PoseSequence

__all__ = [
    "DEMO_VERSION",
    "VALIDATION_CLIPS",
    "build_demo",
    "demo_cache_path",
    "load_demo",
    "read_demo",
    "save_demo",
]

DEMO_VERSION = 1  # bump when what the cache holds changes
VALIDATION_CLIPS = ("dance_b", "getup_faceup", "run")
_MAGIC = "poseviz-demo"


def demo_cache_path(cache_dir: str | Path | None = None) -> Path:
    """Where the demo cache lives: ``cache_dir``, else ``$POSEVIZ_CACHE_DIR``, else the
    user cache directory of ``poseviz``; the file is ``demo_v<DEMO_VERSION>.npz``."""
    if cache_dir is None:
        cache_dir = os.environ.get("POSEVIZ_CACHE_DIR")
    if cache_dir is None:
        import platformdirs

        cache_dir = platformdirs.user_cache_dir("poseviz")
    return Path(cache_dir) / f"demo_v{DEMO_VERSION}.npz"


def _source_stamp(clips: list[Path]) -> str:
    """Digest of the clip files and of the code that turns them into the demo (reader,
    skeleton maps, cameras, occlusion labels): a cache made from other clips or by other
    code is rebuilt."""
    import poseviz.data.cameras
    import poseviz.data.deepmimic
    import poseviz.data.occlusion
    import poseviz.skeleton.layouts

    h = hashlib.sha1(f"demo v{DEMO_VERSION}".encode())
    for p in clips:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    for module in (
        poseviz.data.deepmimic,
        poseviz.data.cameras,
        poseviz.data.occlusion,
        poseviz.skeleton.layouts,
    ):
        h.update(Path(module.__file__ or "").read_bytes())
    return h.hexdigest()


def build_demo(*, progress: bool = True) -> list[PoseSequence]:
    """Build the demo sequences from the installed pybullet clips (no caching).

    Returns 15 `PoseSequence` in h36m17 (world metres, Z up), each with cameras
    ``cam0``..``cam3``, their ``joints_2d`` (pixels) and ``occluded`` labels.
    """
    from tqdm.auto import tqdm

    out = []
    clips = find_pybullet_motions()
    for i, path in enumerate(
        tqdm(clips, desc="building demo dataset", unit="clip", disable=not progress)
    ):
        action = path.stem.removeprefix("humanoid3d_")
        subject = "val" if action in VALIDATION_CLIPS else "train"
        seq = read_deepmimic(path, subject=subject, action=action)[0]
        seq = attach_cameras(seq, h36m_like_rig(seq.joints_3d, seed=i))
        seq.occluded = label_sequence(seq)
        out.append(seq)
    return out


def save_demo(sequences: list[PoseSequence], path: str | Path, *, stamp: str = "") -> Path:
    """Write sequences as a demo cache ``.npz`` (atomically: a temporary file, renamed).

    Four arrays, whatever the number of sequences (each array of an ``.npz`` costs a few
    milliseconds to open): ``header`` (JSON: labels, cameras, frame counts), ``joints_3d``
    ``(sum T, J, 3)``, ``joints_2d`` ``(sum T x views, J, 2)`` and ``occluded``
    ``(sum T x views, J)``, concatenated in the header's order.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header: dict[str, Any] = {
        "format": _MAGIC,
        "version": DEMO_VERSION,
        "stamp": stamp,
        "sequences": [],
    }
    j3d, j2d, occ = [], [], []
    for s in sequences:
        if s.joints_3d is None:
            raise ValueError(f"save_demo: sequence {s.name!r} has no joints_3d")
        header["sequences"].append(
            {
                "name": s.name,
                "subject": s.subject,
                "action": s.action,
                "fps": s.fps,
                "skeleton": s.skeleton,
                "frames": s.num_frames,
                "cameras": [c.to_dict() for c in s.cameras.values()],
                "views_2d": sorted(s.joints_2d),
                "views_occluded": sorted(s.occluded),
            }
        )
        j3d.append(s.joints_3d)
        j2d.extend(s.joints_2d[c] for c in sorted(s.joints_2d))
        occ.extend(s.occluded[c] for c in sorted(s.occluded))
    J = j3d[0].shape[1] if j3d else 0
    arrays = {
        "header": np.array(json.dumps(header)),
        "joints_3d": np.concatenate(j3d) if j3d else np.zeros((0, J, 3)),
        "joints_2d": np.concatenate(j2d) if j2d else np.zeros((0, J, 2)),
        "occluded": np.concatenate(occ) if occ else np.zeros((0, J), bool),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)
    return path


def _read_header(path: Path, data: Any) -> dict[str, Any]:
    if "header" not in data.files:
        raise FormatError(
            path, "header", "a poseviz demo cache (key 'header')", f"{data.files[:5]}"
        )
    try:
        header = json.loads(str(data["header"]))
    except json.JSONDecodeError as err:
        raise FormatError(path, "header", "JSON", str(err)) from None
    if header.get("format") != _MAGIC:
        raise FormatError(path, "header.format", repr(_MAGIC), repr(header.get("format")))
    return header


def read_demo(path: str | Path) -> list[PoseSequence]:
    """Read a demo cache written by `save_demo` (no pickle) into `PoseSequence` records."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise FormatError(path, "file", "a poseviz demo cache (.npz)", str(err)) from None
    with data:
        header = _read_header(path, data)
        try:
            j3d, j2d, occ = data["joints_3d"], data["joints_2d"], data["occluded"]
        except KeyError as err:
            raise FormatError(
                path, "arrays", "joints_3d, joints_2d and occluded", f"missing {err}"
            ) from None
    out = []
    a3 = a2 = ao = 0
    for i, meta in enumerate(header["sequences"]):
        try:
            T = int(meta["frames"])
            views_2d, views_occ = meta["views_2d"], meta["views_occluded"]
            joints_2d, occluded = {}, {}
            for c in views_2d:
                joints_2d[c], a2 = j2d[a2 : a2 + T], a2 + T
            for c in views_occ:
                occluded[c], ao = occ[ao : ao + T], ao + T
            seq = PoseSequence(
                name=meta["name"],
                subject=meta["subject"],
                action=meta["action"],
                fps=meta["fps"],
                skeleton=meta["skeleton"],
                joints_3d=j3d[a3 : a3 + T],
                cameras={c["id"]: Camera.from_dict(c) for c in meta["cameras"]},
                joints_2d=joints_2d,
                occluded=occluded,
            )
        except (KeyError, ValueError) as err:
            raise FormatError(
                path, f"sequence {i}", "its header fields and arrays", str(err)
            ) from None
        a3 += T
        out.append(seq)
    if (a3, a2, ao) != (len(j3d), len(j2d), len(occ)):
        raise FormatError(
            path,
            "arrays",
            f"{a3}, {a2} and {ao} frames as the header says",
            f"{len(j3d)}, {len(j2d)}, {len(occ)}",
        )
    return out


def load_demo(
    *, rebuild: bool = False, progress: bool = True, cache_dir: str | Path | None = None
) -> list[PoseSequence]:
    """The demo dataset (see the module docstring): built on first use, then read from
    the cache.

    Args:
        rebuild: build again even when a valid cache exists.
        progress: show a progress bar while building.
        cache_dir: folder of the cache (default `demo_cache_path`'s).

    Returns:
        15 `PoseSequence` (subjects ``"train"`` / ``"val"``) in h36m17, world metres,
        with four cameras each, their 2D keypoints in pixels and occlusion labels.
    """
    path = demo_cache_path(cache_dir)
    stamp = _source_stamp(find_pybullet_motions())
    if path.is_file() and not rebuild:
        try:
            with np.load(path, allow_pickle=False) as data:
                valid = _read_header(path, data).get("stamp") == stamp
        except (OSError, ValueError):
            valid = False
        if valid:
            return read_demo(path)
    sequences = build_demo(progress=progress)
    save_demo(sequences, path, stamp=stamp)
    return sequences
