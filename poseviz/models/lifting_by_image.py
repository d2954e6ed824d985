"""Lifting by Image (seed ``004_55c22f0de0f62747.txt``): 2D pose + person crop -> 3D pose.

Pipeline (§ "Method", Fig. 5):

1. **Image encoder**: a 2D-pose-pretrained CNN turns the ``256 x 192`` crop into an
   ``H x W x d_enc`` feature map. The paper uses HRNet-w32 pretrained on COCO, which cannot
   be obtained here; the default is DG-CNN Feature-Net's stacked hourglass
   (`poseviz.models.layers.hourglass`), whose 2D-pose-trained weights load with
   `LiftingByImage.load_encoder_weights` (or ``config.encoder_checkpoint``): Table 9 shows
   why 2D-pose pretraining matters. Encoders are swappable: `register_image_encoder` adds
   one under a name for ``config.encoder``, or pass ``encoder=`` to the constructor (any
   module with ``out_channels`` and ``forward(image) -> (B, C, H', W')``).
2. **Tokens**: the feature map (optionally average-pooled by ``token_pool``) is projected to
   ``d`` and flattened into ``HW`` image tokens with a fixed 2D sine position code; each 2D
   keypoint becomes a pose token by linear projection plus a learnt joint embedding.
3. **Stage 1 ("broad query")**: three transformer layers (self-attention over keypoint
   tokens, cross-attention from keypoints to image tokens, feed-forward). The layers just
   before the last are pose-guided layers (eq. 2, `PoseGuidedAttention`): the
   keypoint-to-image attention ``A = softmax(Q K^T / sqrt(d))`` is normalised over image
   tokens *before* transposing, so the image tokens that keypoints attend to most gather
   most from the keypoints (``T_I += A^T V_J``). A linear head gives the **coarse 3D**.
4. **Adaptive feature selection** (Fig. 6): the last Stage-1 layer's attention (mean over
   heads) is summed over keypoints; the ``ceil(r * HW)`` highest-scoring image tokens are
   kept (r = 0.3).
5. **Stage 2 ("focused exploration")**: three transformer layers over the keypoint tokens
   and the kept image tokens, then a linear head: the **refined 3D**, ``pose_3d``.

Outputs (`LiftOutput`): ``pose_3d`` ``(B, 1, J, 3)`` refined, root-relative metres (the root
joint is exactly 0); ``aux["coarse_3d"]`` the same for Stage 1; ``aux["attention"]``
``(B, 1, J, h, w)`` per-keypoint attention over the image-token grid of the last Stage-1
layer (mean over heads, each map sums to one); ``aux["attention_refined"]`` the last
Stage-2 layer's attention scattered back onto the grid (zero on pruned tokens, sums to one);
``aux["kept_tokens"]`` ``(B, h, w)`` bool mask of the kept tokens. The grid is the feature
map's (``image / (4 * token_pool)``); the app upsamples it onto the crop.

Ablation flags: ``pose_guided_layers`` (Table 6: how many of the layers before the last are
pose-guided), ``retention`` (Table 7: r; 1.0 keeps everything), ``normalization`` (Table 11:
``"before"`` transposition, ``"after"``, ``"double"`` = before then re-normalised over
keypoints, ``"two_cross"`` = two independent cross-attentions).

Two-stage schedule (`training_stages`, data in `LossStage.to_dict` form): Stage 1 trains the
encoder and Stage 1 on the coarse pose (MSE, eq. 3) for 20 epochs (paper); Stage 2 freezes
``encoder`` and ``stage1`` and trains Stage 2 on the refined pose. A trainer should also keep
modules whose parameters are all frozen in ``eval()`` mode so BatchNorm statistics stay put.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from poseviz.models._common import plain_stages, root_relative
from poseviz.models.layers.hourglass import StackedHourglass
from poseviz.models.registry import LiftingModel, LiftOutput, register_model

__all__ = [
    "IMAGE_ENCODERS",
    "HourglassEncoder",
    "LiftingByImage",
    "LiftingByImageConfig",
    "PoseGuidedAttention",
    "PoseGuidedLayer",
    "TransformerLayer",
    "kept_token_count",
    "register_image_encoder",
    "select_tokens",
]

NORMALIZATIONS = ("before", "after", "double", "two_cross")


@dataclass
class LiftingByImageConfig:
    """Lifting by Image hyper-parameters (defaults: the paper's where it gives them).

    Attributes:
        num_joints: N keypoints.
        image_size: ``(H, W)`` crop (256 x 192).
        encoder: name in `IMAGE_ENCODERS` (``"hourglass"``).
        encoder_stacks, encoder_channels, encoder_depth: the hourglass encoder's size
            (defaults equal Feature-Net's paper config, so its weights load).
        encoder_checkpoint: optional safetensors file of a trained `FeatureNet` (or of an
            encoder state dict) loaded into the encoder at construction.
        token_pool: average-pool factor applied to the feature map before tokenising.
        dim: token width d (the paper does not give it).
        heads: attention heads.
        mlp_ratio: feed-forward hidden width / d.
        stage1_layers: transformer layers in Stage 1 (3).
        pose_guided_layers: how many layers just before Stage 1's last are pose-guided
            (1; Table 6 tries 0, 1, 2). The last layer stays a standard one.
        normalization: pose-guided attention variant of Table 11.
        retention: r of the selection module (0.3).
        stage2_layers: transformer layers in Stage 2 (3).
        dropout: attention and feed-forward dropout.
        stages: training stages as `LossStage.to_dict` dicts; empty -> `training_stages`.
    """

    num_joints: int = 17
    image_size: tuple[int, int] = (256, 192)
    encoder: str = "hourglass"
    encoder_stacks: int = 8
    encoder_channels: int = 256
    encoder_depth: int = 4
    encoder_checkpoint: str = ""
    token_pool: int = 1
    dim: int = 256
    heads: int = 8
    mlp_ratio: float = 2.0
    stage1_layers: int = 3
    pose_guided_layers: int = 1
    normalization: str = "before"
    retention: float = 0.3
    stage2_layers: int = 3
    dropout: float = 0.0
    stages: tuple[dict, ...] = ()

    def __post_init__(self) -> None:
        self.stages = plain_stages(self.stages)


# --------------------------------------------------------------------------------------------
# Image encoders
# --------------------------------------------------------------------------------------------


class HourglassEncoder(nn.Module):
    """Feature-Net's stacked hourglass as an image encoder: ``(B, 3, H, W) -> (B, C, H/4,
    W/4)``, the last stack's features (its heatmap head is left out)."""

    def __init__(self, num_joints: int, *, stacks: int, channels: int, depth: int) -> None:
        super().__init__()
        self.backbone = StackedHourglass(
            num_joints, stacks=stacks, channels=channels, depth=depth, last_head=False
        )
        self.out_channels = channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        self.backbone.check_image(image, "LiftingByImage encoder")
        return self.backbone(image)[0]


IMAGE_ENCODERS: dict[str, Callable[[LiftingByImageConfig], nn.Module]] = {}


def register_image_encoder(name: str) -> Callable:
    """Decorator registering ``factory(config) -> encoder`` for ``config.encoder = name``. The
    encoder has an ``out_channels`` attribute and maps ``(B, 3, H, W)`` to ``(B, C, H', W')``."""

    def decorate(factory: Callable[[LiftingByImageConfig], nn.Module]) -> Callable:
        if name in IMAGE_ENCODERS:
            raise ValueError(f"image encoder {name!r} is already registered")
        IMAGE_ENCODERS[name] = factory
        return factory

    return decorate


@register_image_encoder("hourglass")
def _hourglass_encoder(config: LiftingByImageConfig) -> HourglassEncoder:
    return HourglassEncoder(
        config.num_joints,
        stacks=config.encoder_stacks,
        channels=config.encoder_channels,
        depth=config.encoder_depth,
    )


# --------------------------------------------------------------------------------------------
# Attention blocks
# --------------------------------------------------------------------------------------------


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``(B, L, D) -> (B, heads, L, D / heads)``."""
    B, L, D = x.shape
    return x.view(B, L, heads, D // heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """``(B, heads, L, Dh) -> (B, L, heads * Dh)``."""
    B, H, L, Dh = x.shape
    return x.transpose(1, 2).reshape(B, L, H * Dh)


class _Attention(nn.Module):
    """Multi-head attention returning its weights: queries ``(B, N, D)`` attend to
    ``(B, M, D)`` keys/values; weights ``(B, heads, N, M)`` sum to one over M."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, context: torch.Tensor):
        q, k = _heads(self.q(query), self.heads), _heads(self.k(context), self.heads)
        v = _heads(self.v(context), self.heads)
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return self.out(_merge(self.drop(attn) @ v)), attn


class _FeedForward(nn.Sequential):
    def __init__(self, dim: int, ratio: float, dropout: float) -> None:
        hidden = max(int(round(dim * ratio)), 1)
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )


class TransformerLayer(nn.Module):
    """The paper's transformer layer (pre-norm): keypoint self-attention (MSA), keypoint ->
    image cross-attention (MCA), feed-forward (FFN). Image tokens pass through unchanged.

    ``forward(keypoints (B, N, D), image (B, M, D))`` -> ``(keypoints, image, attention)``
    with the cross-attention weights ``(B, heads, N, M)`` (each row sums to one over M).
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = _Attention(dim, heads, dropout)
        self.norm_query = nn.LayerNorm(dim)
        self.norm_image = nn.LayerNorm(dim)
        self.cross_attn = _Attention(dim, heads, dropout)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = _FeedForward(dim, mlp_ratio, dropout)

    def forward(self, keypoints: torch.Tensor, image: torch.Tensor):
        x = self.norm_self(keypoints)
        keypoints = keypoints + self.self_attn(x, x)[0]
        out, attn = self.cross_attn(self.norm_query(keypoints), self.norm_image(image))
        keypoints = keypoints + out
        keypoints = keypoints + self.ffn(self.norm_ffn(keypoints))
        return keypoints, image, attn


class PoseGuidedAttention(nn.Module):
    """Pose-guided dual attention, eq. 2 (multi-head, with output projections)::

        A    = softmax(Q K^T / sqrt(d_h))     over image tokens, Q from keypoints, K from image
        T_J' = T_J + W_oJ (A V_I)
        T_I' = T_I + W_oI (A^T V_J)           A normalised before transposing

    with ``Q = W_q LN_J(T_J)``, ``K = W_k LN_I(T_I)``, ``V_I = W_vI LN_I(T_I)``,
    ``V_J = W_vJ LN_J(T_J)``, heads concatenated before ``W_o``. Variants (Table 11):
    ``"after"`` uses ``softmax`` over keypoints of the transposed logits for the image update;
    ``"double"`` divides ``A^T`` by its sum over keypoints; ``"two_cross"`` replaces ``A^T``
    by an independent image -> keypoint attention (its own query/key maps).

    ``forward(keypoints (B, N, D), image (B, M, D))`` -> ``(keypoints', image', A)`` with
    ``A`` ``(B, heads, N, M)``.
    """

    def __init__(self, dim: int, heads: int, dropout: float, normalization: str = "before"):
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"PoseGuidedAttention: normalization must be one of {NORMALIZATIONS}, got "
                f"{normalization!r}"
            )
        self.heads, self.normalization = heads, normalization
        self.norm_keypoints = nn.LayerNorm(dim)
        self.norm_image = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v_image = nn.Linear(dim, dim)
        self.v_keypoints = nn.Linear(dim, dim)
        self.out_keypoints = nn.Linear(dim, dim)
        self.out_image = nn.Linear(dim, dim)
        if normalization == "two_cross":
            self.q_image = nn.Linear(dim, dim)
            self.k_keypoints = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, keypoints: torch.Tensor, image: torch.Tensor):
        h = self.heads
        kn, im = self.norm_keypoints(keypoints), self.norm_image(image)
        q, k = _heads(self.q(kn), h), _heads(self.k(im), h)
        v_image, v_keypoints = _heads(self.v_image(im), h), _heads(self.v_keypoints(kn), h)
        scale = 1.0 / math.sqrt(q.shape[-1])
        logits = q @ k.transpose(-1, -2) * scale  # (B, h, N, M)
        attn = torch.softmax(logits, dim=-1)
        if self.normalization == "before":
            to_image = attn.transpose(-1, -2)
        elif self.normalization == "after":
            to_image = torch.softmax(logits.transpose(-1, -2), dim=-1)
        elif self.normalization == "double":
            t = attn.transpose(-1, -2)
            to_image = t / t.sum(-1, keepdim=True)
        else:  # two_cross
            qi, kk = _heads(self.q_image(im), h), _heads(self.k_keypoints(kn), h)
            to_image = torch.softmax(qi @ kk.transpose(-1, -2) * scale, dim=-1)
        keypoints = keypoints + self.out_keypoints(_merge(self.drop(attn) @ v_image))
        image = image + self.out_image(_merge(self.drop(to_image) @ v_keypoints))
        return keypoints, image, attn


class PoseGuidedLayer(nn.Module):
    """Pose-guided transformer layer: MSA over keypoints, `PoseGuidedAttention` in place of
    the cross-attention, FFN on the keypoint tokens. Same interface as `TransformerLayer`."""

    def __init__(
        self, dim: int, heads: int, mlp_ratio: float, dropout: float, normalization: str
    ) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attn = _Attention(dim, heads, dropout)
        self.dual_attn = PoseGuidedAttention(dim, heads, dropout, normalization)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = _FeedForward(dim, mlp_ratio, dropout)

    def forward(self, keypoints: torch.Tensor, image: torch.Tensor):
        x = self.norm_self(keypoints)
        keypoints = keypoints + self.self_attn(x, x)[0]
        keypoints, image, attn = self.dual_attn(keypoints, image)
        keypoints = keypoints + self.ffn(self.norm_ffn(keypoints))
        return keypoints, image, attn


# --------------------------------------------------------------------------------------------
# Feature selection
# --------------------------------------------------------------------------------------------


def kept_token_count(retention: float, tokens: int) -> int:
    """``ceil(r * HW)`` computed exactly for a decimal ``r`` (0.3 * 10 keeps 3, not 4), at
    least 1 and at most ``tokens``."""
    if not 0 < retention <= 1:
        raise ValueError(f"retention r must lie in (0, 1], got {retention!r}")
    return max(1, min(tokens, math.ceil(Fraction(str(retention)) * tokens)))


def select_tokens(scores: torch.Tensor, retention: float) -> torch.Tensor:
    """Adaptive feature selection: indices of the ``ceil(r * M)`` highest-scoring tokens.

    Args:
        scores: ``(B, M)`` importance of each image token (attention summed over keypoints).
        retention: r in (0, 1].

    Returns:
        ``(B, k)`` int64 indices, highest score first.
    """
    if scores.ndim != 2:
        raise ValueError(
            f"select_tokens: expected scores of shape (B, M), got {tuple(scores.shape)}"
        )
    k = kept_token_count(retention, scores.shape[1])
    return torch.topk(scores, k, dim=1, sorted=True).indices


def _sine_position_2d(h: int, w: int, dim: int) -> torch.Tensor:
    """Fixed 2D sine/cosine position code ``(h * w, dim)``: half the channels encode the row,
    half the column (transformer frequencies)."""
    quarter = max(dim // 4, 1)
    freq = 1.0 / (10000.0 ** (torch.arange(quarter, dtype=torch.float64) / quarter))
    ys = torch.arange(h, dtype=torch.float64).unsqueeze(1) * freq
    xs = torch.arange(w, dtype=torch.float64).unsqueeze(1) * freq
    y = torch.cat([ys.sin(), ys.cos()], 1)  # (h, 2q)
    x = torch.cat([xs.sin(), xs.cos()], 1)  # (w, 2q)
    code = torch.cat([y.unsqueeze(1).expand(h, w, -1), x.unsqueeze(0).expand(h, w, -1)], -1)
    code = code.reshape(h * w, -1)
    if code.shape[1] < dim:
        code = F.pad(code, (0, dim - code.shape[1]))
    return code[:, :dim].float()


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


class _Stage1(nn.Module):
    def __init__(self, c: LiftingByImageConfig, encoder_channels: int) -> None:
        super().__init__()
        self.pose_embed = nn.Linear(2, c.dim)
        self.joint_embed = nn.Parameter(torch.zeros(c.num_joints, c.dim))
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        self.image_proj = nn.Linear(encoder_channels, c.dim)
        first_guided = c.stage1_layers - 1 - c.pose_guided_layers
        self.layers = nn.ModuleList(
            PoseGuidedLayer(c.dim, c.heads, c.mlp_ratio, c.dropout, c.normalization)
            if first_guided <= i < c.stage1_layers - 1
            else TransformerLayer(c.dim, c.heads, c.mlp_ratio, c.dropout)
            for i in range(c.stage1_layers)
        )
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, 3)


class _Stage2(nn.Module):
    def __init__(self, c: LiftingByImageConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TransformerLayer(c.dim, c.heads, c.mlp_ratio, c.dropout) for _ in range(c.stage2_layers)
        )
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, 3)


class LiftingByImage(LiftingModel):
    """Lifting by Image (module docstring).

    ``forward(keypoints_2d (B, T, J, 2 or 3), image (B, 3, H, W))`` -> `LiftOutput`. A
    single-frame model: it lifts the centre frame ``T // 2`` of the clip (the frame the crop
    shows) and returns ``pose_3d`` ``(B, 1, J, 3)``. ``image`` is the RGB crop in [0, 1].
    """

    inputs = ("keypoints_2d", "image")
    predicts = "centre"
    receptive_field = 1

    def __init__(self, config: LiftingByImageConfig, *, encoder: nn.Module | None = None):
        super().__init__(config)
        c = config
        if c.dim % c.heads:
            raise ValueError(
                f"LiftingByImageConfig: dim {c.dim} is not divisible by heads {c.heads}"
            )
        if c.stage1_layers < 1 or c.stage2_layers < 1:
            raise ValueError("LiftingByImageConfig: stage1_layers and stage2_layers must be >= 1")
        if not 0 <= c.pose_guided_layers <= c.stage1_layers - 1:
            raise ValueError(
                f"LiftingByImageConfig.pose_guided_layers: must lie in [0, stage1_layers - 1 = "
                f"{c.stage1_layers - 1}] (the last Stage-1 layer stays standard), got "
                f"{c.pose_guided_layers}"
            )
        if c.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"LiftingByImageConfig.normalization: expected one of {NORMALIZATIONS}, got "
                f"{c.normalization!r}"
            )
        kept_token_count(c.retention, 1)  # validates r
        if c.token_pool < 1:
            raise ValueError(f"LiftingByImageConfig.token_pool: must be >= 1, got {c.token_pool}")
        if encoder is None:
            if c.encoder not in IMAGE_ENCODERS:
                raise ValueError(
                    f"LiftingByImageConfig.encoder: unknown encoder {c.encoder!r}; registered: "
                    f"{sorted(IMAGE_ENCODERS)}"
                )
            encoder = IMAGE_ENCODERS[c.encoder](c)
            if isinstance(encoder, HourglassEncoder):
                m = encoder.backbone.stride * 2**c.encoder_depth * c.token_pool
                if len(c.image_size) != 2 or any(side < 1 or side % m for side in c.image_size):
                    raise ValueError(
                        f"LiftingByImageConfig.image_size: expected (H, W) both divisible by "
                        f"4 * 2 ** encoder_depth * token_pool = {m}, got {c.image_size}"
                    )
        self.encoder = encoder
        self.stage1 = _Stage1(c, int(encoder.out_channels))
        self.stage2 = _Stage2(c)
        if c.encoder_checkpoint:
            self.load_encoder_weights(c.encoder_checkpoint)

    def example_inputs(
        self, batch_size: int = 1, num_frames: int | None = None, *, generator=None
    ) -> dict[str, torch.Tensor]:
        """Random ``keypoints_2d`` ``(B, T, J, 2)`` in [-1, 1] (T = ``num_frames`` or 1) and
        ``image`` ``(B, 3, H, W)`` in [0, 1] of ``config.image_size``, on the model's device."""
        T = int(num_frames or 1)
        device = next(self.parameters()).device
        kp = torch.rand(batch_size, T, self.num_joints, 2, generator=generator) * 2 - 1
        image = torch.rand(batch_size, 3, *self.config.image_size, generator=generator)
        return {"keypoints_2d": kp.to(device), "image": image.to(device)}

    def load_encoder_weights(self, source: str | Path | dict[str, torch.Tensor]) -> None:
        """Initialise the encoder from a trained `FeatureNet` (2D-pose pretraining, Table 9):
        a safetensors file or state dict of a FeatureNet (``backbone.*`` keys) or of the
        encoder itself. The FeatureNet's occlusion head and last heatmap head are ignored;
        any other missing or mismatched weight raises ``ValueError``."""
        if isinstance(source, str | Path):
            from safetensors.torch import load_file

            path = Path(source)
            if not path.is_file():
                raise ValueError(f"LiftingByImage: encoder checkpoint {path} does not exist")
            state = load_file(str(path))
        else:
            state = dict(source)
        own = self.encoder.state_dict()
        if any(k.startswith("occlusion_head.") for k in state):  # a FeatureNet
            state = {k: v for k, v in state.items() if k.startswith("backbone.")}
        state = {k: v for k, v in state.items() if k in own or not k.startswith("backbone.heads.")}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        bad = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or bad:
            raise ValueError(
                f"LiftingByImage.load_encoder_weights: checkpoint does not fit the encoder "
                f"(missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shape {bad[:5]})"
            )
        self.encoder.load_state_dict(state)

    def training_stages(self) -> tuple[dict[str, Any], ...]:
        """``config.stages`` if set, else the paper's progressive training: Stage 1 trains
        encoder + Stage 1 on the coarse pose for 20 epochs, Stage 2 freezes them and trains
        on the refined pose (length not given by the paper; 20 is a placeholder)."""
        if self.config.stages:
            return tuple(self.config.stages)
        return (
            {
                "name": "broad query",
                "epochs": 20,
                "weights": {"mse_pose": {"weight": 1.0, "pred": "output.aux.coarse_3d"}},
            },
            {
                "name": "focused exploration",
                "epochs": 20,
                "weights": {"mse_pose": 1.0},
                "freeze": ["encoder", "stage1"],
            },
        )

    def _tokens(self, image: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        feat = self.encoder(image)
        if self.config.token_pool > 1:
            feat = F.avg_pool2d(feat, self.config.token_pool)
        B, C, h, w = feat.shape
        tokens = self.stage1.image_proj(feat.flatten(2).transpose(1, 2))
        pos = _sine_position_2d(h, w, tokens.shape[-1]).to(tokens)
        return tokens + pos, h, w

    def forward(
        self, keypoints_2d: torch.Tensor, image: torch.Tensor | None = None, **inputs: Any
    ) -> LiftOutput:
        self.check_keypoints(keypoints_2d)
        if image is None:
            raise ValueError("LiftingByImage: pass image=(B, 3, H, W), the centre frame's crop")
        B, T, J, _ = keypoints_2d.shape
        want = (B, 3, *self.config.image_size)
        if not isinstance(image, torch.Tensor) or tuple(image.shape) != want:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(
                f"LiftingByImage: expected image of shape {want} (config.image_size), got {shape}"
            )
        s1, s2 = self.stage1, self.stage2
        image_tokens, h, w = self._tokens(image)
        kp = s1.pose_embed(keypoints_2d[:, T // 2, :, :2]) + s1.joint_embed
        attn = None
        for layer in s1.layers:
            kp, image_tokens, attn = layer(kp, image_tokens)
        coarse = s1.head(s1.norm(kp))
        attention = attn.mean(1)  # (B, J, M), rows sum to one

        keep = select_tokens(attention.sum(1), self.config.retention)  # (B, k)
        kept = torch.gather(
            image_tokens, 1, keep.unsqueeze(-1).expand(-1, -1, image_tokens.shape[-1])
        )
        kp2 = kp
        attn2 = None
        for layer in s2.layers:
            kp2, kept, attn2 = layer(kp2, kept)
        refined = s2.head(s2.norm(kp2))

        M = h * w
        mask = torch.zeros(B, M, dtype=torch.bool, device=keep.device).scatter_(1, keep, True)
        refined_map = torch.zeros(B, J, M, dtype=attn2.dtype, device=attn2.device)
        refined_map = refined_map.scatter(2, keep.unsqueeze(1).expand(-1, J, -1), attn2.mean(1))
        root = 0  # pelvis in h36m17
        return LiftOutput(
            pose_3d=root_relative(refined, root).unsqueeze(1),
            aux={
                "coarse_3d": root_relative(coarse, root).unsqueeze(1),
                "attention": attention.view(B, 1, J, h, w),
                "attention_refined": refined_map.view(B, 1, J, h, w),
                "kept_tokens": mask.view(B, h, w),
            },
        )


@register_model(
    "lifting_by_image",
    config=LiftingByImageConfig(),
    test_overrides={
        "encoder_stacks": 1,
        "encoder_channels": 16,
        "encoder_depth": 2,
        "image_size": (64, 48),
        "dim": 16,
        "heads": 2,
        "mlp_ratio": 2.0,
        "dropout": 0.0,
    },
)
def lifting_by_image(config: LiftingByImageConfig) -> LiftingByImage:
    """Lifting by Image: pose-guided transformer over 2D keypoints + crop features -> 3D."""
    return LiftingByImage(config)
