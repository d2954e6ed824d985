"""MotionBERT's preprocessed Human3.6M pickle (``h36m_sh_conf_cam_source_final.pkl``).

Structure: ``{"train": split, "test": split}``, each split a dict of per-frame arrays over
all clips concatenated (N frames in total):

- ``joint_2d`` ``(N, 17, 2)``: detected 2D keypoints in pixels (h36m17 order);
- ``confidence`` ``(N, 17)`` or ``(N, 17, 1)``: detector scores;
- ``joint3d_image`` ``(N, 17, 3)``: 3D in image space: ``x, y`` in pixels and depth in
  pixel-scaled units;
- ``2.5d_factor`` ``(N,)``: millimetres per pixel unit, so ``joint3d_image * 2.5d_factor``
  is the pose in millimetres (MotionBERT evaluates root-relative errors on it; the file
  may carry the product as ``joints_2.5d_image``);
- ``camera_name`` ``(N,)``: Human3.6M camera id per frame;
- ``source`` ``(N,)``: clip name per frame, e.g. ``s_09_act_02_subact_01_ca_01``;
- ``action`` ``(N,)`` (optional): action names.

Frames are grouped into sequences by runs of equal ``source``. The file has no world frame:
``joints_3d`` is the 2.5D pose in metres, ``joint3d_image * 2.5d_factor / 1000``, with axes
of the image (x right, y down, z away from the camera), and the sequence's one camera has
the published Human3.6M intrinsics with identity extrinsics. This camera says which view
and which image size the 2D keypoints belong to; the 2.5D pose is not a perspective
reconstruction, so projecting ``joints_3d`` through it does not reproduce ``joints_2d``.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from poseviz.data._formats import FormatError, as_str
from poseviz.data.h36m import H36M_CAMERA_INTRINSICS, H36M_FPS
from poseviz.structures import Camera, PoseSequence

__all__ = ["H36M_ACTIONS", "read_motionbert"]

# Human3.6M action ids as used in its file names (act_02 ... act_16).
H36M_ACTIONS = {
    2: "Directions", 3: "Discussion", 4: "Eating", 5: "Greeting", 6: "Phoning", 7: "Posing",
    8: "Purchases", 9: "Sitting", 10: "SittingDown", 11: "Smoking", 12: "Photo",
    13: "Waiting", 14: "Walking", 15: "WalkDog", 16: "WalkTogether",
}  # fmt: skip

_SOURCE = re.compile(r"s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)")
_REQUIRED = ("joint_2d", "joint3d_image", "2.5d_factor", "camera_name", "source")


def _camera(cam_id: str) -> Camera | None:
    for intr in H36M_CAMERA_INTRINSICS:
        if intr["id"] == cam_id:
            k1, k2, k3 = intr["k"]
            p1, p2 = intr["p"]
            return Camera(
                cam_id, intr["size"][0], intr["size"][1], intr["f"][0], intr["f"][1],
                intr["c"][0], intr["c"][1], k1=k1, k2=k2, p1=p1, p2=p2, k3=k3,
            )  # fmt: skip
    return None


def _array(path: Path, split: str, data: Mapping, key: str, shape: tuple) -> np.ndarray:
    where = f"[{split!r}][{key!r}]"
    try:
        arr = np.asarray(data[key])
    except KeyError:
        raise FormatError(
            path, where, "a per-frame array", f"no such key (keys: {sorted(data)})"
        ) from None
    if arr.ndim != len(shape) or any(
        s is not None and s != g for s, g in zip(shape, arr.shape, strict=False)
    ):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise FormatError(path, where, f"shape {want}", str(arr.shape))
    return arr


def read_motionbert(
    path: str | Path,
    *,
    splits: Sequence[str] = ("train", "test"),
    subjects: Sequence[str] | None = None,
    fps: float = H36M_FPS,
) -> list[PoseSequence]:
    """Read MotionBERT's Human3.6M pickle into one `PoseSequence` per clip.

    Args:
        path: the ``.pkl`` file.
        splits: which of ``"train"``, ``"test"`` to read.
        subjects: keep only these subjects (``"S9"``...).
        fps: frame rate (Human3.6M: 50).

    Returns:
        Sequences named after the clip source, subject ``"S<n>"``, action from ``action``
        or the action id, ``joints_3d`` 2.5D metres (see the module docstring), one camera
        with ``joints_2d`` pixels and ``confidence``. Layout h36m17.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            data = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as err:
        raise FormatError(
            path, "file", "a MotionBERT pickle", f"{type(err).__name__}: {err} (truncated file?)"
        ) from None
    if not isinstance(data, Mapping):
        raise FormatError(path, "top level", "a dict with 'train' and 'test'", type(data).__name__)
    out: list[PoseSequence] = []
    for split in splits:
        if split not in data:
            raise FormatError(
                path, f"[{split!r}]", "a split dict", f"no such key (keys: {sorted(data)})"
            )
        part = data[split]
        if not isinstance(part, Mapping):
            raise FormatError(
                path, f"[{split!r}]", "a dict of per-frame arrays", type(part).__name__
            )
        j2d = _array(path, split, part, "joint_2d", (None, 17, None))
        N = j2d.shape[0]
        j2d = _array(path, split, part, "joint_2d", (N, 17, None))[..., :2].astype(np.float64)
        j3d = _array(path, split, part, "joint3d_image", (N, 17, 3)).astype(np.float64)
        factor = _array(path, split, part, "2.5d_factor", (N,)).astype(np.float64)
        cams = [as_str(c) for c in _array(path, split, part, "camera_name", (N,))]
        sources = [as_str(s) for s in _array(path, split, part, "source", (N,))]
        actions = (
            [as_str(a) for a in _array(path, split, part, "action", (N,))]
            if "action" in part
            else None
        )
        conf = None
        if "confidence" in part:
            conf = np.asarray(part["confidence"], dtype=np.float64)
            if conf.shape == (N, 17, 1):
                conf = conf[..., 0]
            if conf.shape != (N, 17):
                raise FormatError(
                    path,
                    f"[{split!r}]['confidence']",
                    f"shape ({N}, 17) or ({N}, 17, 1)",
                    str(conf.shape),
                )
        for key, arr in (("joint_2d", j2d), ("joint3d_image", j3d), ("2.5d_factor", factor)):
            bad = ~np.isfinite(arr)
            if bad.any():
                raise FormatError(
                    path,
                    f"[{split!r}][{key!r}]",
                    "finite values",
                    f"NaN or inf at frame {int(np.argwhere(bad)[0, 0])}",
                )
        starts = [0] + [i for i in range(1, N) if sources[i] != sources[i - 1]] + [N]
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            src = sources[a]
            m = _SOURCE.fullmatch(src)
            subject = f"S{int(m.group(1))}" if m else src.split("_")[0]
            if subjects is not None and subject not in subjects:
                continue
            if actions is not None:
                action = actions[a]
            elif m:
                act_id = int(m.group(2))
                action = H36M_ACTIONS.get(act_id, f"act_{act_id:02d}")
                action = f"{action} {int(m.group(3))}"
            else:
                action = src
            cam_id = cams[a]
            if any(c != cam_id for c in cams[a:b]):
                raise FormatError(
                    path,
                    f"[{split!r}]['camera_name'] frames {a}-{b - 1}",
                    f"one camera per source clip {src!r}",
                    "several",
                )
            camera = _camera(cam_id)
            joints_3d = j3d[a:b] * factor[a:b, None, None] / 1000.0
            out.append(
                PoseSequence(
                    name=f"{split}/{src}",
                    subject=subject,
                    action=action,
                    fps=fps,
                    skeleton="h36m17",
                    joints_3d=joints_3d,
                    cameras={cam_id: camera} if camera else {},
                    joints_2d={cam_id: j2d[a:b]},
                    confidence={cam_id: np.clip(conf[a:b], 0, 1)} if conf is not None else {},
                )
            )
    return out
