"""Stacked hourglass network (Newell, Yang and Deng, ECCV 2016), the backbone of DG-CNN's
Feature-Net (seed ``000_f1d3e10faaa5ea8f.txt`` §4.3) and the default image encoder of
Lifting by Image.

Layout follows the original: a stem (7x7 stride-2 convolution, residual, max-pool, two
residuals) brings the image to 1/4 resolution, then ``stacks`` hourglasses of recursion
``depth``; each stack ends in a 1x1 convolution to K heatmaps, and all but the last feed
their features and heatmaps back into the next stack (intermediate supervision).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Hourglass", "Residual", "StackedHourglass"]


class Residual(nn.Module):
    """Pre-activation bottleneck residual module: BN-ReLU-1x1 (C/2), BN-ReLU-3x3 (C/2),
    BN-ReLU-1x1 (C_out), plus the input (through a 1x1 convolution when channels change).
    ``(B, C_in, H, W) -> (B, C_out, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = max(out_channels // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, mid, 1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, out_channels, 1),
        )
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Hourglass(nn.Module):
    """One hourglass of recursion ``depth``: ``(B, C, H, W) -> (B, C, H, W)``; H and W must
    be divisible by ``2 ** depth``."""

    def __init__(self, depth: int, channels: int) -> None:
        super().__init__()
        self.up = Residual(channels, channels)
        self.down = Residual(channels, channels)
        self.inner = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.out = Residual(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.out(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, size=x.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """Stem plus ``stacks`` hourglasses with intermediate heatmap heads.

    Args:
        num_heatmaps: K, heatmap channels of every head.
        stacks: number of hourglasses (8 in Newell et al.).
        channels: feature channels C (256 in Newell et al.).
        depth: recursion depth of each hourglass (4: 64 -> 4 pixels).
        last_head: build the last stack's heatmap head. An encoder that only needs the
            features (Lifting by Image) leaves it out, so every parameter is used.

    ``forward(image (B, 3, H, W))`` returns ``(features, heatmaps)``: the last stack's
    ``(B, C, H/4, W/4)`` features and the list of per-stack ``(B, K, H/4, W/4)`` heatmap
    logits (without the last one when ``last_head`` is off). H/4 and W/4 must be divisible
    by ``2 ** depth``.
    """

    def __init__(
        self,
        num_heatmaps: int,
        *,
        stacks: int = 8,
        channels: int = 256,
        depth: int = 4,
        last_head: bool = True,
    ) -> None:
        super().__init__()
        if stacks < 1 or channels < 2 or depth < 1:
            raise ValueError(
                f"StackedHourglass: need stacks >= 1, channels >= 2, depth >= 1; got "
                f"stacks={stacks}, channels={channels}, depth={depth}"
            )
        self.stacks, self.channels, self.depth = stacks, channels, depth
        stem_mid = max(channels // 2, 1)
        self.stem = nn.Sequential(
            nn.Conv2d(3, max(channels // 4, 1), 7, stride=2, padding=3),
            nn.BatchNorm2d(max(channels // 4, 1)),
            nn.ReLU(inplace=True),
            Residual(max(channels // 4, 1), stem_mid),
            nn.MaxPool2d(2),
            Residual(stem_mid, stem_mid),
            Residual(stem_mid, channels),
        )
        self.hourglasses = nn.ModuleList(Hourglass(depth, channels) for _ in range(stacks))
        self.features = nn.ModuleList(
            nn.Sequential(
                Residual(channels, channels),
                nn.Conv2d(channels, channels, 1),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for _ in range(stacks)
        )
        n_heads = stacks if last_head else stacks - 1
        self.heads = nn.ModuleList(nn.Conv2d(channels, num_heatmaps, 1) for _ in range(n_heads))
        self.merge_features = nn.ModuleList(
            nn.Conv2d(channels, channels, 1) for _ in range(stacks - 1)
        )
        self.merge_heatmaps = nn.ModuleList(
            nn.Conv2d(num_heatmaps, channels, 1) for _ in range(stacks - 1)
        )

    @property
    def stride(self) -> int:
        """Input pixels per feature pixel (4)."""
        return 4

    def check_image(self, image: torch.Tensor, owner: str) -> None:
        """Raise ``ValueError`` unless ``image`` is ``(B, 3, H, W)`` with H and W divisible by
        ``4 * 2 ** depth``."""
        m = self.stride * 2**self.depth
        if (
            not isinstance(image, torch.Tensor)
            or image.ndim != 4
            or image.shape[1] != 3
            or image.shape[2] % m
            or image.shape[3] % m
        ):
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(
                f"{owner}: expected image of shape (B, 3, H, W) with H and W divisible by {m}, "
                f"got {shape}"
            )

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.stem(image)
        heatmaps: list[torch.Tensor] = []
        feat = x
        for i in range(self.stacks):
            feat = self.features[i](self.hourglasses[i](x))
            if i < len(self.heads):
                heatmaps.append(self.heads[i](feat))
            if i < self.stacks - 1:
                x = x + self.merge_features[i](feat) + self.merge_heatmaps[i](heatmaps[i])
        return feat, heatmaps
