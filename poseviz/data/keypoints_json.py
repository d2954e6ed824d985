"""2D keypoints that other detectors wrote as JSON: COCO-17 files and OpenPose / Pose2Sim
per-frame files. Each becomes one `PoseSequence` with one view's ``joints_2d``,
``confidence`` (and ``occluded`` where the file says) for the one person `track_person`
follows; frames where that person is missing are interpolated with confidence 0.

**COCO** (``format="coco_json"``), one file for the whole video, either

- a results list ``[{"image_id": ..., "keypoints": [x1, y1, s1, ... x17, y17, s17],
  "score": ...}, ...]``: frames are the sorted image ids, ``s`` a confidence in [0, 1]
  (clipped); or
- an annotation file ``{"images": [{"id": ...}, ...], "annotations": [{"image_id": ...,
  "keypoints": [x, y, v, ...]}, ...]}``: frames are the images in the file's order, ``v`` is
  COCO's flag (0 not labelled -> missing, 1 labelled but hidden -> occluded, 2 visible).

**OpenPose / Pose2Sim** (``format="openpose_json"``): a folder of per-frame files
(``<name>_<frame>_keypoints.json``, ordered by the frame number in the name) or one file,
each ``{"people": [{"pose_keypoints_2d": [x, y, c, ...]}, ...]}``. The keypoint count
gives the layout: 25 = OpenPose BODY_25 (``openpose_body25``); 17 = COCO-17; 26 (HALPE_26,
Pose2Sim's default) and 133 (COCO-WholeBody) start with the COCO-17 body joints, which are
used. A point ``(0, 0, 0)`` is missing.

Both convert to h36m17 unless ``raw=True`` (then the layout is ``coco17`` or
``openpose_body25``). Pixels are kept as written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.data._formats import FormatError
from poseviz.data.tracking import track_person
from poseviz.skeleton import get_converter, get_skeleton
from poseviz.structures import PoseSequence

__all__ = ["candidates_to_sequence", "read_coco_json", "read_openpose_json"]

# keypoint count in an OpenPose-style file -> (layout, how many leading points it uses)
_OPENPOSE_LAYOUTS = {
    25: ("openpose_body25", 25),
    17: ("coco17", 17),
    26: ("coco17", 17),
    133: ("coco17", 17),
}


def candidates_to_sequence(
    points: list[np.ndarray],
    confidence: list[np.ndarray],
    occluded: list[np.ndarray] | None,
    *,
    layout: str,
    name: str,
    fps: float,
    camera: str,
    raw: bool = False,
    path: str | Path = "",
    video: str | None = None,
    max_distance: float = 0.35,
) -> PoseSequence:
    """Track one person through per-frame candidates and build a one-view `PoseSequence`.

    Args:
        points: T arrays ``(P_t, J, 2)`` pixels in ``layout`` (NaN = missing joint).
        confidence: T arrays ``(P_t, J)`` in [0, 1].
        occluded: T arrays ``(P_t, J)`` bool, or None when the source has no such flags.
        layout: the candidates' joint layout; converted to h36m17 unless ``raw``.
        name, fps, camera, video: sequence name, frame rate, view id, video path (optional).
        max_distance: the tracker's match threshold (`poseviz.data.tracking.PersonTracker`).
    """
    J = get_skeleton(layout).num_joints
    conv = None if raw else get_converter(layout)
    pts_out, conf_out, occ_out = [], [], []
    for t, (p, c) in enumerate(zip(points, confidence, strict=True)):
        p = np.asarray(p, dtype=np.float64).reshape(-1, J, 2)
        c = np.asarray(c, dtype=np.float64).reshape(-1, J)
        o = None if occluded is None else np.asarray(occluded[t], dtype=bool).reshape(-1, J)
        if conv is not None:
            # The converter's matrix product would spread one NaN joint to every joint
            # (0 * NaN): convert zeros, then mark the joints built from a missing one.
            missing = ~np.isfinite(p).all(-1)
            p, c = conv(np.where(missing[..., None], 0.0, p), c)
            lost = np.stack([missing[:, list(s)].any(-1) for s in conv.sources], -1)
            p[lost] = np.nan
            if o is not None:
                o = np.stack([o[:, list(s)].any(-1) for s in conv.sources], -1)
        pts_out.append(p)
        conf_out.append(c)
        occ_out.append(o)
    try:
        track = track_person(
            pts_out,
            conf_out,
            None if occluded is None else occ_out,
            max_distance=max_distance,
        )
    except ValueError as err:
        raise FormatError(path, "people", "at least one detected person", str(err)) from None
    seq_layout = layout if raw else "h36m17"
    return PoseSequence(
        name=name,
        subject=name,
        action=name,
        fps=fps,
        skeleton=seq_layout,
        joints_2d={camera: track.joints_2d},
        confidence={camera: track.confidence},
        occluded={} if track.occluded is None else {camera: track.occluded},
        video={} if video is None else {camera: video},
    )


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(errors="replace"))
    except json.JSONDecodeError as err:
        raise FormatError(path, "JSON", "well-formed JSON", str(err)) from None


def _triplets(path: Path, values: Any, J: int, where: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(path, where, "a list of numbers", repr(values)[:60]) from None
    if arr.ndim != 1 or arr.size != 3 * J:
        raise FormatError(
            path, where, f"{3 * J} numbers (x, y, score for {J} joints)", str(arr.size)
        )
    return arr.reshape(J, 3)


def read_coco_json(
    path: str | Path,
    *,
    raw: bool = False,
    fps: float = 30.0,
    camera: str = "cam0",
    video: str | None = None,
) -> list[PoseSequence]:
    """Read a COCO-17 keypoint JSON (results list or annotation file; module docstring).

    Args:
        path: the ``.json`` file.
        raw: keep COCO-17 instead of converting to h36m17.
        fps: frame rate of the frames (the file does not store it).
        camera: id of the view.
        video: path of the video the frames come from (optional, kept on the sequence).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = _load_json(path)
    if isinstance(data, list):
        anns, flags = data, False
        ids = sorted({a.get("image_id") for a in anns if isinstance(a, dict)}, key=_sort_key)
    elif isinstance(data, dict) and isinstance(data.get("annotations"), list):
        anns, flags = data["annotations"], True
        images = data.get("images")
        if isinstance(images, list) and images:
            ids = [im.get("id") for im in images if isinstance(im, dict)]
        else:
            ids = sorted({a.get("image_id") for a in anns if isinstance(a, dict)}, key=_sort_key)
    else:
        raise FormatError(
            path,
            "top level",
            "a COCO results list or a dict with 'annotations' (and 'images')",
            type(data).__name__,
        )
    frame_of = {i: t for t, i in enumerate(ids)}
    T = len(ids)
    pts: list[list[np.ndarray]] = [[] for _ in range(T)]
    conf: list[list[np.ndarray]] = [[] for _ in range(T)]
    occ: list[list[np.ndarray]] = [[] for _ in range(T)]
    for k, ann in enumerate(anns):
        where = f"annotations[{k}]" if flags else f"[{k}]"
        if not isinstance(ann, dict) or "keypoints" not in ann or "image_id" not in ann:
            raise FormatError(
                path, where, "an object with 'image_id' and 'keypoints'", repr(ann)[:60]
            )
        if ann["image_id"] not in frame_of:
            raise FormatError(
                path, f"{where}.image_id", "an id listed in 'images'", repr(ann["image_id"])
            )
        kp = _triplets(path, ann["keypoints"], 17, f"{where}.keypoints")
        xy, s = kp[:, :2].copy(), kp[:, 2]
        if flags:
            missing = s <= 0
            c = np.where(missing, 0.0, 1.0)
            o = s == 1
        else:
            missing = (s <= 0) & (xy == 0).all(-1)
            c = np.clip(s, 0.0, 1.0)
            o = np.zeros(17, dtype=bool)
        xy[missing] = np.nan
        t = frame_of[ann["image_id"]]
        pts[t].append(xy)
        conf[t].append(c)
        occ[t].append(o)
    stack = _stacker(17)
    return [
        candidates_to_sequence(
            [stack(p, 2) for p in pts],
            [stack(c, None) for c in conf],
            [stack(o, None).astype(bool) for o in occ] if flags else None,
            layout="coco17",
            name=path.stem,
            fps=fps,
            camera=camera,
            raw=raw,
            path=path,
            video=video,
        )
    ]


def _stacker(J: int):
    def stack(items: list[np.ndarray], C: int | None) -> np.ndarray:
        shape = (0, J, C) if C else (0, J)
        return np.stack(items) if items else np.zeros(shape)

    return stack


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


_FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _frame_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".json"]
    if not files:
        raise FormatError(path, "folder", "per-frame OpenPose .json files", "none")

    def key(p: Path) -> tuple[int, str]:
        m = _FRAME_NUMBER.search(p.stem)
        return (int(m.group(1)) if m else -1, p.name)

    return sorted(files, key=key)


def read_openpose_json(
    path: str | Path,
    *,
    raw: bool = False,
    fps: float = 30.0,
    camera: str | None = None,
    video: str | None = None,
) -> list[PoseSequence]:
    """Read OpenPose / Pose2Sim per-frame JSON (a folder of frames or one file).

    Args:
        path: the folder of ``*.json`` frames (e.g. Pose2Sim's ``pose/cam01_json``) or a file.
        raw: keep the file's layout (``openpose_body25`` or ``coco17``) instead of h36m17.
        fps: frame rate (the files do not store it).
        camera: id of the view (default: the folder name without ``_json``).
        video: path of the video the frames come from (optional).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    files = _frame_files(path)
    layout = None
    pts, conf = [], []
    for f in files:
        data = _load_json(f)
        people = data.get("people") if isinstance(data, dict) else None
        if not isinstance(people, list):
            raise FormatError(f, "people", "a list of people", type(people).__name__)
        frame_pts, frame_conf = [], []
        for k, person in enumerate(people):
            values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
            if not isinstance(values, list):
                raise FormatError(
                    f, f"people[{k}].pose_keypoints_2d", "a list of numbers", repr(values)[:60]
                )
            n = len(values) // 3
            if n not in _OPENPOSE_LAYOUTS or len(values) % 3:
                raise FormatError(
                    f,
                    f"people[{k}].pose_keypoints_2d",
                    f"x, y, c triplets for {sorted(_OPENPOSE_LAYOUTS)} keypoints",
                    f"{len(values)} numbers",
                )
            this_layout, used = _OPENPOSE_LAYOUTS[n]
            if layout is None:
                layout = this_layout
            elif layout != this_layout:
                raise FormatError(
                    f, "pose_keypoints_2d", f"{layout} keypoints like earlier frames", this_layout
                )
            kp = _triplets(f, values, n, f"people[{k}].pose_keypoints_2d")[:used]
            xy = kp[:, :2].copy()
            missing = (kp[:, 2] <= 0) & (xy == 0).all(-1)
            xy[missing] = np.nan
            frame_pts.append(xy)
            frame_conf.append(np.clip(kp[:, 2], 0.0, 1.0))
        pts.append(frame_pts)
        conf.append(frame_conf)
    if layout is None:
        raise FormatError(
            path, "people", "at least one detected person", f"none in {len(files)} frame(s)"
        )
    stack = _stacker(get_skeleton(layout).num_joints)
    cam = camera or (path.name if path.is_dir() else path.parent.name).removesuffix("_json")
    return [
        candidates_to_sequence(
            [stack(p, 2) for p in pts],
            [stack(c, None) for c in conf],
            None,
            layout=layout,
            name=(path if path.is_dir() else path.parent).name,
            fps=fps,
            camera=cam or "cam0",
            raw=raw,
            path=path,
            video=video,
        )
    ]
