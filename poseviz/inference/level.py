"""Levelling a view before lifting: turn the camera about its viewing direction so that the
person's trunk points up the image, lift, and turn the 3D back.

Real footage is rarely level (hand-held phones, tripods on uneven ground), and people lean,
while the training views of the shipped models are level cameras on mostly upright people:
a tilted view is outside what they saw. Turning a pinhole camera about its optical axis
moves every image point on a circle about the principal point and rotates the camera-frame
3D about the z axis by the same angle, so a lifter can see the levelled 2D and its answer be
turned back exactly: the turn is a change of camera, not of the person (square pixels
assumed after dividing by fx and fy; lens distortion ignored).

Angles follow `poseviz.data.cameras`: a camera turned by ``angle`` degrees shows the
world's up leaning ``angle`` degrees to the left of the image's up.

`level_angle` reads the angle from the 2D itself, without calibration: the median over
the frames of the direction from the pelvis to the thorax (h36m17 joints 0 and 8), one
angle per view because a camera's roll does not change during a clip. It removes the
person's median lean along with the camera's roll.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from poseviz.structures import Camera

__all__ = ["level_angle", "supports_level", "turn_camera_frame", "turn_view_2d"]

PELVIS, THORAX = 0, 8


def supports_level(model: Any) -> bool:
    """Whether a lifting model can be lifted levelled: it reads 2D keypoints only (turning
    the keypoints would leave an image model's crops untouched)."""
    return "image" not in getattr(model, "inputs", ())


def level_angle(joints_2d: np.ndarray) -> float:
    """Degrees to turn the camera by so that the trunk of ``joints_2d`` ``(T, 17, 2)``
    (h36m17 pixels, NaN where missing) points up the image, or 0 when no frame has both
    the pelvis and the thorax. Positive when the trunk leans right on screen."""
    p = np.asarray(joints_2d, dtype=np.float64)
    if p.ndim != 3 or p.shape[1] != 17 or p.shape[2] != 2:
        raise ValueError(f"level_angle: joints_2d must be (T, 17, 2) h36m17 pixels, got {p.shape}")
    d = p[:, THORAX] - p[:, PELVIS]
    ok = np.isfinite(d).all(-1) & (np.linalg.norm(np.nan_to_num(d), axis=-1) > 0)
    if not ok.any():
        return 0.0
    # Median of the angles via their unit vectors' median direction: robust to outliers
    # and free of the wrap-around at +-180 degrees.
    ang = np.arctan2(d[ok, 0], -d[ok, 1])
    ref = np.arctan2(np.median(np.sin(ang)), np.median(np.cos(ang)))
    spread = np.angle(np.exp(1j * (ang - ref)))
    return float(np.degrees(ref + np.median(spread)))


def _turn(angle: float) -> np.ndarray:
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def turn_view_2d(joints_2d: np.ndarray, camera: Camera, angle: float) -> np.ndarray:
    """Pixels ``(..., 2)`` of ``camera`` as the same camera turned by ``angle`` degrees about
    its optical axis sees them (about the principal point, in focal-length units)."""
    p = np.asarray(joints_2d, dtype=np.float64)
    f = np.array([camera.fx, camera.fy])
    c = np.array([camera.cx, camera.cy])
    return c + f * (((p - c) / f) @ _turn(angle)[:2, :2].T)


def turn_camera_frame(points: np.ndarray, angle: float) -> np.ndarray:
    """Camera-frame points ``(..., 3)`` (metres) in the frame of the same camera turned by
    ``angle`` degrees about its optical axis (use ``-angle`` to turn them back)."""
    return np.asarray(points, dtype=np.float64) @ _turn(angle).T
