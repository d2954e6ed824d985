"""Synthetic person images for the image-based models: the capsule body of
`poseviz.data.occlusion`, ray-cast over a random background.

Each pixel's camera ray is intersected with every capsule (exactly, per pixel, inside the
capsule's projected bounding box) and a depth buffer keeps the nearest hit, so the picture
shows precisely the body whose self-occlusion `poseviz.data.occlusion.occlusion_labels`
labels: the visibility returned with an image is those labels. Shading is Lambertian from
the capsule's surface normal under one light near the camera; each body part has its own
colour (jittered per image); backgrounds mix a random gradient, low-frequency noise, random
shapes and pixel noise. Everything random comes from a `numpy.random.Generator`, so a seed
fixes the image.

Pixel convention (OpenCV, as `poseviz.geometry.project`): pixel ``(col, row)`` has its
centre at integer coordinates ``x = col``, ``y = row``. A person crop is rendered directly
through a *crop camera* (`crop_camera`: the same pose and distortion, scaled and shifted
intrinsics), not by resampling a larger image, so crops cost the same as any 256 x 256
render and their 2D joints are exact.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from poseviz.data.occlusion import (
    Capsule,
    body_capsules,
    capsule_segments,
    occlusion_labels,
    occlusion_severity,
)
from poseviz.geometry import (
    camera_to_image,
    normalize_screen_coordinates,
    undistort,
    world_to_camera,
)
from poseviz.skeleton import Skeleton, get_skeleton
from poseviz.structures import Camera, PoseSequence

__all__ = [
    "PART_COLORS",
    "SyntheticImage",
    "SyntheticImageDataset",
    "crop_camera",
    "heatmap_coordinates",
    "person_box",
    "random_background",
    "render_body",
    "render_person_crop",
    "render_sample",
]

PART_COLORS: dict[str, tuple[int, int, int]] = {
    "torso": (200, 70, 60),
    "head": (225, 185, 150),
    "left_arm": (70, 150, 210),
    "right_arm": (90, 190, 90),
    "left_leg": (60, 60, 160),
    "right_leg": (150, 110, 50),
}
"""RGB base colour of each capsule ``part`` (see `poseviz.data.occlusion.Capsule`); parts
not listed are grey. Each image jitters them by up to ``color_jitter``."""

_LIGHT = np.array([-0.35, -0.5, -0.8]) / np.linalg.norm([-0.35, -0.5, -0.8])  # toward light
_AMBIENT = 0.35


@dataclass(eq=False)
class SyntheticImage:
    """One rendered view of the capsule body.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        joints_2d: ``(J, 2)`` joint projections in this image's pixels.
        joints_3d: ``(J, 3)`` joints in the camera frame, metres.
        visible: ``(J,)`` bool, False where `occlusion_labels` marks the joint occluded.
        mask: ``(H, W)`` bool foreground (the body).
        depth: ``(H, W)`` float32 distance (m) along each pixel's ray to the body, inf on the
            background.
        capsule_index: ``(H, W)`` int16 index into ``capsules`` of the visible capsule, -1 on
            the background.
        capsules: the capsule body that was drawn.
        camera: the camera of this image (a crop camera for `render_person_crop`).
        box: ``(4,)`` crop box ``(x0, y0, x1, y1)`` in the source camera's pixels (pixel
            edges), or None for a full-frame render.
    """

    image: np.ndarray
    joints_2d: np.ndarray
    joints_3d: np.ndarray
    visible: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    capsule_index: np.ndarray
    capsules: tuple[Capsule, ...]
    camera: Camera
    box: np.ndarray | None = None


# --- backgrounds ------------------------------------------------------------------------------


def random_background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``(height, width, 3)`` uint8 RGB background: a linear gradient between two
    random colours in a random direction, plus low-frequency colour noise, 0-8 random filled
    or outlined shapes (circles, rectangles, lines, polygons) and uniform pixel noise of up
    to +-12 grey levels."""
    if height <= 0 or width <= 0:
        raise ValueError(f"random_background: expected a positive size, got {height} x {width}")
    # Smooth part (gradient + low-frequency noise) on a coarse grid, upsampled bilinearly:
    # bilinear interpolation reproduces a linear gradient exactly.
    cells = int(rng.integers(2, 8))
    c0, c1 = rng.uniform(0, 255, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    g = np.linspace(-0.5, 0.5, cells + 1)
    ramp = g[None, :, None] * np.cos(angle) + g[:, None, None] * np.sin(angle) + 0.5
    coarse = c0 + (c1 - c0) * ramp + rng.normal(0, rng.uniform(0, 40), (cells + 1, cells + 1, 3))
    smooth = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    img = np.clip(smooth, 0, 255, out=smooth).astype(np.uint8)
    scale = max(height, width)
    for _ in range(int(rng.integers(0, 9))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 6))
        kind = rng.integers(0, 4)
        p = rng.uniform(-0.1, 1.1, 2) * (width, height)
        if kind == 0:
            r = int(rng.uniform(0.02, 0.3) * scale)
            cv2.circle(img, (int(p[0]), int(p[1])), r, color, thick, cv2.LINE_AA)
        elif kind == 1:
            q = p + rng.uniform(-0.4, 0.4, 2) * scale
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), color, thick)
        elif kind == 2:
            q = p + rng.uniform(-0.6, 0.6, 2) * scale
            cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), color,
                     max(thick, 1), cv2.LINE_AA)  # fmt: skip
        else:
            pts = p + rng.uniform(-0.25, 0.25, (int(rng.integers(3, 7)), 2)) * scale
            pts = pts.astype(np.int32)[None]
            if thick < 0:
                cv2.fillPoly(img, pts, color, cv2.LINE_AA)
            else:
                cv2.polylines(img, pts, True, color, thick, cv2.LINE_AA)
    amplitude = int(rng.integers(0, 13))
    if amplitude:
        noise = rng.integers(-amplitude, amplitude + 1, (height, width, 1), dtype=np.int16)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
    return img


# --- ray casting ------------------------------------------------------------------------------


def _no_distortion(camera: Camera) -> bool:
    return not any((camera.k1, camera.k2, camera.p1, camera.p2, camera.k3))


class _Rays:
    """Unit ray directions ``(3, H, W)`` float32 of a camera's pixels, computed lazily per
    box for a pinhole camera, once for the whole image when there is distortion."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.full = None
        if not _no_distortion(camera):
            rows, cols = np.mgrid[0 : camera.height, 0 : camera.width]
            pix = np.stack([cols, rows], -1).astype(np.float64)
            xy = undistort(pix, camera)
            d = np.concatenate([xy, np.ones_like(xy[..., :1])], -1)
            d /= np.linalg.norm(d, axis=-1, keepdims=True)
            self.full = np.moveaxis(d, -1, 0).astype(np.float32)

    def box(self, r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, ...]:
        if self.full is not None:
            return tuple(self.full[:, r0:r1, c0:c1])
        cam = self.camera
        x = ((np.arange(c0, c1, dtype=np.float32) - cam.cx) / cam.fx)[None, :]
        y = ((np.arange(r0, r1, dtype=np.float32) - cam.cy) / cam.fy)[:, None]
        inv = 1.0 / np.sqrt(x * x + y * y + 1.0)
        return x * inv, y * inv, np.broadcast_to(inv, (r1 - r0, c1 - c0))


def _capsule_boxes(
    ends_a: np.ndarray, ends_b: np.ndarray, radius: np.ndarray, camera: Camera
) -> np.ndarray:
    """``(K, 4)`` int pixel ranges ``(r0, r1, c0, c1)`` that can see each capsule
    (conservative; the whole image under lens distortion or when a capsule reaches the
    camera plane)."""
    K = len(radius)
    full = np.tile([0, camera.height, 0, camera.width], (K, 1))
    if not _no_distortion(camera):
        return full
    ends = np.stack([ends_a, ends_b], 1)  # (K, 2, 3)
    z = ends[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        xy = ends[..., :2] / z[..., None]
        uv = xy * (camera.fx, camera.fy) + (camera.cx, camera.cy)
        # A sphere of radius r at depth z spans f r / (z - r) pixels near the axis,
        # stretched by up to 1 + tan^2 of its off-axis angle.
        reach = radius[:, None] / (z - radius[:, None]) * (1.0 + (xy**2).sum(-1))
        rad = reach[..., None] * (camera.fx, camera.fy) + 1.5
        lo = np.floor((uv - rad).min(1))
        hi = np.ceil((uv + rad).max(1)) + 1
    size = np.array([camera.width, camera.height])
    lo = np.clip(np.nan_to_num(lo, nan=0.0), 0, size)
    hi = np.clip(np.nan_to_num(hi, nan=0.0), 0, size)
    boxes = np.stack([lo[:, 1], hi[:, 1], lo[:, 0], hi[:, 0]], 1).astype(np.int64)
    near = (z - radius[:, None] <= 1e-3).any(1)
    boxes[near] = full[near]
    return boxes


def _ray_capsule(d: tuple[np.ndarray, ...], a: np.ndarray, b: np.ndarray, r: float):
    """Distance along unit rays ``d`` (3 arrays) from the origin to their first hit of the
    capsule ``a``-``b`` of radius ``r``; inf where they miss. After I. Quilez's capsule
    intersection (infinite cylinder, then the spherical cap the hit falls beyond)."""
    dx, dy, dz = d
    ba = (b - a).astype(np.float32)
    oa = (-a).astype(np.float32)
    baba, baoa, oaoa = float(ba @ ba), float(ba @ oa), float(oa @ oa)
    bard = dx * ba[0] + dy * ba[1] + dz * ba[2]
    rdoa = dx * oa[0] + dy * oa[1] + dz * oa[2]
    rr = r * r
    if baba < 1e-12:  # a sphere
        h = rdoa * rdoa - (oaoa - rr)
        with np.errstate(invalid="ignore"):
            return np.where(h >= 0, -rdoa - np.sqrt(h), np.inf)
    qa = baba - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - rr * baba
    h = qb * qb - qa * qc
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-qb - np.sqrt(h)) / qa
        y = baoa + t * bard
        body = (h >= 0) & (y > 0) & (y < baba)
        # caps: rd . (o - c) and |o - c|^2 for c = a (y <= 0) or c = b (y >= baba)
        below = y <= 0
        oc_d = np.where(below, rdoa, rdoa - bard)
        oc_oc = np.where(below, oaoa, float(b @ b))
        h2 = oc_d * oc_d - (oc_oc - rr)
        t_cap = -oc_d - np.sqrt(h2)
        return np.where(body, t, np.where((h >= 0) & (h2 > 0), t_cap, np.inf))


def _shade(
    rows: np.ndarray,
    cols: np.ndarray,
    t: np.ndarray,
    k: np.ndarray,
    rays: _Rays,
    ends_a: np.ndarray,
    ends_b: np.ndarray,
    radius: np.ndarray,
) -> np.ndarray:
    """Lambert shading ``(N,)`` in [0, 1] of foreground pixels from their capsule normals."""
    if rays.full is not None:
        d = rays.full[:, rows, cols].T
    else:
        cam = rays.camera
        d = np.stack([(cols - cam.cx) / cam.fx, (rows - cam.cy) / cam.fy, np.ones(len(rows))], 1)
        d /= np.linalg.norm(d, axis=1, keepdims=True)
    p = d * t[:, None]
    a, ba = ends_a[k], ends_b[k] - ends_a[k]
    baba = np.maximum((ba * ba).sum(1), 1e-12)
    u = np.clip(((p - a) * ba).sum(1) / baba, 0, 1)
    n = (p - a - ba * u[:, None]) / radius[k][:, None]
    lambert = np.clip(n @ _LIGHT, 0, 1)
    return _AMBIENT + (1 - _AMBIENT) * lambert


def _part_colors(
    capsules: Sequence[Capsule], rng: np.random.Generator | None, jitter: float
) -> np.ndarray:
    parts = sorted({c.part for c in capsules})
    base = {p: np.array(PART_COLORS.get(p, (160, 160, 160)), dtype=np.float64) for p in parts}
    if rng is not None and jitter > 0:
        base = {p: c + rng.uniform(-jitter, jitter, 3) for p, c in base.items()}
    return np.clip(np.stack([base[c.part] for c in capsules]), 0, 255)


def _as_skeleton(skeleton: str | Skeleton) -> Skeleton:
    return skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)


def render_body(
    joints_cam: np.ndarray,
    camera: Camera,
    *,
    rng: np.random.Generator | int | None = None,
    background: np.ndarray | None = None,
    skeleton: str | Skeleton = "h36m17",
    radii: Mapping[str, float] | None = None,
    color_jitter: float = 30.0,
) -> SyntheticImage:
    """Render the capsule body of one pose as seen by ``camera``.

    Args:
        joints_cam: ``(J, 3)`` joints in the camera frame, metres (OpenCV axes, z > 0).
            NaN joints are left out (their capsules are not drawn).
        camera: intrinsics and image size (``camera.height x camera.width``); lens
            distortion is honoured (slower: every pixel's ray is undistorted).
        rng: generator or seed for the background and colour jitter; None draws a fresh
            one from OS entropy.
        background: ``(H, W, 3)`` uint8 image to draw on instead of a random one.
        skeleton, radii: the capsule body (see `poseviz.data.occlusion.body_capsules`).
        color_jitter: per-image uniform jitter of each part's RGB colour (0-255 units).

    Returns:
        A `SyntheticImage`; its ``visible`` is ``~occlusion_labels`` of this pose.
    """
    if not isinstance(camera, Camera):
        raise ValueError(f"render_body: camera must be a Camera, got {type(camera).__name__}")
    skel = _as_skeleton(skeleton)
    x = np.asarray(joints_cam, dtype=np.float64)
    if x.shape != (skel.num_joints, 3):
        raise ValueError(
            f"render_body: expected joints_cam of shape ({skel.num_joints}, 3) in the camera "
            f"frame (metres) for skeleton {skel.name!r}, got {x.shape}"
        )
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    H, W = camera.height, camera.width
    if background is None:
        image = random_background(H, W, rng)
    else:
        image = np.asarray(background)
        if image.shape != (H, W, 3) or image.dtype != np.uint8:
            raise ValueError(
                f"render_body: expected background of shape ({H}, {W}, 3) uint8, got "
                f"{image.shape} {image.dtype}"
            )
        image = image.copy()
    occluded = occlusion_labels(x[None], camera, skeleton=skel, radii=radii)[0]
    capsules = body_capsules(skel, radii)
    colors = _part_colors(capsules, rng, color_jitter)

    depth = np.full((H, W), np.inf, dtype=np.float32)
    index = np.full((H, W), -1, dtype=np.int16)
    rays = _Rays(camera)
    ends_a, ends_b = capsule_segments(x, capsules)
    radius = np.array([c.radius for c in capsules])
    finite = np.isfinite(ends_a).all(1) & np.isfinite(ends_b).all(1)
    boxes = _capsule_boxes(ends_a, ends_b, radius, camera)
    for k in np.flatnonzero(finite):
        r0, r1, c0, c1 = boxes[k]
        if r0 >= r1 or c0 >= c1:
            continue
        t = _ray_capsule(rays.box(r0, r1, c0, c1), ends_a[k], ends_b[k], radius[k])
        zb = depth[r0:r1, c0:c1]
        nearer = (t > 0) & (t < zb)
        zb[nearer] = t[nearer]
        index[r0:r1, c0:c1][nearer] = k

    mask = index >= 0
    rows, cols = np.nonzero(mask)
    if rows.size:
        k = index[rows, cols].astype(np.intp)
        shade = _shade(rows, cols, depth[rows, cols].astype(np.float64), k, rays, ends_a,
                       ends_b, radius)  # fmt: skip
        image[rows, cols] = np.clip(colors[k] * shade[:, None], 0, 255).astype(np.uint8)
    with np.errstate(invalid="ignore", divide="ignore"):
        joints_2d = camera_to_image(x, camera)
    return SyntheticImage(
        image=image,
        joints_2d=np.asarray(joints_2d),
        joints_3d=x,
        visible=~occluded,
        mask=mask,
        depth=depth,
        capsule_index=index,
        capsules=capsules,
        camera=camera,
    )


# --- person crops -----------------------------------------------------------------------------


def person_box(joints_2d: np.ndarray, *, aspect: float = 1.0, padding: float = 0.25) -> np.ndarray:
    """A box around a person's 2D joints, padded and grown to an aspect ratio.

    Args:
        joints_2d: ``(J, 2)`` pixels (NaN joints ignored).
        aspect: width / height of the box (e.g. 192 / 256 = 0.75).
        padding: fraction of the tight box's larger side added on every side (the body
            reaches beyond its joint centres: head, hands, feet).

    Returns:
        ``(4,)`` ``(x0, y0, x1, y1)`` pixel edges (may extend past the image).
    """
    pts = np.asarray(joints_2d, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"person_box: expected joints_2d of shape (J, 2), got {pts.shape}")
    pts = pts[np.isfinite(pts).all(1)]
    if not len(pts):
        raise ValueError("person_box: every joint is NaN; there is no person to box")
    if not (aspect > 0 and padding >= 0):
        raise ValueError(f"person_box: need aspect > 0 and padding >= 0, got {aspect}, {padding}")
    lo, hi = pts.min(0), pts.max(0)
    centre = (lo + hi) / 2
    pad = padding * max(float((hi - lo).max()), 1.0)
    w, h = (hi - lo) + 2 * pad
    w, h = (h * aspect, h) if w / h < aspect else (w, w / aspect)
    return np.array([centre[0] - w / 2, centre[1] - h / 2, centre[0] + w / 2, centre[1] + h / 2])


def crop_camera(camera: Camera, box: np.ndarray, size: tuple[int, int]) -> Camera:
    """The camera whose image is ``box`` of ``camera``'s image resized to ``size``.

    Args:
        camera: source camera.
        box: ``(x0, y0, x1, y1)`` pixel edges in the source image (pixel ``i`` spans
            ``[i - 0.5, i + 0.5]``).
        size: output ``(height, width)`` in pixels.

    Returns:
        A `Camera` with the same ``R``, ``t`` and distortion and intrinsics
        ``fx' = sx fx``, ``cx' = sx (cx - x0) - 0.5`` (and likewise in y), where
        ``sx = width / (x1 - x0)``; so ``project(X, crop) = sx (project(X, camera) - x0) - 0.5``.
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64))
    H, W = (int(s) for s in size)
    if not (x1 > x0 and y1 > y0 and H > 0 and W > 0):
        raise ValueError(f"crop_camera: expected a non-empty box and size, got {box}, {size}")
    sx, sy = W / (x1 - x0), H / (y1 - y0)
    return Camera(
        id=f"{camera.id}/crop",
        width=W,
        height=H,
        fx=camera.fx * sx,
        fy=camera.fy * sy,
        cx=sx * (camera.cx - x0) - 0.5,
        cy=sy * (camera.cy - y0) - 0.5,
        R=camera.R,
        t=camera.t,
        k1=camera.k1,
        k2=camera.k2,
        p1=camera.p1,
        p2=camera.p2,
        k3=camera.k3,
    )


def heatmap_coordinates(
    points_2d: np.ndarray, image_size: tuple[int, int], heatmap_size: tuple[int, int]
) -> np.ndarray:
    """Map ``(..., 2)`` image pixels to heatmap pixels (both with pixel centres at integers,
    as `poseviz.geometry.soft_argmax_2d` reads them).

    Args:
        points_2d: ``(..., 2)`` ``(x, y)`` pixels of an image of ``image_size``.
        image_size, heatmap_size: ``(height, width)``.

    Returns:
        ``(..., 2)``: ``(x + 0.5) * W_hm / W - 0.5`` and likewise for y.
    """
    (H, W), (h, w) = image_size, heatmap_size
    scale = np.array([w / W, h / H])
    return (np.asarray(points_2d, dtype=np.float64) + 0.5) * scale - 0.5


def render_person_crop(
    joints_cam: np.ndarray,
    camera: Camera,
    *,
    size: tuple[int, int] = (256, 256),
    padding: float = 0.25,
    rng: np.random.Generator | int | None = None,
    **render_options,
) -> SyntheticImage:
    """Render a person crop: the box around the joints' projection in ``camera`` (padded,
    at the aspect of ``size``), rendered directly at ``size = (height, width)`` pixels, e.g.
    ``(256, 256)`` for Feature-Net or ``(256, 192)`` for Lifting by Image.

    Args:
        joints_cam: ``(J, 3)`` camera-frame joints, metres.
        camera: the full-frame camera.
        size, padding: crop size and padding (see `person_box`).
        rng, **render_options: passed to `render_body`.

    Returns:
        A `SyntheticImage` whose ``camera`` is the crop camera, ``joints_2d`` are in crop
        pixels and ``box`` is the crop in ``camera``'s pixels.
    """
    x = np.asarray(joints_cam, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(f"render_person_crop: expected joints_cam (J, 3), got {x.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        full_2d = np.asarray(camera_to_image(x, camera))
    box = person_box(full_2d, aspect=size[1] / size[0], padding=padding)
    crop = crop_camera(camera, box, size)
    out = render_body(x, crop, rng=rng, **render_options)
    out.box = box
    return out


# --- samples for the image models --------------------------------------------------------------


def _sample_seed(seed: int, sequence: str, camera_id: str, frame: int) -> np.random.Generator:
    key = f"{sequence}\0{camera_id}".encode()
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key), int(frame)])


def render_sample(
    sequence: PoseSequence,
    camera_id: str,
    frame: int,
    *,
    size: tuple[int, int] = (256, 256),
    heatmap_size: tuple[int, int] | None = None,
    padding: float = 0.25,
    seed: int = 0,
    radii: Mapping[str, float] | None = None,
) -> dict:
    """One training sample for an image model, following `poseviz.data.batch`'s contract
    with a clip length of one frame (``T = 1``). Deterministic in ``(seed, sequence.name,
    camera_id, frame)``.

    Args:
        sequence: a `PoseSequence` with world ``joints_3d`` and the camera ``camera_id``.
        camera_id, frame: the view and frame to render.
        size: crop ``(height, width)``: ``(256, 256)`` (Feature-Net) or ``(256, 192)``
            (Lifting by Image).
        heatmap_size: ``(height, width)`` of the heatmaps the 2D targets are expressed in;
            default a quarter of ``size`` (64 x 64 for 256 x 256).
        padding: crop padding (see `person_box`).
        seed: base seed of the background and colours.
        radii: capsule radius overrides (see `poseviz.data.occlusion.body_capsules`).

    Returns:
        dict of tensors (float32 unless noted): ``image`` ``(3, H, W)`` RGB in [0, 1];
        ``keypoints_2d_heatmap`` ``(J, 2)`` heatmap pixels; ``keypoints_2d`` ``(1, J, 2)``
        crop joints in normalised screen coordinates (``x / w * 2 - [1, h / w]``);
        ``pose_3d`` ``(1, J, 3)`` root-relative camera-frame metres; ``occlusion``
        ``(1, J)`` 1.0 where occluded; ``severity`` and ``frame`` int64 scalars; ``mask``
        ``(H, W)`` bool; and the labels ``sequence``, ``camera``, ``subject``, ``action``.
    """
    if sequence.joints_3d is None:
        raise ValueError(f"render_sample: sequence {sequence.name!r} has no joints_3d")
    if camera_id not in sequence.cameras:
        raise ValueError(
            f"render_sample: sequence {sequence.name!r} has no camera {camera_id!r}; "
            f"cameras: {sorted(sequence.cameras)}"
        )
    if not 0 <= frame < sequence.num_frames:
        raise ValueError(
            f"render_sample: frame {frame} out of range for {sequence.name!r} "
            f"({sequence.num_frames} frames)"
        )
    camera = sequence.cameras[camera_id]
    hm = heatmap_size or (size[0] // 4, size[1] // 4)
    joints_cam = np.asarray(world_to_camera(sequence.joints_3d[frame], camera))
    rng = _sample_seed(seed, sequence.name, camera_id, frame)
    out = render_person_crop(
        joints_cam, camera, size=size, padding=padding, rng=rng,
        skeleton=sequence.skeleton, radii=radii,
    )  # fmt: skip
    skel = get_skeleton(sequence.skeleton)
    occluded = ~out.visible
    H, W = size
    return {
        "image": torch.from_numpy(out.image).permute(2, 0, 1).float().div_(255.0),
        "keypoints_2d_heatmap": torch.from_numpy(
            heatmap_coordinates(out.joints_2d, size, hm)
        ).float(),
        "keypoints_2d": torch.from_numpy(
            np.asarray(normalize_screen_coordinates(out.joints_2d, W, H))[None]
        ).float(),
        "pose_3d": torch.from_numpy((joints_cam - joints_cam[skel.root])[None]).float(),
        "occlusion": torch.from_numpy(occluded[None].astype(np.float32)),
        "severity": torch.tensor(
            int(occlusion_severity(occluded[None], skeleton=skel)[0]), dtype=torch.int64
        ),
        "frame": torch.tensor(frame, dtype=torch.int64),
        "mask": torch.from_numpy(out.mask),
        "sequence": sequence.name,
        "camera": camera_id,
        "subject": sequence.subject,
        "action": sequence.action,
    }


class SyntheticImageDataset(torch.utils.data.Dataset):
    """Rendered person crops for every (sequence, camera, frame), as `render_sample` dicts.

    Items are enumerated sequence by sequence, camera by camera (sorted ids), frame by
    frame, taking every ``stride``-th frame. Rendering is deterministic in ``seed`` and the
    item, so two epochs (or two workers) see the same images; pass a different ``seed`` per
    epoch for new backgrounds. The default collate gives a batch that passes
    `poseviz.data.batch.check_batch` with ``T = 1``.

    Args:
        sequences: `PoseSequence` objects with world ``joints_3d`` and cameras.
        cameras: camera ids to use (default: every camera of each sequence).
        stride: frame step.
        size, heatmap_size, padding, seed, radii: see `render_sample`.
    """

    def __init__(
        self,
        sequences: Sequence[PoseSequence],
        *,
        cameras: Sequence[str] | None = None,
        stride: int = 1,
        size: tuple[int, int] = (256, 256),
        heatmap_size: tuple[int, int] | None = None,
        padding: float = 0.25,
        seed: int = 0,
        radii: Mapping[str, float] | None = None,
    ) -> None:
        if stride < 1:
            raise ValueError(f"SyntheticImageDataset: stride must be >= 1, got {stride}")
        self.sequences = list(sequences)
        self.options = dict(
            size=size, heatmap_size=heatmap_size, padding=padding, seed=seed, radii=radii
        )
        index = []
        for s, seq in enumerate(self.sequences):
            if seq.joints_3d is None:
                raise ValueError(f"SyntheticImageDataset: sequence {seq.name!r} has no joints_3d")
            ids = sorted(seq.cameras) if cameras is None else list(cameras)
            for cam in ids:
                if cam not in seq.cameras:
                    raise ValueError(
                        f"SyntheticImageDataset: sequence {seq.name!r} has no camera {cam!r}"
                    )
                index.extend((s, cam, f) for f in range(0, seq.num_frames, stride))
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        s, cam, frame = self.index[i]
        return render_sample(self.sequences[s], cam, frame, **self.options)
