"""Background attention ratio of keypoint-to-image attention maps (seed
``004_55c22f0de0f62747`` §4 and appendix: "a 30-pixel-radius circle for the positions of
each keypoint on the attention map ... areas outside these circles as background").

For keypoint ``j`` with attention map ``A_j`` (``H x W``, any non-negative weights) and the
foreground ``F`` = the union of the discs of radius ``r`` around *all* keypoints of the
image, the ratio is ``sum_{cells outside F} A_j / sum_{cells} A_j``. A map cell belongs to
``F`` when its centre lies within ``r`` of a keypoint. Cell ``(row, col)`` of an ``H x W``
map over an image of ``height x width`` pixels has its centre at pixel
``((col + 0.5) * width / W - 0.5, (row + 0.5) * height / H - 0.5)`` (pixel centres at
integers, as OpenCV); a map at image resolution has cell centres at ``(col, row)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

from poseviz.metrics.functional._common import as_tensor, check_finite, to_output

__all__ = ["BackgroundAttention", "background_attention_ratio"]

DEFAULT_RADIUS = 30.0


class BackgroundAttention(NamedTuple):
    """``per_keypoint`` ``(..., J)`` and ``mean`` over keypoints ``(...,)``: fractions in
    [0, 1] of each keypoint's attention mass on background cells."""

    per_keypoint: Any
    mean: Any


def _foreground(
    keypoints: torch.Tensor, H: int, W: int, image_size: tuple[float, float], radius: float
) -> torch.Tensor:
    """``(..., H, W)`` bool: cells whose centre is within ``radius`` px of a keypoint."""
    height, width = image_size
    dt = keypoints.dtype
    xs = (torch.arange(W, dtype=dt, device=keypoints.device) + 0.5) * (width / W) - 0.5
    ys = (torch.arange(H, dtype=dt, device=keypoints.device) + 0.5) * (height / H) - 0.5
    dx2 = (xs - keypoints[..., 0:1]).square()  # (..., J, W)
    dy2 = (ys - keypoints[..., 1:2]).square()  # (..., J, H)
    inside = (dy2[..., :, None] + dx2[..., None, :]) <= radius * radius  # (..., J, H, W)
    return inside.any(-3)


def _background_update(
    attention: torch.Tensor, keypoints: torch.Tensor, image_size, radius: float
) -> torch.Tensor:
    H, W = attention.shape[-2:]
    bg = (~_foreground(keypoints.detach(), H, W, image_size, radius)).to(attention.dtype)
    total = attention.sum((-1, -2))
    outside = (attention * bg[..., None, :, :]).sum((-1, -2))
    return outside / total


def background_attention_ratio(
    attention: Any,
    keypoints: Any,
    *,
    radius: float = DEFAULT_RADIUS,
    image_size: tuple[float, float] | None = None,
) -> BackgroundAttention:
    """Share of each keypoint's attention outside the discs around all keypoints.

    Args:
        attention: ``(..., J, H, W)`` non-negative attention maps (one per keypoint; e.g. a
            ``(J, H*W)`` keypoint-to-image attention reshaped, heads averaged).
        keypoints: ``(..., J, 2)`` keypoint positions ``(x, y)`` in image pixels.
        radius: disc radius in image pixels (30 in the paper).
        image_size: ``(height, width)`` in pixels of the image the keypoints refer to;
            ``None``: the map's own ``(H, W)`` (a map at image resolution).

    Returns:
        `BackgroundAttention` ``(per_keypoint (..., J), mean (...,))``, fractions in [0, 1].
        Torch in -> torch out (differentiable in ``attention``), numpy in -> numpy out.
    """
    fn = "background_attention_ratio"
    numpy_out = not isinstance(attention, torch.Tensor)
    A = as_tensor(attention, "attention", fn)
    K = as_tensor(keypoints, "keypoints", fn, like=A)
    if A.ndim < 3:
        raise ValueError(f"{fn}: expected attention of shape (..., J, H, W), got {tuple(A.shape)}")
    if K.ndim < 2 or K.shape[-1] != 2 or K.shape[:-1] != A.shape[:-2]:
        raise ValueError(
            f"{fn}: expected keypoints of shape {(*A.shape[:-2], 2)} (..., J, 2) pixels for "
            f"attention {tuple(A.shape)}, got {tuple(K.shape)}"
        )
    if A.numel() == 0:
        raise ValueError(f"{fn}: empty attention of shape {tuple(A.shape)}")
    check_finite(A, "attention", fn)
    check_finite(K, "keypoints", fn)
    if bool((A < 0).any()):
        raise ValueError(f"{fn}: attention must be non-negative")
    total = A.detach().sum((-1, -2))
    if bool((total <= 0).any()):
        bad = torch.nonzero(total <= 0)[0].tolist()
        raise ValueError(f"{fn}: the attention map at index {tuple(bad)} has no mass (sums to 0)")
    try:
        r = float(radius)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: radius must be a number of pixels, got {radius!r}") from None
    if not r >= 0:
        raise ValueError(f"{fn}: radius must be >= 0 pixels, got {radius!r}")
    size = tuple(A.shape[-2:]) if image_size is None else tuple(float(v) for v in image_size)
    if len(size) != 2 or not all(v > 0 for v in size):
        raise ValueError(f"{fn}: image_size must be (height, width) > 0, got {image_size!r}")
    ratio = _background_update(A, K, size, r)
    return to_output(BackgroundAttention(ratio, ratio.mean(-1)), numpy_out)
