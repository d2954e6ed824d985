"""Plain records that every layer of poseviz passes around.

`Camera`, `PoseSequence` and `Prediction` are dataclasses over numpy arrays. Their
constructors validate shapes, dtypes and finiteness and raise `ValueError` naming the field
and the expected shape, so a bad file is reported where it is read, not deep inside a model.

Conventions (pinned by tests):
- 3D in metres, 2D in pixels.
- Cameras follow OpenCV: x right, y down, z forward; ``R`` and ``t`` map world to camera,
  ``X_cam = R @ X_world + t``; distortion ``(k1, k2, p1, p2, k3)``.
- ``Prediction.joints_3d`` is root-relative (pelvis at the origin) in camera coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Camera", "PoseSequence", "Prediction", "check_array"]


def check_array(
    value: Any,
    name: str,
    shape: tuple[int | str | None, ...],
    *,
    dtype: type | np.dtype = np.float64,
    finite: bool = True,
    allow_nan: bool = False,
    owner: str = "",
) -> np.ndarray:
    """Convert ``value`` to an array of ``dtype`` and check its shape.

    ``shape`` lists the expected sizes: an int must match, a string names a symbolic size
    (it is shown in the message, and equal names must have equal sizes), ``None`` is free.
    ``finite=True`` rejects inf and, unless ``allow_nan``, NaN (gaps in mocap are NaN).
    """
    label = f"{owner}.{name}" if owner else name
    expected = str(tuple("?" if s is None else s for s in shape)).replace("'", "")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{label}: expected a numeric array of shape {expected}: {err}") from None
    if arr.ndim != len(shape):
        raise ValueError(
            f"{label}: expected shape {expected}, got {arr.shape} ({arr.ndim} dims, not {len(shape)})"
        )
    symbols: dict[str, int] = {}
    for axis, (want, got) in enumerate(zip(shape, arr.shape, strict=True)):
        if isinstance(want, int) and want != got:
            raise ValueError(f"{label}: expected shape {expected}, got {arr.shape} (axis {axis})")
        if isinstance(want, str):
            if symbols.setdefault(want, got) != got:
                raise ValueError(f"{label}: expected shape {expected}, got {arr.shape}")
    if finite and np.issubdtype(arr.dtype, np.floating):
        bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            what = "inf" if allow_nan else "NaN or inf"
            raise ValueError(f"{label}: contains {what} (first at index {first})")
    return arr


@dataclass(frozen=True, eq=False)
class Camera:
    """A calibrated pinhole camera with OpenCV's distortion model.

    Attributes:
        id: camera name, unique within a sequence.
        width, height: image size in pixels.
        fx, fy, cx, cy: intrinsics in pixels.
        k1, k2, p1, p2, k3: OpenCV distortion coefficients (radial k, tangential p).
        R: ``(3, 3)`` rotation, world -> camera, orthonormal with det +1.
        t: ``(3,)`` translation in metres, ``X_cam = R @ X_world + t``.
    """

    id: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    R: np.ndarray = field(default_factory=lambda: np.eye(3))
    t: np.ndarray = field(default_factory=lambda: np.zeros(3))
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0

    def __post_init__(self) -> None:
        owner = f"Camera {self.id!r}"
        for name in ("width", "height"):
            value = getattr(self, name)
            if int(value) != value or value <= 0:
                raise ValueError(f"{owner}.{name}: expected a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise ValueError(f"{owner}.{name}: expected a finite number, got {value!r}")
            object.__setattr__(self, name, value)
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(
                f"{owner}: focal lengths fx, fy must be positive, got {self.fx}, {self.fy}"
            )
        R = check_array(self.R, "R", (3, 3), owner=owner)
        t = check_array(self.t, "t", (3,), owner=owner)
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or not np.isclose(
            np.linalg.det(R), 1.0, atol=1e-6
        ):
            raise ValueError(
                f"{owner}.R: expected an orthonormal rotation (R @ R.T = I, det R = +1), "
                f"got det {np.linalg.det(R):.6g}"
            )
        R.setflags(write=False)
        t.setflags(write=False)
        object.__setattr__(self, "R", R)
        object.__setattr__(self, "t", t)

    @property
    def K(self) -> np.ndarray:
        """``(3, 3)`` intrinsic matrix in pixels."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def dist(self) -> np.ndarray:
        """``(5,)`` distortion coefficients in OpenCV order ``(k1, k2, p1, p2, k3)``."""
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3])

    @property
    def center(self) -> np.ndarray:
        """``(3,)`` camera centre in world coordinates (metres): ``-R.T @ t``."""
        return -self.R.T @ self.t

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict; ``Camera.from_dict`` reads it back."""
        out = {k: getattr(self, k) for k in ("id", "width", "height", "fx", "fy", "cx", "cy")}
        out.update({k: getattr(self, k) for k in ("k1", "k2", "p1", "p2", "k3")})
        out["R"] = self.R.tolist()
        out["t"] = self.t.tolist()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Camera:
        return cls(**{**data, "R": np.asarray(data["R"]), "t": np.asarray(data["t"])})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Camera):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]


def _per_camera(
    values: Mapping[str, Any] | None,
    name: str,
    shape: tuple[int | str | None, ...],
    owner: str,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    return {
        str(cam): check_array(v, f"{name}[{cam!r}]", shape, owner=owner, **kwargs)
        for cam, v in (values or {}).items()
    }


@dataclass(eq=False)
class PoseSequence:
    """One recorded or generated motion, with its views.

    Attributes:
        name: unique sequence id, e.g. ``"S9/Walking 1"``.
        subject, action: labels used for per-subject splits and per-action tables.
        fps: frames per second.
        skeleton: layout name (see `poseviz.skeleton.get_skeleton`), e.g. ``"h36m17"``.
        joints_3d: ``(T, J, 3)`` world coordinates in metres, or None; NaN marks gaps.
        cameras: camera id -> `Camera`.
        joints_2d: camera id -> ``(T, J, 2)`` pixels.
        confidence: camera id -> ``(T, J)`` detector confidence in [0, 1].
        occluded: camera id -> ``(T, J)`` bool, True where the joint is hidden in that view.
        video: camera id -> path of the video for that view.
    """

    name: str
    subject: str
    action: str
    fps: float
    skeleton: str
    joints_3d: np.ndarray | None = None
    cameras: dict[str, Camera] = field(default_factory=dict)
    joints_2d: dict[str, np.ndarray] = field(default_factory=dict)
    confidence: dict[str, np.ndarray] = field(default_factory=dict)
    occluded: dict[str, np.ndarray] = field(default_factory=dict)
    video: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        owner = f"PoseSequence {self.name!r}"
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"{owner}.fps: expected a positive frame rate, got {self.fps!r}")
        self.fps = float(self.fps)
        if self.joints_3d is not None:
            self.joints_3d = check_array(
                self.joints_3d, "joints_3d", ("T", "J", 3), owner=owner, allow_nan=True
            )
        for cam_id, cam in self.cameras.items():
            if not isinstance(cam, Camera):
                raise ValueError(
                    f"{owner}.cameras[{cam_id!r}]: expected a Camera, got {type(cam).__name__}"
                )
        self.joints_2d = _per_camera(
            self.joints_2d, "joints_2d", ("T", "J", 2), owner, allow_nan=True
        )
        self.confidence = _per_camera(self.confidence, "confidence", ("T", "J"), owner)
        self.occluded = _per_camera(self.occluded, "occluded", ("T", "J"), owner, dtype=bool)
        self.video = {str(k): str(v) for k, v in self.video.items()}

        T, J = self.num_frames, self.num_joints
        for field_name in ("joints_2d", "confidence", "occluded"):
            for cam_id, arr in getattr(self, field_name).items():
                if arr.shape[:2] != (T, J):
                    raise ValueError(
                        f"{owner}.{field_name}[{cam_id!r}]: expected {T} frames x {J} joints "
                        f"like the rest of the sequence, got {arr.shape}"
                    )
        if self.confidence:
            for cam_id, c in self.confidence.items():
                if c.size and (c.min() < 0 or c.max() > 1):
                    raise ValueError(f"{owner}.confidence[{cam_id!r}]: expected values in [0, 1]")

    @property
    def num_frames(self) -> int:
        """Number of frames T (0 for a sequence with no arrays)."""
        arr = self._any_array()
        return 0 if arr is None else int(arr.shape[0])

    @property
    def num_joints(self) -> int:
        """Number of joints J in the layout."""
        arr = self._any_array()
        return 0 if arr is None else int(arr.shape[1])

    @property
    def camera_ids(self) -> list[str]:
        """Ids of the views that have a camera or 2D keypoints, sorted."""
        return sorted(set(self.cameras) | set(self.joints_2d))

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_frames / self.fps

    def _any_array(self) -> np.ndarray | None:
        if self.joints_3d is not None:
            return self.joints_3d
        for group in (self.joints_2d, self.confidence, self.occluded):
            for arr in group.values():
                return arr
        return None

    def slice(self, start: int, stop: int) -> PoseSequence:
        """Frames ``[start, stop)`` as a new sequence sharing cameras and labels."""
        cut = slice(start, stop)
        return PoseSequence(
            name=self.name,
            subject=self.subject,
            action=self.action,
            fps=self.fps,
            skeleton=self.skeleton,
            joints_3d=None if self.joints_3d is None else self.joints_3d[cut],
            cameras=dict(self.cameras),
            joints_2d={k: v[cut] for k, v in self.joints_2d.items()},
            confidence={k: v[cut] for k, v in self.confidence.items()},
            occluded={k: v[cut] for k, v in self.occluded.items()},
            video=dict(self.video),
        )

    def __repr__(self) -> str:
        return (
            f"PoseSequence(name={self.name!r}, subject={self.subject!r}, action={self.action!r}, "
            f"frames={self.num_frames}, joints={self.num_joints}, skeleton={self.skeleton!r}, "
            f"cameras={self.camera_ids}, fps={self.fps:g})"
        )


@dataclass(eq=False)
class Prediction:
    """A model's 3D output for one sequence seen from one camera.

    Attributes:
        model_id: name of the model (a folder under ``models/`` or a registry name).
        sequence_id: `PoseSequence.name` it was predicted from.
        camera_id: the view whose 2D keypoints were lifted.
        joints_3d: ``(T, J, 3)`` root-relative camera-frame coordinates in metres.
        aux: extra per-frame arrays whose first axis is T, e.g. ``"occlusion_prob"``
            ``(T, J)`` or ``"attention"`` ``(T, J, H, W)``.
        frame_indices: ``(T,)`` indices into the source sequence (default ``arange(T)``).
    """

    model_id: str
    sequence_id: str
    camera_id: str
    joints_3d: np.ndarray
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    frame_indices: np.ndarray | None = None

    def __post_init__(self) -> None:
        owner = f"Prediction {self.model_id!r}/{self.sequence_id!r}/{self.camera_id!r}"
        self.joints_3d = check_array(self.joints_3d, "joints_3d", ("T", "J", 3), owner=owner)
        T = self.joints_3d.shape[0]
        if self.frame_indices is None:
            self.frame_indices = np.arange(T)
        self.frame_indices = check_array(
            self.frame_indices, "frame_indices", (T,), dtype=np.int64, owner=owner
        )
        aux = {}
        for key, value in self.aux.items():
            arr = np.asarray(value)
            if arr.ndim == 0 or arr.shape[0] != T:
                raise ValueError(
                    f"{owner}.aux[{key!r}]: expected first axis of length T={T}, got {arr.shape}"
                )
            if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
                raise ValueError(f"{owner}.aux[{key!r}]: contains NaN or inf")
            aux[str(key)] = arr
        self.aux = aux

    @property
    def num_frames(self) -> int:
        return int(self.joints_3d.shape[0])
