"""Person crops from real video for image-based lifting models (``batch["image"]``).

Boxes and pixels follow the synthetic person crops of `poseviz.data.synthetic` so a model
sees real crops framed like its training crops:

- box: `poseviz.data.synthetic.person_box` of the confident joints (the tight box padded on
  every side by ``padding`` (0.25) times its larger side, grown to the crop's aspect ratio);
- pixel ``i`` spans ``[i - 0.5, i + 0.5]`` and box edges are in those units, so a source
  point ``x`` lands at ``sx * (x - x0) - 0.5`` in the crop, ``sx = width / (x1 - x0)``.

Crops are resampled bilinearly with `cv2.warpAffine`; parts of a box outside the frame are
black. ``person_crops`` reads the video once and returns ``(T, H, W, 3)`` uint8 RGB (a
quarter of the memory of float crops); `crops_to_tensor` gives a model's ``(T, 3, H, W)``
float input in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from poseviz.data.synthetic import person_box
from poseviz.inference.video import iter_frames, read_video_info

__all__ = [
    "PersonCrops",
    "crop_affine",
    "crop_image",
    "crop_inputs",
    "crops_to_tensor",
    "person_boxes",
    "person_crops",
    "to_crop_pixels",
]


def person_boxes(
    joints_2d: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    aspect: float = 1.0,
    padding: float = 0.25,
    min_confidence: float = 0.3,
) -> np.ndarray:
    """``(T, 4)`` crop boxes ``(x0, y0, x1, y1)`` (pixel edges, may leave the frame) around
    ``(T, J, 2)`` pixel joints (joints below ``min_confidence`` ignored when enough remain).

    Args:
        aspect: box width / height (192 / 256 = 0.75 for a 256 x 192 crop).
        padding: fraction of the tight box's larger side added on every side.
    """
    pts = np.asarray(joints_2d, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(f"person_boxes: expected joints_2d (T, J, 2) pixels, got {pts.shape}")
    if not (aspect > 0 and padding >= 0):
        raise ValueError(f"person_boxes: need aspect > 0 and padding >= 0, got {aspect}, {padding}")
    conf = np.ones(pts.shape[:2]) if confidence is None else np.asarray(confidence, dtype=float)
    finite = np.isfinite(pts).all(-1)
    boxes = np.empty((len(pts), 4))
    for t in range(len(pts)):
        sure = finite[t] & (conf[t] >= min_confidence)
        use = sure if sure.any() else finite[t]
        if not use.any():
            raise ValueError(f"person_boxes: frame {t} has no finite joint to box")
        boxes[t] = person_box(pts[t][use], aspect=aspect, padding=padding)
    return boxes


def crop_affine(box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(2, 3)`` matrix mapping source pixels to crop pixels for ``box`` resized to
    ``size = (height, width)``: ``x' = sx (x - x0) - 0.5``, ``y' = sy (y - y0) - 0.5``."""
    x0, y0, x1, y1 = (float(v) for v in box)
    H, W = size
    if not (x1 > x0 and y1 > y0 and H > 0 and W > 0):
        raise ValueError(f"crop_affine: expected a non-empty box and size, got {box}, {size}")
    sx, sy = W / (x1 - x0), H / (y1 - y0)
    return np.array([[sx, 0.0, -sx * x0 - 0.5], [0.0, sy, -sy * y0 - 0.5]])


def to_crop_pixels(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply ``(..., 2, 3)`` crop affines to ``(..., J, 2)`` source pixels."""
    A = np.asarray(affine, dtype=np.float64)
    p = np.asarray(points, dtype=np.float64)
    return np.einsum("...ij,...kj->...ki", A[..., :2], p) + A[..., None, :, 2]


def crop_image(frame: np.ndarray, box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W, C)`` crop of a ``(h, w, C)`` uint8 frame for ``box`` at ``size = (H, W)``
    (bilinear; outside the frame is 0)."""
    import cv2

    H, W = size
    return cv2.warpAffine(
        frame,
        crop_affine(box, size),
        (int(W), int(H)),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


@dataclass(eq=False)
class PersonCrops:
    """Person crops of a video.

    Attributes:
        images: ``(T, H, W, 3)`` uint8 RGB crops.
        boxes: ``(T, 4)`` boxes ``(x0, y0, x1, y1)`` in video pixels (pixel edges).
        affines: ``(T, 2, 3)`` video pixels -> crop pixels.
        joints_2d: ``(T, J, 2)`` the joints in crop pixels.
    """

    images: np.ndarray
    boxes: np.ndarray
    affines: np.ndarray
    joints_2d: np.ndarray


def person_crops(
    video: str | Path,
    joints_2d: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    size: tuple[int, int] = (256, 256),
    padding: float = 0.25,
    frames: Iterable[int] | None = None,
    progress: bool = False,
) -> PersonCrops:
    """Crop the person out of every frame (or the listed ``frames``) of ``video``.

    Args:
        video: the video the ``(T, J, 2)`` pixel joints (and ``(T, J)`` confidence) belong
            to; frame t of the joints is frame t of the video.
        size: crop ``(height, width)``; the box takes its aspect ratio.
        padding: see `person_boxes`.
        frames: frame indices to crop (default: all T); results follow this order.

    Raises:
        ValueError: the video is unreadable or shorter than the joints.
    """
    import cv2
    from tqdm.auto import tqdm

    read_video_info(video)
    pts = np.asarray(joints_2d, dtype=np.float64)
    T = pts.shape[0]
    wanted = list(range(T)) if frames is None else [int(f) for f in frames]
    if any(not 0 <= f < T for f in wanted):
        raise ValueError(f"person_crops: frames must lie in [0, {T}), got {wanted}")
    H, W = size
    boxes = person_boxes(
        pts[wanted],
        None if confidence is None else np.asarray(confidence)[wanted],
        aspect=W / H,
        padding=padding,
    )
    affines = np.stack([crop_affine(b, size) for b in boxes])
    images = np.zeros((len(wanted), H, W, 3), dtype=np.uint8)
    slot = {f: [i for i, g in enumerate(wanted) if g == f] for f in set(wanted)}
    last = max(wanted, default=-1)
    got = 0
    for t, frame in enumerate(
        tqdm(iter_frames(video, last + 1), total=last + 1, desc="cropping", disable=not progress)
    ):
        for i in slot.get(t, ()):
            images[i] = cv2.cvtColor(crop_image(frame, boxes[i], size), cv2.COLOR_BGR2RGB)
        got = t + 1
    if got < last + 1:
        raise ValueError(f"{video}: frame {got} does not decode (video shorter than the joints)")
    return PersonCrops(images, boxes, affines, to_crop_pixels(pts[wanted], affines))


def crops_to_tensor(images: np.ndarray):
    """``(..., H, W, 3)`` uint8 RGB -> ``(..., 3, H, W)`` float32 torch tensor in [0, 1]."""
    import torch

    arr = np.asarray(images)
    if arr.ndim < 3 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"crops_to_tensor: expected (..., H, W, 3) uint8, got {arr.shape} {arr.dtype}"
        )
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(arr, -1, -3))).float() / 255.0


def crop_inputs(
    video: str | Path,
    joints_2d: np.ndarray,
    confidence: np.ndarray | None = None,
    occluded: np.ndarray | None = None,
    *,
    size: tuple[int, int] = (256, 256),
    padding: float = 0.25,
    progress: bool = False,
) -> dict:
    """An image-based model's inputs for a real video, frames first (the ``inputs`` that
    ``poseviz.inference.predict_sequence`` takes instead of rendered synthetic crops).

    Args:
        video: the video; ``joints_2d`` ``(T, J, 2)`` its pixels, ``confidence`` ``(T, J)``,
            ``occluded`` ``(T, J)`` bool (optional).
        size: the model's crop ``(height, width)`` (``config.image_size``).

    Returns:
        ``{"image": (T, 3, H, W) float32 RGB in [0, 1], "keypoints_2d": (T, J, 2) float32 crop
        pixels normalised x / W * 2 - [1, H / W]}`` plus ``"occlusion": (T, J) float32`` when
        ``occluded`` is given.
    """
    import torch

    from poseviz.geometry import normalize_screen_coordinates

    crops = person_crops(
        video, joints_2d, confidence, size=size, padding=padding, progress=progress
    )
    H, W = size
    kp = normalize_screen_coordinates(crops.joints_2d, W, H)
    out = {
        "image": crops_to_tensor(crops.images),
        "keypoints_2d": torch.from_numpy(np.asarray(kp, dtype=np.float32)),
    }
    if occluded is not None:
        out["occlusion"] = torch.from_numpy(np.asarray(occluded, dtype=np.float32))
    return out
