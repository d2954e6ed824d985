"""Baselines: the single-frame fully connected network of Martinez et al. (ICCV 2017) and the
VideoPose3D temporal convolutional network of Pavllo et al. (CVPR 2019).

VideoPose3D has two forms with the same weights. The *dilated* form (evaluation on whole
sequences) slides over a clip of any length ``T >= receptive_field`` and returns
``T - receptive_field + 1`` frames (the centre of each window; the last frame when
``causal``); the *strided* form (training on clips of exactly ``receptive_field`` frames)
replaces each dilation by a stride so no unused intermediate frames are computed. Both give
the same output on such a clip; ``model.form`` picks one (``"auto"``: strided on
receptive-field clips when ``config.strided_clips``, dilated otherwise).

Registered models (parameter counts pinned in the tests; seed 003 Table 5 lists 8.56M,
12.75M and 16.95M for VideoPose3D at 27, 81 and 243 frames):

=====================  ==========================  ============
name                   architecture                parameters
=====================  ==========================  ============
``martinez_baseline``  1024 units, 2 res. blocks   4,296,755
``videopose3d_t27``    filter widths 3,3,3         8,555,571
``videopose3d_t81``    3,3,3,3                     12,753,971
``videopose3d_t243``   3,3,3,3,3                   16,952,371
=====================  ==========================  ============

Sliding over a long sequence, VideoPose3D costs 8.55M / 12.74M / 16.93M MACs per frame
(17.09 / 25.48 / 33.87 MFLOPs, as Pavllo et al. report); one receptive-field window in the
strided form costs 17.8M / 57.4M / 176.3M MACs. Martinez et al.'s max-norm weight
constraint is a training-loop matter and is not part of the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from poseviz.models._common import keypoints_in, root_relative, skeleton_of
from poseviz.models.registry import LiftingModel, LiftOutput, register_model

__all__ = [
    "MartinezBaseline",
    "MartinezConfig",
    "VideoPose3D",
    "VideoPose3DConfig",
    "martinez_baseline",
    "videopose3d_t27",
    "videopose3d_t81",
    "videopose3d_t243",
]


def _check_probability(value: float, what: str) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{what} must be in [0, 1), got {value}")


def _check_channels(value: int, what: str) -> None:
    if value not in (2, 3):
        raise ValueError(f"{what} must be 2 (x, y) or 3 (x, y, confidence), got {value}")


# --- Martinez et al. 2017 -------------------------------------------------------------------


@dataclass
class MartinezConfig:
    """Martinez et al. (ICCV 2017) "simple yet effective baseline".

    Attributes:
        skeleton: joint layout of input and output (J joints).
        in_channels: 2 (x, y) or 3 (x, y, confidence) per joint.
        hidden: units of every linear layer (1024 in the paper).
        num_blocks: residual blocks of two linear layers each (2).
        dropout: dropout probability after every ReLU (0.5).
    """

    skeleton: str = "h36m17"
    in_channels: int = 2
    hidden: int = 1024
    num_blocks: int = 2
    dropout: float = 0.5

    def __post_init__(self) -> None:
        _check_channels(self.in_channels, "MartinezConfig.in_channels")
        if self.hidden < 1 or self.num_blocks < 0:
            raise ValueError(
                f"MartinezConfig: hidden must be >= 1 and num_blocks >= 0, got "
                f"{self.hidden}, {self.num_blocks}"
            )
        _check_probability(self.dropout, "MartinezConfig.dropout")


class _LinearBNReLU(nn.Sequential):
    def __init__(self, n_in: int, n_out: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(dropout)
        )


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _LinearBNReLU(width, width, dropout), _LinearBNReLU(width, width, dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class MartinezBaseline(LiftingModel):
    """Single-frame lifting: every frame is lifted on its own (receptive field 1).

    ``forward(keypoints_2d (B, T, J, 2|3))`` -> `LiftOutput` with ``pose_3d``
    ``(B, T, J, 3)`` root-relative metres. The network is linear(J*C -> hidden), batch norm,
    ReLU, dropout, ``num_blocks`` residual blocks of two such layers, and linear(hidden ->
    J*3).
    """

    receptive_field = 1
    predicts = "sequence"

    def __init__(self, config: MartinezConfig) -> None:
        super().__init__(config)
        self.skeleton = skeleton_of(config)
        J = self.skeleton.num_joints
        self.stem = _LinearBNReLU(J * config.in_channels, config.hidden, config.dropout)
        self.blocks = nn.Sequential(
            *(_ResidualBlock(config.hidden, config.dropout) for _ in range(config.num_blocks))
        )
        self.head = nn.Linear(config.hidden, J * 3)

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    def forward(self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor) -> LiftOutput:
        x = keypoints_in(self, keypoints_2d, self.config.in_channels)
        B, T, J, C = x.shape
        y = self.head(self.blocks(self.stem(x.reshape(B * T, J * C))))
        return LiftOutput(root_relative(y.reshape(B, T, J, 3), self.skeleton.root))


@register_model(
    "martinez_baseline",
    config=MartinezConfig(),
    test_overrides={"hidden": 32, "dropout": 0.0},
)
def martinez_baseline(config: MartinezConfig) -> MartinezBaseline:
    """Martinez et al. 2017 single-frame baseline (1024 units, 2 residual blocks)."""
    return MartinezBaseline(config)


# --- VideoPose3D (Pavllo et al. 2019) -------------------------------------------------------


@dataclass
class VideoPose3DConfig:
    """VideoPose3D temporal convolutional model.

    Attributes:
        skeleton: joint layout of input and output (J joints).
        in_channels: 2 or 3 per joint (the paper uses 2).
        filter_widths: temporal kernel of each layer; all odd. The receptive field is their
            product (3,3,3,3,3 -> 243 frames).
        channels: feature channels (1024).
        dropout: dropout probability (0.25).
        causal: causal convolutions: each output frame sees only the past (real time).
        strided_clips: use the strided form on clips of exactly the receptive field
            (training batches, single-window inference) when ``form`` is ``"auto"``.
    """

    skeleton: str = "h36m17"
    in_channels: int = 2
    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    channels: int = 1024
    dropout: float = 0.25
    causal: bool = False
    strided_clips: bool = True

    def __post_init__(self) -> None:
        _check_channels(self.in_channels, "VideoPose3DConfig.in_channels")
        if not self.filter_widths or any(
            not isinstance(w, int) or w < 1 or w % 2 == 0 for w in self.filter_widths
        ):
            raise ValueError(
                f"VideoPose3DConfig.filter_widths must be odd positive integers, got "
                f"{self.filter_widths!r}"
            )
        if self.channels < 1:
            raise ValueError(f"VideoPose3DConfig.channels must be >= 1, got {self.channels}")
        _check_probability(self.dropout, "VideoPose3DConfig.dropout")


Form = Literal["auto", "strided", "dilated"]


class VideoPose3D(LiftingModel):
    """VideoPose3D (Pavllo et al., CVPR 2019): 1D temporal convolutions over the flattened
    2D pose, dilations ``1, w0, w0*w1, ...``, residual blocks of a dilated convolution and a
    1x1 convolution (batch norm, ReLU and dropout after each), and a 1x1 head to ``J*3``.

    ``forward(keypoints_2d (B, T, J, 2|3))`` with ``T >= receptive_field`` (exactly the
    receptive field in the strided form) -> ``pose_3d`` ``(B, T - receptive_field + 1, J,
    3)`` root-relative metres; output frame t is input frame ``t + receptive_field // 2``
    (``t + receptive_field - 1`` when causal).

    ``form`` (attribute): ``"dilated"``, ``"strided"`` or ``"auto"`` (strided on
    receptive-field clips when ``config.strided_clips``, else dilated). The two forms share
    every parameter and agree on receptive-field clips.
    """

    predicts = "centre"

    def __init__(self, config: VideoPose3DConfig) -> None:
        super().__init__(config)
        self.skeleton = skeleton_of(config)
        J, C, widths = self.skeleton.num_joints, config.channels, config.filter_widths
        self.form: Form = "auto"
        self.expand = nn.Conv1d(J * config.in_channels, C, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(C, momentum=0.1)
        self.convs = nn.ModuleList(nn.Conv1d(C, C, w, bias=False) for w in widths[1:])
        self.conv_bns = nn.ModuleList(nn.BatchNorm1d(C, momentum=0.1) for _ in widths[1:])
        self.pointwise = nn.ModuleList(nn.Conv1d(C, C, 1, bias=False) for _ in widths[1:])
        self.pointwise_bns = nn.ModuleList(nn.BatchNorm1d(C, momentum=0.1) for _ in widths[1:])
        self.shrink = nn.Conv1d(C, J * 3, 1)
        self.drop = nn.Dropout(config.dropout)
        # dilation of layer i in the dilated form: product of the earlier filter widths
        self._dilations = [math.prod(widths[:i]) for i in range(len(widths))]

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def receptive_field(self) -> int:  # type: ignore[override]
        return math.prod(self.config.filter_widths)

    def _use_strided(self, T: int) -> bool:
        if self.form not in ("auto", "strided", "dilated"):
            raise ValueError(
                f"VideoPose3D.form must be auto, strided or dilated, got {self.form!r}"
            )
        if self.form == "strided":
            if T != self.receptive_field:
                raise ValueError(
                    f"VideoPose3D: the strided form needs clips of exactly the receptive field, "
                    f"(B, {self.receptive_field}, J, C); got T={T}"
                )
            return True
        return self.form == "auto" and self.config.strided_clips and T == self.receptive_field

    def forward(self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor) -> LiftOutput:
        x = keypoints_in(self, keypoints_2d, self.config.in_channels)
        B, T, J, C = x.shape
        rf = self.receptive_field
        if T < rf:
            raise ValueError(
                f"VideoPose3D: expected keypoints_2d of shape (B, T >= {rf}, {J}, C) "
                f"(receptive field {rf}), got {tuple(keypoints_2d.shape)}"
            )
        strided = self._use_strided(T)
        widths, causal = self.config.filter_widths, self.config.causal
        h = x.reshape(B, T, J * C).transpose(1, 2)  # (B, J*C, T)
        h = F.conv1d(h, self.expand.weight, stride=widths[0] if strided else 1)
        h = self.drop(F.relu(self.expand_bn(h)))
        for i, w in enumerate(widths[1:], start=1):
            if strided:
                # keep the centre (causal: last) frame of each group of w frames
                res = h[:, :, (w - 1 if causal else w // 2) :: w]
                h = F.conv1d(h, self.convs[i - 1].weight, stride=w)
            else:
                d = self._dilations[i]
                pad = (w - 1) * d // 2
                shift = pad if causal else 0
                res = h[:, :, pad + shift : h.shape[2] - pad + shift]
                h = F.conv1d(h, self.convs[i - 1].weight, dilation=d)
            h = self.drop(F.relu(self.conv_bns[i - 1](h)))
            h = res + self.drop(F.relu(self.pointwise_bns[i - 1](self.pointwise[i - 1](h))))
        y = self.shrink(h).transpose(1, 2).reshape(B, -1, J, 3)
        return LiftOutput(root_relative(y, self.skeleton.root))


_VP3D_TEST = {"channels": 16, "filter_widths": (3, 3), "dropout": 0.0}


@register_model(
    "videopose3d_t27",
    config=VideoPose3DConfig(filter_widths=(3, 3, 3)),
    test_overrides=_VP3D_TEST,
)
def videopose3d_t27(config: VideoPose3DConfig) -> VideoPose3D:
    """VideoPose3D, 27-frame receptive field (filter widths 3,3,3), 1024 channels."""
    return VideoPose3D(config)


@register_model(
    "videopose3d_t81",
    config=VideoPose3DConfig(filter_widths=(3, 3, 3, 3)),
    test_overrides=_VP3D_TEST,
)
def videopose3d_t81(config: VideoPose3DConfig) -> VideoPose3D:
    """VideoPose3D, 81-frame receptive field (filter widths 3,3,3,3), 1024 channels."""
    return VideoPose3D(config)


@register_model(
    "videopose3d_t243",
    config=VideoPose3DConfig(filter_widths=(3, 3, 3, 3, 3)),
    test_overrides=_VP3D_TEST,
)
def videopose3d_t243(config: VideoPose3DConfig) -> VideoPose3D:
    """VideoPose3D, 243-frame receptive field (filter widths 3,3,3,3,3), 1024 channels."""
    return VideoPose3D(config)
