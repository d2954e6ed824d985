"""BVH motion files: hierarchy + motion, forward kinematics, map to h36m17.

A BVH file declares a joint tree (``ROOT``/``JOINT`` with an ``OFFSET`` from the parent and a
``CHANNELS`` list, ``End Site`` leaves) and then one line of channel values per frame. Each
joint's local transform is a translation (``OFFSET`` plus any position channels) and a
rotation composed from its rotation channels in the order they are listed, as intrinsic
rotations in degrees: ``Zrotation Xrotation Yrotation`` is ``Rz @ Rx @ Ry``
(`poseviz.geometry.euler_to_matrix`). World positions follow the chain from the root.

**Units.** BVH has no unit field. ``unit="auto"`` estimates the rest pose's stature (its
largest extent over the three axes, joints and end sites) and reads it as metres when it is
0.5-2.5, inches when 25-100, centimetres when 100-250 and millimetres when 500-2500 (an
adult is 1.5-2.0 m tall; a T-pose's arm span is about the stature); anything else is an
error asking for ``unit=``. The CMU clips converted for ``Auto_Conditioned_RNN_motion``
("Daz-friendly" rig, hip height ~85) measure ~153 and read as centimetres.

**Joint maps.** A map says how each h36m17 joint is built from the skeleton's points: a
tuple of point references whose mean is the joint. A reference is a joint name, the end
site of a joint (``"<joint>_end"``) or ``(joint, (x, y, z))``, a point fixed in that joint's
frame at that offset (file units). Built in: `CMU_DAZ_MAP` (the CMU "Daz-friendly" rig:
``hip, abdomen, chest, neck, head, lShldr, lForeArm, lHand, lThigh, lShin, lFoot``...) and
`HIPS_MAP` (the common ``Hips, Spine1, Neck, Head, LeftArm, LeftForeArm, LeftHand, LeftUpLeg,
LeftLeg, LeftFoot`` naming of CMU-ASF conversions, LAFAN1 and Mixamo; ``mixamorig:``
prefixes and case are ignored), one of which is picked from the file's joint names.
`CMU_DAZ_DETECTOR_MAP` (``mapping="cmu_daz_detector"``) is the CMU rig with spine, thorax,
neck_nose and head where 2D detectors' keypoints put them (nose, eyes, shoulders). Pass
``mapping=`` for any other rig, or ``raw=True`` to keep the BVH joints.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np

from poseviz.data._formats import FormatError, ensure_skeleton, unit_scale
from poseviz.geometry import euler_to_matrix
from poseviz.skeleton.layouts import H36M17
from poseviz.structures import PoseSequence

__all__ = [
    "BVH_MAPS",
    "CMU_DAZ_DETECTOR_MAP",
    "CMU_DAZ_MAP",
    "HIPS_MAP",
    "BvhSkeleton",
    "bvh_forward_kinematics",
    "detect_unit",
    "parse_bvh",
    "read_bvh",
]

PointRef = Union[str, tuple[str, tuple[float, float, float]]]  # noqa: UP007
JointMap = Mapping[str, Sequence[PointRef]]

# CMU "Daz-friendly" rig (centimetres, Y up, T-pose rest). pelvis = midpoint of the two hip
# joints (thighs); spine = midpoint of abdomen and chest (halfway up the trunk); thorax =
# neck joint (base of the neck, at shoulder height); neck_nose = head joint (the top of the
# neck, at the skull base); head = 12 cm above the head joint in its frame (the centre of
# the skull; the eyes sit 8 cm above the head joint). A point in front of the head joint
# would come within 3 cm of the neck in the clips' extreme head flexions.
CMU_DAZ_MAP: JointMap = {
    "pelvis": ("rThigh", "lThigh"),
    "r_hip": ("rThigh",),
    "r_knee": ("rShin",),
    "r_ankle": ("rFoot",),
    "l_hip": ("lThigh",),
    "l_knee": ("lShin",),
    "l_ankle": ("lFoot",),
    "spine": ("abdomen", "chest"),
    "thorax": ("neck",),
    "neck_nose": ("head",),
    "head": (("head", (0.0, 12.0, 0.0)),),
    "l_shoulder": ("lShldr",),
    "l_elbow": ("lForeArm",),
    "l_wrist": ("lHand",),
    "r_shoulder": ("rShldr",),
    "r_elbow": ("rForeArm",),
    "r_wrist": ("rHand",),
}

# The same rig with h36m17's derived joints built as 2D detectors' keypoints build them
# (MediaPipe, OpenPose, COCO; poseviz.skeleton.CONVERSIONS): thorax = shoulder midpoint,
# spine = mean of the hips and shoulders, neck_nose = the tip of the nose, head = the
# midpoint of the rig's eye joints (4 cm either side, 8 cm above and 8 cm in front of the
# head joint). The rig has no nose joint: its tip is taken 4 cm below and 3 cm in front of
# the eyes (adult anthropometry), i.e. 4 cm above and 11 cm in front of the head joint in
# its frame (+z is the face's direction in the rest pose). Lifting models trained on it
# read detector 2D with the meaning it has and predict those points
# (`data.options.bvh_mapping`).
CMU_DAZ_DETECTOR_MAP: JointMap = {
    **CMU_DAZ_MAP,
    "spine": ("rThigh", "lThigh", "rShldr", "lShldr"),
    "thorax": ("rShldr", "lShldr"),
    "neck_nose": (("head", (0.0, 4.0, 11.0)),),
    "head": ("leftEye", "rightEye"),
}

# Hips/LeftUpLeg naming. pelvis = midpoint of the upper legs; spine = Spine1; thorax = Neck;
# neck_nose = Head joint (top of the neck); head = the Head's end site.
HIPS_MAP: JointMap = {
    "pelvis": ("RightUpLeg", "LeftUpLeg"),
    "r_hip": ("RightUpLeg",),
    "r_knee": ("RightLeg",),
    "r_ankle": ("RightFoot",),
    "l_hip": ("LeftUpLeg",),
    "l_knee": ("LeftLeg",),
    "l_ankle": ("LeftFoot",),
    "spine": ("Spine1",),
    "thorax": ("Neck",),
    "neck_nose": ("Head",),
    "head": ("Head_end",),
    "l_shoulder": ("LeftArm",),
    "l_elbow": ("LeftForeArm",),
    "l_wrist": ("LeftHand",),
    "r_shoulder": ("RightArm",),
    "r_elbow": ("RightForeArm",),
    "r_wrist": ("RightHand",),
}

# Maps chosen from a file's joint names when read_bvh gets no mapping, in this order.
_BUILTIN_MAPS: dict[str, JointMap] = {"cmu_daz": CMU_DAZ_MAP, "hips": HIPS_MAP}
# Every named map (read_bvh's mapping= also takes these names).
BVH_MAPS: dict[str, JointMap] = {**_BUILTIN_MAPS, "cmu_daz_detector": CMU_DAZ_DETECTOR_MAP}

_CHANNELS = {
    "xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation",
}  # fmt: skip


@dataclass
class BvhSkeleton:
    """The hierarchy of a BVH file.

    Attributes:
        names: joint names, parents first; end sites are named ``"<joint>_end"``.
        parents: parent index per joint (-1 for the root).
        offsets: ``(J, 3)`` offsets from the parent, file units.
        channels: per joint, its channel names (``"Xposition"``, ``"Zrotation"``...), empty
            for end sites.
        is_end: per joint, True for end sites.
    """

    names: list[str] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)
    offsets: list[tuple[float, float, float]] = field(default_factory=list)
    channels: list[list[str]] = field(default_factory=list)
    is_end: list[bool] = field(default_factory=list)

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def index(self, name: str) -> int:
        return self.names.index(name)


def parse_bvh(path: str | Path) -> tuple[BvhSkeleton, np.ndarray, float]:
    """Parse a BVH file: ``(skeleton, (T, C) channel values, frame time in seconds)``.

    Raises `FormatError` naming the line and what was expected for a malformed hierarchy,
    a wrong number of values on a motion line or fewer frames than ``Frames:`` declares.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such BVH file")
    lines = path.read_text(errors="replace").splitlines()
    sk = BvhSkeleton()
    stack: list[int] = []
    i = 0

    def fail(line_no: int, expected: str, got: str) -> FormatError:
        return FormatError(path, f"line {line_no}", expected, got)

    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != "HIERARCHY":
        raise fail(
            i + 1, "'HIERARCHY'", repr(lines[i].strip()[:40]) if i < len(lines) else "end of file"
        )
    i += 1
    pending: int | None = None  # joint whose '{' we expect
    while i < len(lines):
        tokens = lines[i].split()
        i += 1
        if not tokens:
            continue
        key = tokens[0]
        if key in ("ROOT", "JOINT"):
            if key == "ROOT" and sk.names:
                raise fail(i, "a single ROOT", "a second ROOT")
            if key == "JOINT" and not stack:
                raise fail(i, "JOINT inside the ROOT's braces", "a JOINT outside")
            if len(tokens) < 2:
                raise fail(i, f"'{key} <name>'", lines[i - 1].strip())
            name = " ".join(tokens[1:])
            sk.names.append(name)
            sk.parents.append(stack[-1] if stack else -1)
            sk.offsets.append((0.0, 0.0, 0.0))
            sk.channels.append([])
            sk.is_end.append(False)
            pending = len(sk.names) - 1
        elif key == "End":
            if not stack:
                raise fail(i, "'End Site' inside a joint", "one outside any joint")
            parent = stack[-1]
            sk.names.append(f"{sk.names[parent]}_end")
            sk.parents.append(parent)
            sk.offsets.append((0.0, 0.0, 0.0))
            sk.channels.append([])
            sk.is_end.append(True)
            pending = len(sk.names) - 1
        elif key == "{":
            if pending is None:
                raise fail(i, "'{' after ROOT, JOINT or End Site", "'{'")
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise fail(i, "a matching '{'", "'}'")
            stack.pop()
            if not stack:
                break
        elif key == "OFFSET":
            if not stack or len(tokens) != 4:
                raise fail(i, "'OFFSET x y z' inside a joint", lines[i - 1].strip())
            try:
                sk.offsets[stack[-1]] = tuple(float(v) for v in tokens[1:4])  # type: ignore[assignment]
            except ValueError:
                raise fail(i, "three numbers after OFFSET", lines[i - 1].strip()) from None
        elif key == "CHANNELS":
            try:
                n = int(tokens[1])
            except (IndexError, ValueError):
                raise fail(i, "'CHANNELS <n> <names>'", lines[i - 1].strip()) from None
            chans = tokens[2:]
            if len(chans) != n or any(c.lower() not in _CHANNELS for c in chans):
                raise fail(i, f"{n} channel names among Xposition..Zrotation", " ".join(chans))
            sk.channels[stack[-1]] = chans
        else:
            raise fail(
                i,
                "ROOT, JOINT, End Site, OFFSET, CHANNELS or braces",
                repr(lines[i - 1].strip()[:40]),
            )
    if stack or not sk.names:
        raise FormatError(
            path, "HIERARCHY", "a complete joint tree (balanced braces)", "the file ends inside it"
        )
    # MOTION header
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip() != "MOTION":
        raise fail(
            i + 1,
            "'MOTION' after the hierarchy",
            "end of file" if i >= len(lines) else repr(lines[i].strip()[:40]),
        )
    header: dict[str, str] = {}
    for key in ("Frames", "Frame Time"):
        i += 1
        m = re.match(rf"\s*{key}\s*:\s*(\S+)", lines[i]) if i < len(lines) else None
        if not m:
            raise fail(
                i + 1,
                f"'{key}: <value>'",
                "end of file" if i >= len(lines) else repr(lines[i].strip()[:40]),
            )
        header[key] = m.group(1)
    try:
        n_frames, frame_time = int(header["Frames"]), float(header["Frame Time"])
    except ValueError:
        raise FormatError(
            path, "MOTION header", "an integer 'Frames' and a number 'Frame Time'", str(header)
        ) from None
    if n_frames < 1 or not frame_time > 0:
        raise FormatError(path, "MOTION header", "Frames >= 1 and Frame Time > 0", str(header))
    first = i + 1
    rows = [(k + 1, ln) for k, ln in enumerate(lines[first:], start=first) if ln.strip()]
    n_ch = sk.num_channels
    if len(rows) < n_frames:
        raise FormatError(
            path,
            "MOTION",
            f"Frames: {n_frames} lines of values (the file may be truncated)",
            f"{len(rows)} lines",
        )
    rows = rows[:n_frames]
    for line_no, ln in rows:
        if len(ln.split()) != n_ch:
            raise fail(
                line_no,
                f"{n_ch} channel values (the hierarchy declares {n_ch})",
                f"{len(ln.split())} values",
            )
    try:
        values = np.array(" ".join(ln for _, ln in rows).split(), dtype=np.float64).reshape(
            n_frames, n_ch
        )
    except ValueError as err:
        raise FormatError(path, "MOTION", "numeric channel values", str(err)) from None
    if not np.isfinite(values).all():
        t = int(np.argwhere(~np.isfinite(values))[0, 0])
        raise fail(rows[t][0], "finite channel values", "NaN or inf")
    return sk, values, frame_time


def bvh_forward_kinematics(
    sk: BvhSkeleton, values: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """World positions and rotations of every joint and end site.

    Args:
        sk: the hierarchy.
        values: ``(T, C)`` channel values (degrees for rotations, file units for positions),
            or None for the rest pose (all channels zero, one frame).

    Returns:
        ``(T, J, 3)`` positions (file units) and ``(T, J, 3, 3)`` world rotations.
    """
    if values is None:
        values = np.zeros((1, sk.num_channels))
    T, J = values.shape[0], len(sk.names)
    # Per joint: translation (offset + position channels) and rotation channels.
    local_t = np.broadcast_to(np.asarray(sk.offsets, dtype=np.float64), (T, J, 3)).copy()
    rot_channels: list[tuple[str, list[int]]] = []
    col = 0
    for j in range(J):
        order, cols = "", []
        for c in sk.channels[j]:
            if c.lower().endswith("position"):
                local_t[:, j, "xyz".index(c[0].lower())] += values[:, col]
            else:
                order += c[0].upper()
                cols.append(col)
            col += 1
        rot_channels.append((order, cols))
    # Local rotations, one euler_to_matrix call per channel order (joints batched).
    local_r = np.broadcast_to(np.eye(3), (T, J, 3, 3)).copy()
    by_order: dict[str, list[int]] = {}
    for j, (order, _) in enumerate(rot_channels):
        if len(order) == 3:
            by_order.setdefault(order, []).append(j)
    for order, joints in by_order.items():
        angles = np.stack([values[:, rot_channels[j][1]] for j in joints], axis=1)  # (T, n, 3)
        local_r[:, joints] = euler_to_matrix(angles, order, degrees=True)
    for j, (order, cols) in enumerate(rot_channels):
        if order and len(order) != 3:  # fewer or more than three: compose one by one
            for c, axis in zip(cols, order, strict=True):
                padded = np.zeros((T, 3))
                padded[:, 0] = values[:, c]
                others = "".join(x for x in "XYZ" if x != axis)
                local_r[:, j] = local_r[:, j] @ euler_to_matrix(padded, axis + others)
    pos = np.zeros((T, J, 3))
    rot = np.zeros((T, J, 3, 3))
    for j in range(J):
        p = sk.parents[j]
        if p < 0:
            rot[:, j] = local_r[:, j]
            pos[:, j] = local_t[:, j]
        else:
            rot[:, j] = rot[:, p] @ local_r[:, j]
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], local_t[:, j])
    return pos, rot


def detect_unit(sk: BvhSkeleton, path: str | Path = "") -> str:
    """Guess the length unit from the rest pose's stature (see the module docstring)."""
    rest, _ = bvh_forward_kinematics(sk, None)
    stature = float(np.ptp(rest[0], axis=0).max())
    for unit, lo, hi in (("m", 0.5, 2.5), ("inch", 25, 100), ("cm", 100, 250), ("mm", 500, 2500)):
        if lo <= stature < hi:
            return unit
    raise FormatError(
        path,
        "rest pose",
        "a stature of 0.5-2.5 (m), 25-100 (inch), 100-250 (cm) or 500-2500 (mm) to guess "
        "the unit; pass unit= or scale=",
        f"{stature:.4g}",
    )


def _canonical(name: str) -> str:
    return name.rsplit(":", 1)[-1].lower()


def _pick_map(sk: BvhSkeleton, path: Path) -> JointMap:
    have = {_canonical(n) for n in sk.names}
    for joint_map in _BUILTIN_MAPS.values():
        refs = {
            _canonical(r if isinstance(r, str) else r[0]) for v in joint_map.values() for r in v
        }
        if refs <= have:
            return joint_map
    raise FormatError(
        path,
        "joint names",
        "a rig with a built-in h36m17 map (CMU Daz 'hip/abdomen/lThigh...' or "
        "'Hips/Spine1/LeftUpLeg...'); pass mapping= or raw=True",
        f"{[n for n, e in zip(sk.names, sk.is_end, strict=True) if not e][:12]}",
    )


def _apply_map(
    sk: BvhSkeleton, pos: np.ndarray, rot: np.ndarray, joint_map: JointMap, path: Path
) -> np.ndarray:
    lookup = {_canonical(n): k for k, n in enumerate(sk.names)}
    out = np.zeros((pos.shape[0], len(H36M17.names), 3))
    for j, target in enumerate(H36M17.names):
        if target not in joint_map or not joint_map[target]:
            raise FormatError(
                path, "mapping", "sources for every h36m17 joint", f"none for {target!r}"
            )
        pts = []
        for ref in joint_map[target]:
            name, offset = (ref, None) if isinstance(ref, str) else (ref[0], ref[1])
            k = lookup.get(_canonical(name))
            if k is None:
                raise FormatError(path, f"mapping[{target!r}]", "a joint of the file", f"{name!r}")
            if offset is None:
                pts.append(pos[:, k])
            else:
                pts.append(pos[:, k] + rot[:, k] @ np.asarray(offset, dtype=np.float64))
        out[:, j] = np.mean(pts, axis=0)
    return out


def read_bvh(
    path: str | Path,
    *,
    raw: bool = False,
    mapping: JointMap | str | None = None,
    unit: str = "auto",
    scale: float | None = None,
    fps: float | None = None,
    subject: str | None = None,
    action: str | None = None,
) -> list[PoseSequence]:
    """Read a BVH file as one `PoseSequence` with ``joints_3d`` ``(T, J, 3)`` in metres.

    Args:
        path: the ``.bvh`` file.
        raw: keep the BVH joints (end sites dropped; layout ``bvh_<digest>``).
        mapping: h36m17 joint -> point references (see the module docstring), or the name
            of one in `BVH_MAPS` (e.g. ``"cmu_daz_detector"``); default: a built-in map chosen
            from the joint names.
        unit: the file's length unit (``"cm"``, ``"mm"``, ``"m"``, ``"inch"``) or
            ``"auto"`` (guessed from the rest-pose stature).
        scale: metres per file unit; overrides ``unit``.
        fps: frame rate; default ``1 / Frame Time`` from the file (some exports carry a
            wrong one, e.g. the CMU salsa clips are 60 fps with a 120 fps header).
        subject, action: labels (default: the parent folder name and the file stem).
    """
    path = Path(path)
    if isinstance(mapping, str):
        if mapping not in BVH_MAPS:
            raise ValueError(
                f"read_bvh({path.name!r}): unknown mapping {mapping!r}; named maps: "
                f"{sorted(BVH_MAPS)}"
            )
        mapping = BVH_MAPS[mapping]
    sk, values, frame_time = parse_bvh(path)
    if scale is None:
        scale = unit_scale(detect_unit(sk, path) if unit == "auto" else unit, path, "unit")
    elif not (np.isfinite(scale) and scale > 0):
        raise ValueError(
            f"read_bvh: scale must be a positive number of metres per unit, got {scale!r}"
        )
    pos, rot = bvh_forward_kinematics(sk, values)
    if raw:
        keep = [k for k, e in enumerate(sk.is_end) if not e]
        names = [sk.names[k] for k in keep]
        parents = [keep.index(sk.parents[k]) if sk.parents[k] >= 0 else -1 for k in keep]
        joints, layout = pos[:, keep], ensure_skeleton("bvh", names, parents)
    else:
        joints = _apply_map(sk, pos, rot, mapping or _pick_map(sk, path), path)
        layout = "h36m17"
    subject = subject or path.parent.name or "subject"
    action = action or path.stem
    return [
        PoseSequence(
            name=f"{subject}/{action}",
            subject=subject,
            action=action,
            fps=fps or 1.0 / frame_time,
            skeleton=layout,
            joints_3d=joints * scale,
        )
    ]
