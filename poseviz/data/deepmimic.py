"""DeepMimic motion clips: JSON keyframes -> forward kinematics through pybullet's humanoid.

A DeepMimic motion ``.txt`` is JSON ``{"Loop": "wrap" | "none", "Frames": [...]}``; each
frame of the ``humanoid3d`` character holds 44 numbers::

    duration (s), root position (3), root rotation (4),
    chest (4), neck (4), right hip (4), right knee (1), right ankle (4),
    right shoulder (4), right elbow (1), left hip (4), left knee (1), left ankle (4),
    left shoulder (4), left elbow (1)

Rotations are quaternions ``(w, x, y, z)`` local to the parent link; knees and elbows are
1-DoF angles in radians about their URDF axis (``z``). The order is that of the movable
joints in pybullet's ``humanoid.urdf`` (``pybullet_data/humanoid/humanoid.urdf``), which
this module parses (plain XML, no physics engine) for the joint tree, the joint offsets and
the head sphere. DeepMimic loads that URDF with ``globalScaling=0.25``; offsets are scaled
by `URDF_SCALE` so that the motions' root positions (metres) and the limbs agree.

**World frame.** DeepMimic's world is Y up with the character's rest heading along +x and
its right side along +z (the URDF's ``right_hip`` sits at +z). poseviz stores it Z up like
Human3.6M, by a rotation of +90 degrees about x: ``(x, y, z)_DeepMimic -> (x, -z, y)``. So
in the stored world +x is the clip's initial heading, +y the character's left at rest, +z
up, and the floor is ``z = 0`` (metres).

**Joints.** The raw layout ``deepmimic`` has the 15 link origins of the URDF plus two points
on the head sphere (collision sphere of the ``neck`` link: centre 0.175 m above the neck
joint, radius 0.1025 m, after scaling): ``head_top`` is the top of the sphere and ``nose``
its front at the height of its centre (the link's +x is the face's direction, as for the
feet). h36m17 takes pelvis = root, spine = chest joint, thorax = neck joint (base of the
neck, just below the shoulders), neck_nose = ``nose`` and head = ``head_top``; the limbs
are the URDF joints of the same names (``poseviz.skeleton.CONVERSIONS["deepmimic"]``).

Frames with a zero ``duration`` (DeepMimic ends clips with one) are read at the clip's
frame rate; clips whose durations vary are resampled to a uniform rate ``1 / median`` by
linear interpolation of the joint positions. A rate within 0.1 % of an integer is rounded to
it (DeepMimic writes 1/60 s as 0.016666).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from poseviz.data._formats import FormatError
from poseviz.geometry import axis_angle_to_matrix, quaternion_wxyz_to_matrix
from poseviz.skeleton import convert, get_skeleton
from poseviz.structures import PoseSequence

__all__ = [
    "DEEPMIMIC_TO_WORLD",
    "URDF_SCALE",
    "HumanoidModel",
    "deepmimic_forward_kinematics",
    "find_humanoid_urdf",
    "find_pybullet_motions",
    "load_humanoid",
    "parse_deepmimic",
    "read_deepmimic",
]

# DeepMimic's pybullet environments load humanoid.urdf with globalScaling=0.25.
URDF_SCALE = 0.25

# Y-up DeepMimic world -> Z-up poseviz world: +90 degrees about x, (x, y, z) -> (x, -z, y).
DEEPMIMIC_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class HumanoidModel:
    """The joint tree of a DeepMimic humanoid URDF (lengths in metres, after `URDF_SCALE`).

    Attributes:
        names: ``(L,)`` link names in URDF joint order (root first).
        parents: ``(L,)`` parent link index, -1 for the root.
        offsets: ``(L, 3)`` joint origin in the parent link's frame (DeepMimic axes, m).
        kinds: ``(L,)`` URDF joint type: ``"fixed"``, ``"spherical"`` or ``"revolute"``.
        axes: ``(L, 3)`` rotation axis of revolute joints (zeros for the others).
        head_center: ``(3,)`` centre of the head sphere in the ``neck`` link's frame (m).
        head_radius: radius of the head sphere (m).
        source: the URDF file it was read from.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    kinds: tuple[str, ...]
    axes: np.ndarray
    head_center: np.ndarray
    head_radius: float
    source: str

    @property
    def frame_size(self) -> int:
        """Numbers per motion frame: duration, root position and rotation, joint DoFs."""
        dofs = sum({"spherical": 4, "revolute": 1}.get(k, 0) for k in self.kinds[1:])
        return 1 + 3 + 4 + dofs


def find_humanoid_urdf() -> Path:
    """Path of ``humanoid/humanoid.urdf`` inside the installed ``pybullet`` wheel's
    ``pybullet_data`` (raises ``FileNotFoundError`` saying what to install)."""
    try:
        import pybullet_data
    except ImportError:
        raise FileNotFoundError(
            "pybullet_data is not installed: `pip install pybullet` ships the DeepMimic "
            "humanoid (humanoid/humanoid.urdf) and its motion clips"
        ) from None
    path = Path(pybullet_data.getDataPath()) / "humanoid" / "humanoid.urdf"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the pybullet wheel has no humanoid URDF")
    return path


def find_pybullet_motions() -> list[Path]:
    """The DeepMimic ``humanoid3d_*.txt`` clips inside the installed ``pybullet`` wheel,
    sorted by name (15 in pybullet 3.2.7)."""
    folder = find_humanoid_urdf().parents[1] / "data" / "motions"
    clips = sorted(folder.glob("humanoid3d_*.txt"))
    if not clips:
        raise FileNotFoundError(f"{folder}: no humanoid3d_*.txt DeepMimic clips")
    return clips


def _floats(text: str | None, path: Path, field: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in (text or "").split()])
    except ValueError:
        values = np.array([])
    if values.shape != (3,):
        raise FormatError(path, field, "three numbers", repr(text))
    return values


@lru_cache(maxsize=4)
def _load_humanoid(path: str) -> HumanoidModel:
    p = Path(path)
    try:
        # pybullet's humanoid.urdf ends with a NUL byte, which XML parsers reject.
        root = ET.fromstring(p.read_bytes().rstrip(b"\0 \r\n\t"))
    except (OSError, ET.ParseError) as err:
        raise FormatError(p, "file", "a URDF (XML) robot description", str(err)) from None
    joints = root.findall("joint")
    if not joints:
        raise FormatError(p, "joint", "<joint> elements", "none")
    child_of = {}
    for j in joints:
        parent, child = j.find("parent"), j.find("child")
        if parent is None or child is None:
            raise FormatError(p, f"joint {j.get('name')!r}", "<parent> and <child> links")
        child_of[child.get("link")] = (j, parent.get("link"))
    # The URDF's first joint fixes the root link to a base link; the root link is the
    # child whose parent is not itself a child.
    roots = [c for c, (_, par) in child_of.items() if par not in child_of]
    if len(roots) != 1:
        raise FormatError(p, "joint tree", "one root link below the base", f"{roots}")
    names, parents, offsets, kinds, axes = [], [], [], [], []
    for j in joints:
        child = j.find("child").get("link")  # type: ignore[union-attr]
        parent = child_of[child][1]
        origin = j.find("origin")
        axis = j.find("axis")
        if child != roots[0] and parent not in names:
            raise FormatError(p, f"joint {child!r}", "joints listed after their parent's joint")
        names.append(child)
        parents.append(-1 if child == roots[0] else names.index(parent))
        xyz = "0 0 0" if origin is None else origin.get("xyz")
        offsets.append(_floats(xyz, p, f"joint {child!r} origin xyz") * URDF_SCALE)
        kind = j.get("type", "")
        kinds.append("fixed" if child == roots[0] else kind)
        axes.append(
            _floats(axis.get("xyz"), p, f"joint {child!r} axis")
            if axis is not None and kind == "revolute"
            else np.zeros(3)
        )
        if kinds[-1] not in ("fixed", "spherical", "revolute"):
            raise FormatError(
                p, f"joint {child!r} type", "fixed, spherical or revolute", repr(kind)
            )
    if "neck" not in names:
        raise FormatError(p, "links", "a 'neck' link carrying the head sphere", f"{names}")
    sphere = None
    for link in root.findall("link"):
        if link.get("name") != "neck":
            continue
        for col in link.findall("collision"):
            geo = col.find("geometry/sphere")
            if geo is not None:
                org = col.find("origin")
                centre = _floats("0 0 0" if org is None else org.get("xyz"), p, "neck sphere")
                sphere = (centre * URDF_SCALE, float(geo.get("radius", "nan")) * URDF_SCALE)
    if sphere is None or not np.isfinite(sphere[1]):
        raise FormatError(p, "link 'neck'", "a collision <sphere> (the head)", "none")
    return HumanoidModel(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.array(offsets),
        kinds=tuple(kinds),
        axes=np.array(axes),
        head_center=sphere[0],
        head_radius=sphere[1],
        source=str(p),
    )


def load_humanoid(urdf: str | Path | None = None) -> HumanoidModel:
    """Parse a DeepMimic humanoid URDF (default: pybullet's, `find_humanoid_urdf`)."""
    return _load_humanoid(str(Path(urdf) if urdf is not None else find_humanoid_urdf()))


def parse_deepmimic(path: str | Path, frame_size: int = 44) -> tuple[np.ndarray, str]:
    """Read a motion file: ``(F, frame_size)`` keyframes and the ``Loop`` mode.

    Raises `FormatError` naming the file and the key, frame or value that is wrong.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(path, "file", "DeepMimic motion JSON", str(err)) from None
    if not isinstance(data, dict) or "Frames" not in data:
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise FormatError(path, "Frames", "a JSON object with 'Loop' and 'Frames'", f"{got}")
    frames = data["Frames"]
    if not isinstance(frames, list) or not frames:
        raise FormatError(path, "Frames", "a non-empty list of frames", repr(frames)[:60])
    for i, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != frame_size:
            n = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise FormatError(
                path,
                f"Frames[{i}]",
                f"{frame_size} numbers (duration, root position 3, root quaternion 4, "
                "joint rotations) for the humanoid3d character",
                f"{n}",
            )
    try:
        values = np.array(frames, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise FormatError(path, "Frames", "numbers only", str(err)) from None
    bad = ~np.isfinite(values)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise FormatError(path, f"Frames[{i}][{k}]", "a finite number", str(values[i, k]))
    loop = str(data.get("Loop", "none"))
    return values, loop


def deepmimic_forward_kinematics(
    frames: np.ndarray, model: HumanoidModel, path: str | Path = ""
) -> np.ndarray:
    """World positions of the raw ``deepmimic`` layout for ``(F, 44)`` keyframes.

    Returns ``(F, 17, 3)`` metres in poseviz's Z-up world (`DEEPMIMIC_TO_WORLD`): the 15
    link origins in URDF order, then ``head_top`` and ``nose`` on the head sphere.
    Each link's frame is its parent's frame times its local rotation; its origin is the
    parent's origin plus the parent's rotation applied to the URDF offset.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != model.frame_size:
        raise FormatError(path, "Frames", f"(F, {model.frame_size}) values", f"{frames.shape}")
    F, L = frames.shape[0], len(model.names)

    def rotation(q: np.ndarray, field: str) -> np.ndarray:
        norm = np.linalg.norm(q, axis=-1)
        if (norm < 1e-8).any():
            i = int(np.argmax(norm < 1e-8))
            raise FormatError(path, f"Frames[{i}] {field}", "a non-zero quaternion (w, x, y, z)")
        return quaternion_wxyz_to_matrix(q)

    pos = np.zeros((F, L, 3))
    rot = np.zeros((F, L, 3, 3))
    col = 8
    for k, (name, parent, kind) in enumerate(
        zip(model.names, model.parents, model.kinds, strict=True)
    ):
        if parent < 0:
            pos[:, k] = frames[:, 1:4]
            rot[:, k] = rotation(frames[:, 4:8], "root rotation")
            continue
        if kind == "spherical":
            local = rotation(frames[:, col : col + 4], f"{name} rotation")
            col += 4
        elif kind == "revolute":
            local = axis_angle_to_matrix(frames[:, col : col + 1] * model.axes[k])
            col += 1
        else:
            local = np.broadcast_to(np.eye(3), (F, 3, 3))
        pos[:, k] = pos[:, parent] + rot[:, parent] @ model.offsets[k]
        rot[:, k] = rot[:, parent] @ local
    neck = model.names.index("neck")
    c, r = model.head_center, model.head_radius
    head_top = pos[:, neck] + rot[:, neck] @ (c + [0.0, r, 0.0])
    nose = pos[:, neck] + rot[:, neck] @ (c + [r, 0.0, 0.0])
    points = np.concatenate([pos, head_top[:, None], nose[:, None]], axis=1)
    return points @ DEEPMIMIC_TO_WORLD.T


def _frame_rate(durations: np.ndarray, path: Path) -> tuple[float, np.ndarray | None]:
    """Frame rate and, when the clip's durations vary, the keyframe times (s)."""
    steps = durations[:-1] if len(durations) > 1 else durations
    positive = steps[steps > 0]
    if positive.size == 0:
        if len(durations) == 1:
            return 30.0, None  # a single pose: any rate
        raise FormatError(path, "Frames[*][0]", "positive frame durations (seconds)", "none")
    dt = float(np.median(positive))
    fps = 1.0 / dt
    if abs(fps - round(fps)) < 1e-3 * fps:  # DeepMimic writes 1/60 s as 0.016666
        fps = float(round(fps))
    if np.allclose(steps, dt, rtol=1e-3, atol=1e-6):
        return fps, None
    if (steps < 0).any():
        i = int(np.argmax(steps < 0))
        raise FormatError(path, f"Frames[{i}][0]", "a duration >= 0 s", str(steps[i]))
    return fps, np.concatenate([[0.0], np.cumsum(steps)])


def read_deepmimic(
    path: str | Path,
    *,
    raw: bool = False,
    urdf: str | Path | None = None,
    subject: str | None = None,
    action: str | None = None,
) -> list[PoseSequence]:
    """Read a DeepMimic ``humanoid3d`` motion as one `PoseSequence` (world 3D, metres, Z up).

    Args:
        path: the motion ``.txt`` (JSON with ``Loop`` and ``Frames``).
        raw: keep the 17-point ``deepmimic`` layout instead of converting to h36m17.
        urdf: the humanoid URDF (default: pybullet's ``humanoid/humanoid.urdf``).
        subject, action: labels; default: the parent folder's name and the file stem;
            for pybullet's ``humanoid3d_<action>.txt`` clips ``"deepmimic"`` and
            ``<action>``.

    Returns:
        ``[PoseSequence]`` with ``joints_3d`` ``(T, 17, 3)`` (see the module docstring for
        the world frame and the derived head joints).
    """
    path = Path(path)
    model = load_humanoid(urdf)
    frames, _loop = parse_deepmimic(path, model.frame_size)
    fps, times = _frame_rate(frames[:, 0], path)
    points = deepmimic_forward_kinematics(frames, model, path)
    if times is not None:  # irregular keyframes: resample to a uniform rate
        keep = np.concatenate([[True], np.diff(times) > 0])
        times, points = times[keep], points[keep]
        grid = np.arange(0.0, times[-1] + 0.5 / fps, 1.0 / fps)
        flat = points.reshape(len(times), -1)
        points = np.stack([np.interp(grid, times, flat[:, k]) for k in range(flat.shape[1])], 1)
        points = points.reshape(len(grid), -1, 3)
    if get_skeleton("deepmimic").num_joints != points.shape[1]:  # pragma: no cover
        raise RuntimeError("the deepmimic layout and the forward kinematics disagree")
    joints = points if raw else convert(points, "deepmimic")
    pybullet_clip = path.stem.startswith("humanoid3d_")
    action = action or path.stem.removeprefix("humanoid3d_")
    subject = subject or ("deepmimic" if pybullet_clip else path.parent.name)
    return [
        PoseSequence(
            name=f"{subject}/{action}",
            subject=subject,
            action=action,
            fps=fps,
            skeleton="deepmimic" if raw else "h36m17",
            joints_3d=joints,
        )
    ]
