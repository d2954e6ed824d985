"""RePOSE backbone: a dual-stream spatio-temporal transformer (seed
``001_4d3beb832954539e.txt`` §3.1-3.2, Sun et al.).

Every (frame, joint) pair is a token: the 2D joint with its confidence ``(x, y, c)`` is
embedded to ``dim`` channels, plus a learned joint embedding and a learned frame embedding.
Each of ``depth`` layers runs two streams on the same tokens and fuses them:

- the *ST* stream: spatial attention (over the J joints of a frame) and its MLP, then
  temporal attention (over the T frames of a joint) and its MLP;
- the *TS* stream: the same in the other order, with its own weights;
- fusion: per token, ``softmax(Linear([x_st, x_ts]))`` gives two weights (initialised
  equal) and the layer output is the weighted sum.

A layer norm, a ``tanh`` representation layer (``dim_rep``) and a linear head give the 3D
pose of every frame (sequence to sequence). The paper's configuration (Table 2: 16.0M
parameters, 43.7 GMACs at 243 frames) is the MotionBERT-Lite size of this design: dim 256,
depth 5, 8 heads, MLP ratio 4, representation 512.

Registered models (MACs of one 243-frame clip counted by `poseviz.models.count_macs`):

================  ==================================  ==========  ========
name              configuration                       parameters  MACs
================  ==================================  ==========  ========
``repose``        dim 256, depth 5, 8 heads, MLP x4   16,001,549  71.0 G
``repose_small``  dim 64, depth 4, 4 heads, MLP x2    562,315     3.3 G
================  ==================================  ==========  ========

Table 2 gives 16.0M parameters, which this configuration matches, but 43.7 GMACs. Of the
71.0 G, 65.5 G are the linear layers and 5.5 G the attention products; a linear-only count
with MLP ratio 2 would give 43.9 G, but that model has 10.7M parameters, so the paper's two
figures do not come from one configuration under either counting convention.

Attention maps for the app: ``forward(..., return_attention=True)`` adds
``aux["spatial_attention"]`` ``(B, depth, 2, T, J, J)`` and ``aux["temporal_attention"]``
``(B, depth, 2, J, T, T)`` (stream 0 = ST, 1 = TS; averaged over heads; rows sum to 1).
``aux["stream_weights"]`` ``(B, depth, T, J, 2)`` is always there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from poseviz.models._common import keypoints_in, root_relative, skeleton_of
from poseviz.models.registry import LiftingModel, LiftOutput, register_model

__all__ = [
    "DualStreamLayer",
    "RePOSE",
    "RePOSEConfig",
    "STAttention",
    "repose",
    "repose_small",
]


@dataclass
class RePOSEConfig:
    """RePOSE dual-stream spatio-temporal transformer.

    Attributes:
        skeleton: joint layout (J tokens per frame).
        in_channels: 3 (x, y, confidence; the paper's input) or 2.
        dim: token channels (256).
        depth: dual-stream layers (5).
        num_heads: attention heads (8); must divide ``dim``.
        mlp_ratio: hidden size of each MLP over ``dim`` (4).
        dim_rep: channels of the ``tanh`` representation before the head (512).
        max_frames: longest clip (length of the learned frame embedding, 243).
        dropout: dropout on embeddings, attention outputs and MLPs.
        attention_dropout: dropout on attention weights.
        learned_fusion: fuse the two streams by learned weights (else their mean).
    """

    skeleton: str = "h36m17"
    in_channels: int = 3
    dim: int = 256
    depth: int = 5
    num_heads: int = 8
    mlp_ratio: float = 4.0
    dim_rep: int = 512
    max_frames: int = 243
    dropout: float = 0.0
    attention_dropout: float = 0.0
    learned_fusion: bool = True

    def __post_init__(self) -> None:
        if self.in_channels not in (2, 3):
            raise ValueError(f"RePOSEConfig.in_channels must be 2 or 3, got {self.in_channels}")
        for key in ("dim", "depth", "num_heads", "dim_rep", "max_frames"):
            if getattr(self, key) < 1:
                raise ValueError(f"RePOSEConfig.{key} must be >= 1, got {getattr(self, key)}")
        if self.dim % self.num_heads:
            raise ValueError(
                f"RePOSEConfig: num_heads ({self.num_heads}) must divide dim ({self.dim})"
            )
        if self.mlp_ratio <= 0:
            raise ValueError(f"RePOSEConfig.mlp_ratio must be > 0, got {self.mlp_ratio}")
        for key in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"RePOSEConfig.{key} must be in [0, 1), got {getattr(self, key)}")


class STAttention(nn.Module):
    """Multi-head self-attention over joints (``axis="spatial"``: tokens of one frame) or
    over frames (``axis="temporal"``: the tokens of one joint).

    ``forward(x (B, T, J, D), need_weights=False)`` -> ``(y (B, T, J, D), weights)`` with
    ``weights`` ``(B, T, J, J)`` (spatial) or ``(B, J, T, T)`` (temporal), averaged over
    heads, when ``need_weights`` (else None).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        axis: str,
        *,
        attention_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if axis not in ("spatial", "temporal"):
            raise ValueError(f"STAttention: axis must be spatial or temporal, got {axis!r}")
        self.axis, self.num_heads = axis, num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_dropout = attention_dropout
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T, J, D = x.shape
        H = self.num_heads
        if self.axis == "temporal":
            x = x.transpose(1, 2)  # (B, J, T, D): attend over T
        qkv = self.qkv(x).reshape(*x.shape[:3], 3, H, D // H).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.unbind(0)  # (B, S, H, N, D/H): S sequences of N tokens
        p = self.attention_dropout if self.training else 0.0
        weights = None
        if need_weights:
            attn = torch.softmax(q @ k.transpose(-1, -2) * (D // H) ** -0.5, dim=-1)
            weights = attn.mean(dim=2)
            y = F.dropout(attn, p, self.training) @ v
        else:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        y = y.transpose(2, 3).reshape(*x.shape[:3], D)
        if self.axis == "temporal":
            y = y.transpose(1, 2)
        return self.drop(self.proj(y)), weights


class _MLP(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )


class _Stream(nn.Module):
    """Pre-norm residual attention + MLP for both axes, in ``order`` ("st" or "ts")."""

    def __init__(self, config: RePOSEConfig, order: str) -> None:
        super().__init__()
        self.order = order
        dim, hidden = config.dim, int(config.dim * config.mlp_ratio)
        kw = dict(attention_dropout=config.attention_dropout, dropout=config.dropout)
        self.attn = nn.ModuleDict(
            {a: STAttention(dim, config.num_heads, a, **kw) for a in ("spatial", "temporal")}
        )
        self.mlp = nn.ModuleDict(
            {a: _MLP(dim, hidden, config.dropout) for a in ("spatial", "temporal")}
        )
        self.norm_attn = nn.ModuleDict({a: nn.LayerNorm(dim) for a in ("spatial", "temporal")})
        self.norm_mlp = nn.ModuleDict({a: nn.LayerNorm(dim) for a in ("spatial", "temporal")})

    def forward(
        self, x: torch.Tensor, need_weights: bool
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor | None]]:
        weights: dict[str, torch.Tensor | None] = {}
        for axis in ("spatial", "temporal") if self.order == "st" else ("temporal", "spatial"):
            y, weights[axis] = self.attn[axis](self.norm_attn[axis](x), need_weights)
            x = x + y
            x = x + self.mlp[axis](self.norm_mlp[axis](x))
        return x, weights


class DualStreamLayer(nn.Module):
    """One RePOSE layer: ST and TS streams in parallel, fused per token by learned weights
    ``softmax(W [x_st, x_ts] + b)`` (W = 0, b = 1/2 at the start: the mean).

    ``forward(x (B, T, J, D))`` -> ``(x, stream weights (B, T, J, 2), attention dict)``.
    """

    def __init__(self, config: RePOSEConfig) -> None:
        super().__init__()
        self.st = _Stream(config, "st")
        self.ts = _Stream(config, "ts")
        self.fuse = nn.Linear(2 * config.dim, 2) if config.learned_fusion else None
        if self.fuse is not None:
            nn.init.zeros_(self.fuse.weight)
            nn.init.constant_(self.fuse.bias, 0.5)

    def forward(
        self, x: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, list]]:
        x_st, w_st = self.st(x, need_weights)
        x_ts, w_ts = self.ts(x, need_weights)
        if self.fuse is not None:
            alpha = torch.softmax(self.fuse(torch.cat([x_st, x_ts], dim=-1)), dim=-1)
        else:
            alpha = x.new_full((*x.shape[:3], 2), 0.5)
        fused = x_st * alpha[..., 0:1] + x_ts * alpha[..., 1:2]
        attention = {a: [w_st[a], w_ts[a]] for a in ("spatial", "temporal")}
        return fused, alpha, attention


class RePOSE(LiftingModel):
    """RePOSE dual-stream spatio-temporal transformer (sequence to sequence).

    ``forward(keypoints_2d (B, T, J, 2|3), *, return_attention=False)`` with
    ``T <= max_frames`` -> `LiftOutput` with ``pose_3d`` ``(B, T, J, 3)`` root-relative
    metres and ``aux`` as in the module docstring. Input without a confidence channel gets
    confidence 1.
    """

    predicts = "sequence"

    def __init__(self, config: RePOSEConfig) -> None:
        super().__init__(config)
        self.skeleton = skeleton_of(config)
        J, D = self.skeleton.num_joints, config.dim
        self.embed = nn.Linear(config.in_channels, D)
        self.joint_embed = nn.Parameter(torch.zeros(J, D))
        self.frame_embed = nn.Parameter(torch.zeros(config.max_frames, 1, D))
        self.drop = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(DualStreamLayer(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(D)
        self.rep = nn.Linear(D, config.dim_rep)
        self.head = nn.Linear(config.dim_rep, 3)
        self.apply(self._init)
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        nn.init.trunc_normal_(self.frame_embed, std=0.02)
        for layer in self.layers:  # self.apply reset the fusion's start at the mean
            if layer.fuse is not None:
                nn.init.zeros_(layer.fuse.weight)
                nn.init.constant_(layer.fuse.bias, 0.5)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def receptive_field(self) -> int:  # type: ignore[override]
        return self.config.max_frames

    def forward(
        self, keypoints_2d: torch.Tensor, *, return_attention: bool = False, **inputs: torch.Tensor
    ) -> LiftOutput:
        x = keypoints_in(self, keypoints_2d, self.config.in_channels)
        B, T, J, _ = x.shape
        if T > self.config.max_frames:
            raise ValueError(
                f"RePOSE: expected keypoints_2d of shape (B, T <= {self.config.max_frames}, "
                f"{J}, C), got {tuple(keypoints_2d.shape)}"
            )
        h = self.drop(self.embed(x) + self.joint_embed + self.frame_embed[:T])
        alphas, spatial, temporal = [], [], []
        for layer in self.layers:
            h, alpha, attention = layer(h, return_attention)
            alphas.append(alpha)
            if return_attention:
                spatial.append(torch.stack(attention["spatial"], dim=1))
                temporal.append(torch.stack(attention["temporal"], dim=1))
        y = self.head(torch.tanh(self.rep(self.norm(h))))
        aux = {"stream_weights": torch.stack(alphas, dim=1)}
        if return_attention:
            aux["spatial_attention"] = torch.stack(spatial, dim=1)
            aux["temporal_attention"] = torch.stack(temporal, dim=1)
        return LiftOutput(root_relative(y, self.skeleton.root), aux)


@register_model(
    "repose",
    config=RePOSEConfig(),
    test_overrides={
        "dim": 16,
        "depth": 1,
        "num_heads": 2,
        "mlp_ratio": 2.0,
        "dim_rep": 16,
        "max_frames": 4,
    },
)
def repose(config: RePOSEConfig) -> RePOSE:
    """RePOSE dual-stream transformer, paper size (Table 2: 16.0M parameters)."""
    return RePOSE(config)


@register_model(
    "repose_small",
    config=RePOSEConfig(dim=64, depth=4, num_heads=4, mlp_ratio=2.0, dim_rep=128),
    test_overrides={
        "dim": 16,
        "depth": 2,
        "num_heads": 2,
        "mlp_ratio": 2.0,
        "dim_rep": 16,
        "max_frames": 4,
    },
)
def repose_small(config: RePOSEConfig) -> RePOSE:
    """RePOSE dual-stream transformer, small size for CPU training (dim 64, depth 4)."""
    return RePOSE(config)
