"""Virtual cameras: fixed rigs and random sampling aimed at a subject, and a 2D detector
noise model. They turn any world-space 3D motion into per-camera 2D/3D training pairs.

Cameras are `poseviz.structures.Camera` (OpenCV: x right, y down, z forward, ``X_cam =
R @ X_world + t``, metres and pixels) without lens distortion. The world's up axis is a
parameter (``up="z"`` for Human3.6M, C3D labs and the DeepMimic reader; ``"y"`` for BVH).
Azimuth is measured in the ground plane from the world's +x axis (for ``up="z"`` and
``"y"`` alike), counter-clockwise seen from above: a camera at azimuth 0 stands on the +x
side of the subject, i.e. in front of a DeepMimic clip's initial heading. Elevation is
the angle above the ground plane. Roll turns a camera about its viewing direction, as a
hand-held phone or a tripod on uneven ground is turned: positive roll turns the image's
content counter-clockwise on screen (the world's up leans to the left of the image's up
by ``roll`` degrees); 0 keeps the world's up pointing up the image.

Every camera is aimed at the centre of the subject's bounding sphere over the whole
sequence and placed at least far enough away that the whole sphere fits in the image
(`fit_distance`), so every joint of every frame is in front of the camera and in view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from poseviz.geometry import project
from poseviz.structures import Camera, PoseSequence

__all__ = [
    "COCO_SIGMAS_H36M17",
    "DetectorNoise",
    "RandomLike",
    "StackedCameras",
    "attach_cameras",
    "fit_distance",
    "h36m_like_rig",
    "look_at",
    "mirror_camera",
    "orbit_camera",
    "project_stacked",
    "sample_cameras",
    "stack_cameras",
    "subject_bounds",
    "up_vector",
]


class RandomLike(Protocol):
    """What the samplers need from a random source (``numpy.random.Generator`` has it)."""

    def random(self, size: Any = None) -> Any: ...
    def standard_normal(self, size: Any = None) -> Any: ...


def up_vector(up: str | Sequence[float]) -> np.ndarray:
    """``"x"``, ``"y"``, ``"z"`` (optionally ``"-z"``...) or a vector -> unit ``(3,)``."""
    if isinstance(up, str):
        sign = -1.0 if up.startswith("-") else 1.0
        axis = {"x": 0, "y": 1, "z": 2}.get(up.lstrip("+-").lower())
        if axis is None:
            raise ValueError(f"up: expected 'x', 'y', 'z' (or '-z'...) or a 3-vector, got {up!r}")
        v = np.zeros(3)
        v[axis] = sign
        return v
    v = np.asarray(up, dtype=np.float64)
    if v.shape != (3,) or not np.isfinite(v).all() or np.linalg.norm(v) < 1e-9:
        raise ValueError(f"up: expected a non-zero 3-vector, got {up!r}")
    return v / np.linalg.norm(v)


def _horizontal_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the ground plane: the world axis least aligned with ``up``
    (projected on the plane; ``x`` for Z up and Y up) and ``up x`` that one."""
    ref = np.eye(3)[int(np.argmin(np.abs(up)))]
    a = ref - (ref @ up) * up
    a /= np.linalg.norm(a)
    return a, np.cross(up, a)


def look_at(
    eye: Sequence[float], target: Sequence[float], up: str | Sequence[float] = "z"
) -> tuple[np.ndarray, np.ndarray]:
    """World -> camera ``(R (3, 3), t (3,))`` of an OpenCV camera at ``eye`` looking at
    ``target`` (metres) with the image's y axis pointing down along ``-up``."""
    eye, target, u = np.asarray(eye, float), np.asarray(target, float), up_vector(up)
    z = target - eye
    if np.linalg.norm(z) < 1e-9:
        raise ValueError("look_at: eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, u)
    if np.linalg.norm(x) < 1e-6:
        raise ValueError("look_at: the viewing direction is parallel to up")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye


def subject_bounds(joints: np.ndarray) -> tuple[np.ndarray, float]:
    """Bounding sphere of ``(T, J, 3)`` (or ``(N, 3)``) world points in metres: its centre
    (the middle of the axis-aligned box of the finite points) and radius."""
    pts = np.asarray(joints, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(1)]
    if len(pts) == 0:
        raise ValueError("subject_bounds: no finite 3D points")
    centre = (pts.min(0) + pts.max(0)) / 2
    return centre, float(np.linalg.norm(pts - centre, axis=1).max())


def fit_distance(
    radius: float, fx: float, fy: float, cx: float, cy: float, width: int, height: int
) -> float:
    """Smallest distance (m) at which a sphere of ``radius`` centred on the optical axis
    projects wholly inside the image (the narrowest half field of view decides)."""
    half = min(cx / fx, (width - cx) / fx, cy / fy, (height - cy) / fy)
    if half <= 0:
        raise ValueError("fit_distance: the principal point lies outside the image")
    return radius / np.sin(np.arctan(half))


def orbit_camera(
    camera_id: str,
    target: Sequence[float],
    *,
    azimuth: float,
    elevation: float,
    distance: float,
    focal: float,
    width: int = 1000,
    height: int = 1000,
    cx: float | None = None,
    cy: float | None = None,
    up: str | Sequence[float] = "z",
    roll: float = 0.0,
) -> Camera:
    """A camera on a sphere around ``target``: ``azimuth``, ``elevation`` and ``roll`` in
    degrees (see the module docstring), ``distance`` in metres, ``focal`` (fx = fy) in
    pixels, looking at ``target``; principal point at the image centre unless given."""
    u = up_vector(up)
    a, b = _horizontal_basis(u)
    az, el = np.radians(azimuth), np.radians(elevation)
    direction = np.cos(el) * (np.cos(az) * a + np.sin(az) * b) + np.sin(el) * u
    eye = np.asarray(target, float) + distance * direction
    R, t = look_at(eye, target, u)
    if roll:
        c, s = np.cos(np.radians(roll)), np.sin(np.radians(roll))
        turn = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # about the optical axis
        R, t = turn @ R, turn @ t
    return Camera(
        id=camera_id,
        width=width,
        height=height,
        fx=focal,
        fy=focal,
        cx=width / 2 if cx is None else cx,
        cy=height / 2 if cy is None else cy,
        R=R,
        t=t,
    )


def h36m_like_rig(
    joints: np.ndarray,
    *,
    up: str | Sequence[float] = "z",
    seed: int | None = 0,
    distance: float = 5.5,
    elevation: float = 8.0,
    focal: float = 1145.0,
    size: tuple[int, int] = (1000, 1000),
    jitter: float = 1.0,
    prefix: str = "cam",
) -> dict[str, Camera]:
    """Four Human3.6M-like cameras around a motion (ids ``cam0``..``cam3``).

    Like Human3.6M's: 1000 x 1000 px, f = 1145 px, about 5.5 m away at the corners of the
    room (azimuths 45, 135, 225, 315 degrees) and slightly above the subject's centre
    (elevation 8 degrees, ~1.6 m camera height for a standing adult), all aimed at the
    centre of the subject's bounding sphere over the sequence (``joints`` ``(T, J, 3)``
    world metres), moved back where needed so that the whole motion stays in view.
    ``seed`` (None: no jitter) perturbs each camera by up to ``jitter`` times (5 degrees
    azimuth, 2 degrees elevation, 5 % distance, 2 % focal length) so rigs differ between
    sequences the way Human3.6M's differ between subjects, reproducibly.
    """
    centre, radius = subject_bounds(joints)
    rng = np.random.default_rng(seed) if seed is not None else None
    w, h = size
    cams = {}
    for k, az in enumerate((45.0, 135.0, 225.0, 315.0)):
        d_az = d_el = 0.0
        s_d = s_f = 1.0
        if rng is not None:
            r = rng.uniform(-1, 1, size=4) * jitter
            d_az, d_el, s_d, s_f = 5 * r[0], 2 * r[1], 1 + 0.05 * r[2], 1 + 0.02 * r[3]
        f = focal * s_f
        dist = max(distance * s_d, 1.05 * fit_distance(radius, f, f, w / 2, h / 2, w, h))
        cams[f"{prefix}{k}"] = orbit_camera(
            f"{prefix}{k}",
            centre,
            azimuth=az + d_az,
            elevation=elevation + d_el,
            distance=dist,
            focal=f,
            width=w,
            height=h,
            up=up,
        )
    return cams


def sample_cameras(
    rng: np.random.Generator,
    n: int,
    joints: np.ndarray,
    *,
    up: str | Sequence[float] = "z",
    azimuth: tuple[float, float] = (-180.0, 180.0),
    elevation: tuple[float, float] = (-5.0, 35.0),
    distance: tuple[float, float] = (3.0, 8.0),
    focal: tuple[float, float] = (700.0, 1600.0),
    principal_jitter: float = 0.05,
    size: tuple[int, int] = (1000, 1000),
    margin: float = 1.05,
    prefix: str = "virtual",
    roll: tuple[float, float] = (0.0, 0.0),
) -> list[Camera]:
    """``n`` random cameras aimed at the motion ``joints`` ``(T, J, 3)`` (world metres).

    Per camera, uniformly: azimuth and elevation (degrees), distance (m; raised where
    needed to ``margin`` times `fit_distance` so the whole motion is in view), focal length
    fx = fy (px), and the principal point offset from the image centre by up to
    ``principal_jitter`` times the image width/height; roll (degrees) when its range is
    not ``(0, 0)``, drawn after the rest so that cameras without roll are the same draws as
    before roll existed. Rolling keeps the whole motion in view: the bounding sphere
    projects to a circle about the principal point. Ids are ``<prefix><k>``.
    """
    centre, radius = subject_bounds(joints)
    w, h = size
    u = rng.random((n, 6))
    rolls = rng.uniform(roll[0], roll[1], n) if tuple(roll) != (0.0, 0.0) else np.zeros(n)
    out = []
    for k in range(n):
        az = azimuth[0] + (azimuth[1] - azimuth[0]) * u[k, 0]
        el = elevation[0] + (elevation[1] - elevation[0]) * u[k, 1]
        f = focal[0] + (focal[1] - focal[0]) * u[k, 2]
        cx = w / 2 + principal_jitter * w * (2 * u[k, 3] - 1)
        cy = h / 2 + principal_jitter * h * (2 * u[k, 4] - 1)
        d = distance[0] + (distance[1] - distance[0]) * u[k, 5]
        d = max(d, margin * fit_distance(radius, f, f, cx, cy, w, h))
        out.append(
            orbit_camera(
                f"{prefix}{k}",
                centre,
                azimuth=az,
                elevation=el,
                distance=d,
                focal=f,
                width=w,
                height=h,
                cx=cx,
                cy=cy,
                up=up,
                roll=float(rolls[k]),
            )
        )
    return out


def attach_cameras(sequence: PoseSequence, cameras: Mapping[str, Camera]) -> PoseSequence:
    """A copy of ``sequence`` with ``cameras`` added and their ``joints_2d`` (pixels)
    projected from its world ``joints_3d`` with `poseviz.geometry.project`."""
    if sequence.joints_3d is None:
        raise ValueError(f"attach_cameras: sequence {sequence.name!r} has no joints_3d")
    joints_2d = dict(sequence.joints_2d)
    for cam_id, cam in cameras.items():
        joints_2d[cam_id] = project(sequence.joints_3d, cam)
    return PoseSequence(
        name=sequence.name,
        subject=sequence.subject,
        action=sequence.action,
        fps=sequence.fps,
        skeleton=sequence.skeleton,
        joints_3d=sequence.joints_3d,
        cameras={**sequence.cameras, **cameras},
        joints_2d=joints_2d,
        confidence=dict(sequence.confidence),
        occluded=dict(sequence.occluded),
        video=dict(sequence.video),
    )


def mirror_camera(camera: Camera) -> Camera:
    """The camera that sees camera-frame points mirrored in x (``X -> -X``) at the mirrored
    pixels ``u -> width - u``: ``cx -> width - cx`` and ``p2 -> -p2`` (distortion is
    otherwise symmetric). Extrinsics are kept: the mirrored points are defined in the
    camera frame. Left/right flip augmentation uses it (as VideoPose3D flips ``cx`` and
    ``p2``)."""
    return replace(camera, id=camera.id, cx=camera.width - camera.cx, p2=-camera.p2)


@dataclass(frozen=True)
class StackedCameras:
    """Pinhole cameras as arrays, for batched projection (no distortion).

    Attributes: ``R`` ``(N, 3, 3)``, ``t`` ``(N, 3)`` metres, ``focal`` ``(N, 2)`` and
    ``center`` ``(N, 2)`` pixels, ``size`` ``(N, 2)`` width and height in pixels.
    """

    R: np.ndarray
    t: np.ndarray
    focal: np.ndarray
    center: np.ndarray
    size: np.ndarray

    def take(self, index: np.ndarray) -> StackedCameras:
        """The cameras at ``index`` (any int array shape ``(B,)``)."""
        return StackedCameras(
            *(getattr(self, k)[index] for k in ("R", "t", "focal", "center", "size"))
        )

    def __len__(self) -> int:
        return len(self.t)


def stack_cameras(cameras: Sequence[Camera]) -> StackedCameras:
    """Stack cameras into arrays. Raises ``ValueError`` for a camera with distortion
    (`project_stacked` is a pinhole projection)."""
    for cam in cameras:
        if np.any(cam.dist != 0):
            raise ValueError(f"stack_cameras: camera {cam.id!r} has lens distortion")
    return StackedCameras(
        R=np.array([c.R for c in cameras]).reshape(-1, 3, 3),
        t=np.array([c.t for c in cameras]).reshape(-1, 3),
        focal=np.array([[c.fx, c.fy] for c in cameras]).reshape(-1, 2),
        center=np.array([[c.cx, c.cy] for c in cameras]).reshape(-1, 2),
        size=np.array([[c.width, c.height] for c in cameras], dtype=np.float64).reshape(-1, 2),
    )


def project_stacked(
    points_world: np.ndarray, cameras: StackedCameras
) -> tuple[np.ndarray, np.ndarray]:
    """Project ``(B, ..., 3)`` world points (m) through camera ``b`` of ``cameras`` (B of
    them). Returns camera-frame points ``(B, ..., 3)`` (m) and pixels ``(B, ..., 2)``; the
    same numbers as `poseviz.geometry.world_to_camera` and `project` per camera, in one
    vectorised pass."""
    B = points_world.shape[0]
    if len(cameras) != B or points_world.shape[-1] != 3:
        raise ValueError(
            f"project_stacked: expected points (B, ..., 3) with B = {len(cameras)} cameras, "
            f"got {points_world.shape}"
        )
    flat = points_world.reshape(B, -1, 3)
    dtype = flat.dtype
    R, t = cameras.R.astype(dtype), cameras.t.astype(dtype)
    x, y, z = flat[..., 0], flat[..., 1], flat[..., 2]
    cam = np.empty_like(flat)
    for i in range(3):  # 3 x 3 multiply-adds over (B, N): faster than a batched 3 x 3 matmul
        cam[..., i] = R[:, i, 0, None] * x + R[:, i, 1, None] * y + R[:, i, 2, None] * z
        cam[..., i] += t[:, i, None]
    px = cam[..., :2] / cam[..., 2:3]
    px = px * cameras.focal.astype(dtype)[:, None] + cameras.center.astype(dtype)[:, None]
    return cam.reshape(points_world.shape), px.reshape(points_world.shape[:-1] + (2,))


# COCO keypoint OKS sigmas (Ronchi & Perona 2017; the COCO keypoint evaluation), mapped to
# h36m17: the per-keypoint spread of human annotations relative to the person's scale, used
# here as each joint's relative detection difficulty. Joints COCO lacks take the mean of the
# keypoints they are derived from: pelvis = hips, spine = hips + shoulders, thorax =
# shoulders, head = eyes.
_HIP, _KNEE, _ANKLE, _SHOULDER, _ELBOW, _WRIST = 0.107, 0.087, 0.089, 0.079, 0.072, 0.062
COCO_SIGMAS_H36M17 = np.array(
    [_HIP, _HIP, _KNEE, _ANKLE, _HIP, _KNEE, _ANKLE, (_HIP + _SHOULDER) / 2, _SHOULDER,
     0.026, 0.025, _SHOULDER, _ELBOW, _WRIST, _SHOULDER, _ELBOW, _WRIST]
)  # fmt: skip


@dataclass(frozen=True)
class DetectorNoise:
    """A 2D keypoint detector's errors, applied to clean projections (pixels).

    Per joint and frame, with ``s`` the person's scale (``sqrt`` of the area of the 2D
    joints' bounding box, pixels) and ``sigma_j`` the joint's `COCO_SIGMAS_H36M17` value:

    - Gaussian jitter with standard deviation ``jitter * sigma_j * s`` per axis
      (``occluded_factor`` times larger for occluded joints when ``occluded`` is given);
    - with probability ``outlier_prob`` (``occluded_factor`` times more when occluded) an
      outlier instead: an offset with standard deviation ``outlier_scale * s`` per axis;
    - with probability ``swap_prob`` per frame and left/right pair (``left``/``right``
      joint indices) the two detections are swapped, a detector's typical confusion;
    - confidence ``exp(-r^2 / 2)`` of the error ``e`` normalised as
      ``r = e / (confidence_scale * jitter * sigma_j * s)``, times ``1 - u *
      confidence_noise`` with ``u`` uniform in [0, 1]: high for small errors, near 0 for
      outliers and swaps, so confidence and error are correlated as a detector's are.

    Joints with NaN coordinates stay NaN with confidence 0.
    """

    jitter: float = 0.4
    outlier_prob: float = 0.02
    outlier_scale: float = 0.3
    swap_prob: float = 0.005
    occluded_factor: float = 2.0
    confidence_scale: float = 3.0
    confidence_noise: float = 0.1
    sigmas: tuple[float, ...] = tuple(COCO_SIGMAS_H36M17)
    left: tuple[int, ...] = (4, 5, 6, 11, 12, 13)
    right: tuple[int, ...] = (1, 2, 3, 14, 15, 16)

    def __post_init__(self) -> None:
        for name in ("jitter", "outlier_scale", "occluded_factor", "confidence_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DetectorNoise.{name}: expected > 0, got {getattr(self, name)}")
        for name in ("outlier_prob", "swap_prob", "confidence_noise"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(
                    f"DetectorNoise.{name}: expected a value in [0, 1], got {getattr(self, name)}"
                )

    def __call__(
        self,
        keypoints: np.ndarray,
        rng: RandomLike,
        *,
        occluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Noisy ``(..., J, 2)`` pixels and ``(..., J)`` confidence in [0, 1] for clean
        ``keypoints`` ``(..., J, 2)`` pixels (any leading shape; one person per
        ``(J, 2)`` slice). ``occluded`` ``(..., J)`` bool marks hidden joints."""
        kp = np.asarray(keypoints)
        J = len(self.sigmas)
        if kp.ndim < 2 or kp.shape[-2:] != (J, 2):
            raise ValueError(
                f"DetectorNoise: expected keypoints of shape (..., {J}, 2), got {kp.shape}"
            )
        dtype = kp.dtype if np.issubdtype(kp.dtype, np.floating) else np.dtype(np.float64)
        # bounding box per person: a loop over joints (contiguous slices) beats a strided
        # reduction over the joint axis
        lo, hi = np.array(kp[..., 0, :]), np.array(kp[..., 0, :])
        for j in range(1, J):
            np.fmin(lo, kp[..., j, :], out=lo)
            np.fmax(hi, kp[..., j, :], out=hi)
        extent = np.maximum(hi - lo, 1.0)
        extent = np.where(np.isfinite(extent), extent, 1.0)
        scale = np.sqrt(extent[..., 0] * extent[..., 1])[..., None]  # (..., 1)
        base = np.asarray(self.sigmas, dtype=dtype) * self.jitter * scale  # (..., J)
        sig = base
        p_out: np.ndarray | float = self.outlier_prob
        if occluded is not None:
            occ = np.asarray(occluded, dtype=bool)
            if occ.shape != kp.shape[:-1]:
                raise ValueError(
                    f"DetectorNoise: occluded must have shape {kp.shape[:-1]}, got {occ.shape}"
                )
            sig = np.where(occ, base * self.occluded_factor, base)
            p_out = np.where(occ, min(self.outlier_prob * self.occluded_factor, 1.0), p_out)
        normal = np.asarray(rng.standard_normal(kp.shape[:-1] + (2,)), dtype=dtype)
        uniform = np.asarray(rng.random(kp.shape[:-1] + (2,)), dtype=dtype)
        # an outlier draws its offset from the same normals with the outlier spread
        spread = np.where(uniform[..., 0] < p_out, dtype.type(self.outlier_scale) * scale, sig)
        noisy = kp + normal * spread[..., None]
        if self.swap_prob > 0 and self.left:
            swap = rng.random(kp.shape[:-2] + (len(self.left),)) < self.swap_prob
            if swap.any():
                left, right = list(self.left), list(self.right)
                a, b = noisy[..., left, :].copy(), noisy[..., right, :].copy()
                noisy[..., left, :] = np.where(swap[..., None], b, a)
                noisy[..., right, :] = np.where(swap[..., None], a, b)
        d = noisy - kp
        r2 = (d[..., 0] ** 2 + d[..., 1] ** 2) / (self.confidence_scale * base) ** 2
        conf = np.exp(-0.5 * r2) * (1 - dtype.type(self.confidence_noise) * uniform[..., 1])
        conf = np.where(np.isfinite(conf), conf, 0.0)
        return noisy, np.clip(conf, 0.0, 1.0).astype(dtype, copy=False)
