"""Camera geometry in OpenCV's convention: x right, y down, z forward (metres, pixels).

``R`` and ``t`` map world to camera: ``X_cam = R @ X_world + t``. Distortion follows
OpenCV's ``(k1, k2, p1, p2, k3)`` model, so `project` matches ``cv2.projectPoints``.
"""

from __future__ import annotations

import torch

from poseviz.geometry._backend import as_tensor, check_last, numpy_compat
from poseviz.structures import Camera

__all__ = [
    "camera_to_image",
    "camera_to_world",
    "distort",
    "image_coordinates",
    "normalize_screen_coordinates",
    "project",
    "undistort",
    "world_to_camera",
]


def _Rt(camera: Camera, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return as_tensor(camera.R, like), as_tensor(camera.t, like)


@numpy_compat
def world_to_camera(points: torch.Tensor, camera: Camera) -> torch.Tensor:
    """``(..., 3)`` world points (m) -> ``(..., 3)`` camera coordinates (m)."""
    check_last(points, 3, "points", "world_to_camera")
    R, t = _Rt(camera, points)
    return points @ R.T + t


@numpy_compat
def camera_to_world(points: torch.Tensor, camera: Camera) -> torch.Tensor:
    """``(..., 3)`` camera coordinates (m) -> ``(..., 3)`` world points (m)."""
    check_last(points, 3, "points", "camera_to_world")
    R, t = _Rt(camera, points)
    return (points - t) @ R


@numpy_compat
def distort(xy: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Apply OpenCV's distortion to ``(..., 2)`` normalised image coordinates ``X/Z, Y/Z``."""
    check_last(xy, 2, "xy", "distort")
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    radial = 1 + r2 * (camera.k1 + r2 * (camera.k2 + r2 * camera.k3))
    xd = x * radial + 2 * camera.p1 * x * y + camera.p2 * (r2 + 2 * x * x)
    yd = y * radial + camera.p1 * (r2 + 2 * y * y) + 2 * camera.p2 * x * y
    return torch.stack([xd, yd], -1)


@numpy_compat
def undistort(pixels: torch.Tensor, camera: Camera, iterations: int = 20) -> torch.Tensor:
    """Invert `camera_to_image`'s intrinsics and distortion: ``(..., 2)`` pixels ->
    ``(..., 2)`` undistorted normalised coordinates ``X/Z, Y/Z``.

    Fixed-point iteration as in ``cv2.undistortPoints``; exact for cameras without
    distortion, and converges to ~1e-12 for the moderate distortion of real lenses.
    """
    check_last(pixels, 2, "pixels", "undistort")
    xd = (pixels[..., 0] - camera.cx) / camera.fx
    yd = (pixels[..., 1] - camera.cy) / camera.fy
    if not any((camera.k1, camera.k2, camera.p1, camera.p2, camera.k3)):
        return torch.stack([xd, yd], -1)
    x, y = xd, yd
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1 + r2 * (camera.k1 + r2 * (camera.k2 + r2 * camera.k3))
        dx = 2 * camera.p1 * x * y + camera.p2 * (r2 + 2 * x * x)
        dy = camera.p1 * (r2 + 2 * y * y) + 2 * camera.p2 * x * y
        x, y = (xd - dx) / radial, (yd - dy) / radial
    return torch.stack([x, y], -1)


@numpy_compat
def camera_to_image(
    points: torch.Tensor, camera: Camera, *, apply_distortion: bool = True
) -> torch.Tensor:
    """``(..., 3)`` camera coordinates (m, z > 0 in front) -> ``(..., 2)`` pixels."""
    check_last(points, 3, "points", "camera_to_image")
    xy = points[..., :2] / points[..., 2:3]
    if apply_distortion:
        xy = distort(xy, camera)
    return torch.stack([camera.fx * xy[..., 0] + camera.cx, camera.fy * xy[..., 1] + camera.cy], -1)


@numpy_compat
def project(
    points_world: torch.Tensor, camera: Camera, *, apply_distortion: bool = True
) -> torch.Tensor:
    """Project ``(..., 3)`` world points (m) to ``(..., 2)`` pixels; matches ``cv2.projectPoints``."""
    check_last(points_world, 3, "points_world", "project")
    return camera_to_image(
        world_to_camera(points_world, camera), camera, apply_distortion=apply_distortion
    )


def _screen_offset(like: torch.Tensor, w: float, h: float) -> torch.Tensor:
    return torch.tensor([1.0, h / w], dtype=like.dtype, device=like.device)


@numpy_compat
def normalize_screen_coordinates(pixels: torch.Tensor, w: float, h: float) -> torch.Tensor:
    """VideoPose3D's normalisation: ``(..., 2)`` pixels -> ``x / w * 2 - [1, h / w]``.

    x spans [-1, 1] over the image width; y is scaled by the same factor (aspect kept).
    Extra channels after the first two (e.g. confidence) pass through unchanged.
    """
    if pixels.ndim < 1 or pixels.shape[-1] < 2:
        raise ValueError(
            f"normalize_screen_coordinates: expected (..., 2+), got {tuple(pixels.shape)}"
        )
    xy = pixels[..., :2] / w * 2 - _screen_offset(pixels, w, h)
    return torch.cat([xy, pixels[..., 2:]], -1)


@numpy_compat
def image_coordinates(normalized: torch.Tensor, w: float, h: float) -> torch.Tensor:
    """Inverse of `normalize_screen_coordinates`: ``(..., 2+)`` -> pixels."""
    if normalized.ndim < 1 or normalized.shape[-1] < 2:
        raise ValueError(f"image_coordinates: expected (..., 2+), got {tuple(normalized.shape)}")
    xy = (normalized[..., :2] + _screen_offset(normalized, w, h)) * w / 2
    return torch.cat([xy, normalized[..., 2:]], -1)
