"""Joint colours for the skeleton views: one ``(T, J, 3)`` uint8 RGB array per colour mode.

Modes (`COLOR_MODES`):

* ``"side"``: left joints blue, right joints orange, the midline grey (the usual look);
* ``"error"``: per-joint position error in millimetres on a green -> yellow -> red ramp that
  saturates at ``error_max_mm`` (150 mm by default);
* ``"sensitive"``: PSIM+'s sensitive joints (error >= the frame's mean error, the
  ``sensitive_mask`` of `poseviz.metrics.functional.psim_plus`) red, the rest grey;
* ``"occlusion"``: the occlusion label, occluded joints red and visible ones green;
* ``"occlusion_prob"``: a model's predicted occlusion probability in [0, 1] on the ramp;
* ``"confidence"``: a 2D detector's confidence in [0, 1] on the ramp reversed (low
  confidence red).

Everything here is plain numpy, so the colours are tested without a browser.
"""

from __future__ import annotations

import numpy as np

from poseviz.skeleton import Skeleton, get_skeleton

__all__ = [
    "COLOR_MODES",
    "GREY",
    "LEFT",
    "RIGHT",
    "binary_colors",
    "color_ramp",
    "joint_colors",
    "side_colors",
]

COLOR_MODES = ("side", "error", "sensitive", "occlusion", "occlusion_prob", "confidence")
LEFT = (66, 133, 244)
RIGHT = (255, 140, 0)
GREY = (190, 190, 190)
_HOT = (220, 40, 40)
_OK = (60, 180, 90)
# green -> yellow -> red, evenly spaced on [0, 1]
_RAMP = np.array([[40, 170, 80], [250, 210, 40], [215, 40, 40]], dtype=np.float64)


def color_ramp(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Map ``values`` (any shape) linearly onto the green -> yellow -> red ramp; values are
    clipped to ``[vmin, vmax]`` and NaN becomes grey. Returns ``values.shape + (3,)`` uint8."""
    if not vmax > vmin:
        raise ValueError(f"color_ramp: vmax must exceed vmin, got vmin={vmin}, vmax={vmax}")
    v = np.asarray(values, dtype=np.float64)
    nan = np.isnan(v)
    u = np.clip((np.where(nan, vmin, v) - vmin) / (vmax - vmin), 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.minimum(u.astype(int), len(_RAMP) - 2)
    w = (u - lo)[..., None]
    rgb = _RAMP[lo] * (1 - w) + _RAMP[lo + 1] * w
    rgb[nan] = GREY
    return np.rint(rgb).astype(np.uint8)


def side_colors(num_frames: int, skeleton: str | Skeleton = "h36m17") -> np.ndarray:
    """``(T, J, 3)`` uint8: left joints `LEFT`, right joints `RIGHT`, others `GREY`."""
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    one = np.tile(np.array(GREY, dtype=np.uint8), (skel.num_joints, 1))
    one[list(skel.left)] = LEFT
    one[list(skel.right)] = RIGHT
    return np.broadcast_to(one, (num_frames, *one.shape)).copy()


def binary_colors(flags: np.ndarray, on: tuple = _HOT, off: tuple = GREY) -> np.ndarray:
    """``flags`` ``(T, J)`` bool -> ``(T, J, 3)`` uint8, ``on`` where True, ``off`` elsewhere."""
    flags = np.asarray(flags, dtype=bool)
    out = np.empty((*flags.shape, 3), dtype=np.uint8)
    out[...] = off
    out[flags] = on
    return out


def joint_colors(
    mode: str,
    num_frames: int,
    *,
    skeleton: str | Skeleton = "h36m17",
    error_mm: np.ndarray | None = None,
    sensitive: np.ndarray | None = None,
    occluded: np.ndarray | None = None,
    occlusion_prob: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    error_max_mm: float = 150.0,
) -> np.ndarray:
    """Colours of every joint in every frame for colour ``mode`` (see the module docstring).

    Args:
        mode: one of `COLOR_MODES`.
        num_frames: T.
        error_mm: ``(T, J)`` per-joint error in millimetres (mode ``"error"``).
        sensitive: ``(T, J)`` bool, PSIM+'s sensitive joints (mode ``"sensitive"``).
        occluded: ``(T, J)`` bool occlusion labels (mode ``"occlusion"``).
        occlusion_prob: ``(T, J)`` predicted occlusion probability in [0, 1].
        confidence: ``(T, J)`` detector confidence in [0, 1].

    Returns:
        ``(T, J, 3)`` uint8 RGB.

    Raises:
        ValueError: unknown mode, or the array the mode needs is missing or not ``(T, J)``.
    """
    if mode not in COLOR_MODES:
        raise ValueError(f"joint_colors: mode must be one of {COLOR_MODES}, got {mode!r}")
    if mode == "side":
        return side_colors(num_frames, skeleton)
    source = {
        "error": error_mm,
        "sensitive": sensitive,
        "occlusion": occluded,
        "occlusion_prob": occlusion_prob,
        "confidence": confidence,
    }[mode]
    if source is None:
        raise ValueError(f"joint_colors: mode {mode!r} needs its (T, J) array, which is missing")
    arr = np.asarray(source)
    skel = get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton
    if arr.shape != (num_frames, skel.num_joints):
        raise ValueError(
            f"joint_colors: mode {mode!r} expects a ({num_frames}, {skel.num_joints}) array, "
            f"got {arr.shape}"
        )
    if mode == "error":
        return color_ramp(arr, 0.0, error_max_mm)
    if mode == "sensitive":
        return binary_colors(arr)
    if mode == "occlusion":
        return binary_colors(arr, on=_HOT, off=_OK)
    if mode == "occlusion_prob":
        return color_ramp(arr, 0.0, 1.0)
    return color_ramp(1.0 - arr, 0.0, 1.0)  # confidence: low is bad
