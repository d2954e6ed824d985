"""DG-CNN (seed ``000_f1d3e10faaa5ea8f.txt`` §4): Feature-Net and the dual-graph Lifting-Net.

**Feature-Net** (`FeatureNet`, registered as the image model ``dgcnn_feature_net``): a
stacked-hourglass backbone (`poseviz.models.layers.hourglass`) whose last stack gives K
heatmaps at 1/4 of the input (64 x 64 for the paper's 256 x 256 crops), turned into 2D by
integral regression (`poseviz.geometry.soft_argmax_2d`), and an occlusion head (average
pooling to a small grid, fully connected layers, a sigmoid: one probability per joint).
It predicts 2D and occlusion, not 3D, so it is registered with ``kind="image_2d"`` (see
`poseviz.models.registry`) and returns a `FeatureNetOutput`, not a `LiftOutput`. Its
losses read ``output.aux.heatmaps`` (eq. 6) and ``output.aux.occlusion_logits`` (eq. 7).

**Lifting-Net** (`LiftingNet`, registered as the lifting model ``dgcnn_lifting_net``):

- input per joint: normalised 2D ``(x, y)`` plus an occlusion value in [0, 1] (Feature-Net's
  probability, a ground-truth label, or 1 - a detector's visibility), embedded linearly;
- 40 frames at dilation 2 (§5.2): a clip of T frames is split into ``dilation``
  interleaved phases (frames ``p, p + d, p + 2d, ...``), each lifted as its own input set,
  and the predictions are interleaved back, so every output frame is predicted from frames
  ``dilation`` apart and the output has the same T as the input;
- temporal positional encoding added to the embedded features as eq. 10 (`temporal_encoding`);
- two branches of 9 GCN layers over the spatio-temporal graph (joints x frames; spatial
  edges as below, temporal edges joining each joint to itself in the previous and next
  frame, with their own weight): the **position-aware graph** (eq. 9: five body-part
  sub-graphs with edge weight ``1 / (1 + hop)``, messages ``w_d * concat(h_u, h_v)``, mean
  within a part scaled by a learnt part weight ``w_s``, mean across the parts containing the
  joint, then a weight matrix and ReLU) and the **occlusion-aware graph** (adjacency
  ``O = A - C``, below);
- the branches' intermediate outputs are summed at every depth and collected (averaged over
  the 9 depths) into a final GCN layer that gives root-relative 3D (19 GCN layers).

Occlusion matrix C (the paper gives ``c_hat = c / (sum_i A + 1)`` and says C is symmetric and
that ``O = A - C`` lowers the self and neighbour weights of an occluded joint, Fig. 6; the
rest is our construction). With ``A`` the bone adjacency without self loops,
``deg_j = sum_i A_ij`` and ``A_hat = A + I``::

    c_hat_j = c_j / (deg_j + 1)                        (normalised occlusion vector)
    C_ij    = A_hat_ij * (c_hat_i + c_hat_j)   (i != j)   every edge touching an occluded joint
    C_jj    = c_hat_j                                     the occluded joint's self loop
    O       = A_hat - C

so C is symmetric, zero when nothing is occluded (``O == A_hat``), touches only the rows and
columns of occluded joints, and never makes O negative (``c_hat <= 1/2`` for a leaf and
``<= 1/3`` for its neighbour). A joint with many neighbours loses less (§4.2). The layer uses
``D^-1/2 O D^-1/2`` with ``D`` the degrees of ``A_hat`` (not of O), so the reduction is not
normalised away.

Table 4's ablations are config flags: ``graph`` (``"dual"``; single-graph SG-CNN
``"baseline"``, ``"position"``, ``"occlusion"``), ``use_occlusion=False`` (DG-CNN (OL), no
occlusion input; the occlusion-aware graph then equals A), ``temporal_encoding`` (TP) and
``similarity_loss`` (SL: the PSIM+ term of eq. 12 in the training stages).

Training schedules are data: `LiftingNet.training_stages` and `FeatureNet.training_stages`
return `poseviz.losses.LossStage.to_dict`-style dicts (``config.stages`` overrides them).

Cost at the paper configs (``benchmarks/model_costs.py``; FLOPs count a multiply-add as 2):
Lifting-Net 1.54M parameters and 2.16 GFLOPs per 40-frame input set (§5.5: ~1.5M, ~2.5);
Feature-Net 31.9M parameters and 54.9 GFLOPs per 256 x 256 crop (§5.5: ~32M, ~45).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from poseviz.geometry import soft_argmax_2d
from poseviz.models._common import plain_stages, root_relative
from poseviz.models.layers.hourglass import StackedHourglass
from poseviz.models.layers.skeleton_graph import (
    as_skeleton,
    normalize_adjacency,
    skeleton_adjacency,
)
from poseviz.models.registry import LiftingModel, LiftOutput, register_model

__all__ = [
    "FeatureNet",
    "FeatureNetConfig",
    "FeatureNetOutput",
    "LiftingNet",
    "LiftingNetConfig",
    "normalized_occlusion",
    "occlusion_aware_adjacency",
    "occlusion_matrix",
    "position_aware_weights",
    "temporal_positional_encoding",
]

GRAPHS = ("dual", "baseline", "position", "occlusion")


# --------------------------------------------------------------------------------------------
# Graphs
# --------------------------------------------------------------------------------------------


def normalized_occlusion(occlusion: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """DG-CNN's normalised occlusion vector ``c_hat = c / (deg + 1)`` (§4.2).

    Args:
        occlusion: ``(..., J)`` occlusion values in [0, 1] (1 = occluded).
        adjacency: ``(J, J)`` bone adjacency without self loops.

    Returns:
        ``(..., J)``, each joint's value divided by its number of neighbours plus one.
    """
    _check_occlusion_args(occlusion, adjacency, "normalized_occlusion")
    deg = adjacency.sum(-1).to(occlusion)
    return occlusion / (deg + 1)


def occlusion_matrix(occlusion: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """The symmetric occlusion matrix C of DG-CNN's occlusion-aware graph (module docstring):
    ``C_ij = A_hat_ij (c_hat_i + c_hat_j)`` off the diagonal, ``C_jj = c_hat_j``, with
    ``A_hat = A + I`` and ``c_hat`` = `normalized_occlusion`.

    Args:
        occlusion: ``(..., J)`` occlusion values in [0, 1] (1 = occluded).
        adjacency: ``(J, J)`` bone adjacency without self loops.

    Returns:
        ``(..., J, J)`` symmetric, zero where no occluded joint is involved.
    """
    c_hat = normalized_occlusion(occlusion, adjacency)
    J = adjacency.shape[-1]
    eye = torch.eye(J, dtype=c_hat.dtype, device=c_hat.device)
    a_hat = adjacency.to(c_hat) + eye
    pair = c_hat.unsqueeze(-1) + c_hat.unsqueeze(-2)
    return a_hat * pair - torch.diag_embed(c_hat)


def occlusion_aware_adjacency(occlusion: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    """The occlusion-aware graph ``O = A_hat - C`` (§4.2, Fig. 6; C from `occlusion_matrix`).

    Args:
        occlusion: ``(..., J)`` occlusion values in [0, 1].
        adjacency: ``(J, J)`` bone adjacency without self loops.

    Returns:
        ``(..., J, J)``; equals ``A + I`` where nothing is occluded.
    """
    C = occlusion_matrix(occlusion, adjacency)
    eye = torch.eye(adjacency.shape[-1], dtype=C.dtype, device=C.device)
    return adjacency.to(C) + eye - C


def _check_occlusion_args(occlusion: torch.Tensor, adjacency: torch.Tensor, fn: str) -> None:
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ValueError(f"{fn}: adjacency must be (J, J), got {tuple(adjacency.shape)}")
    J = adjacency.shape[0]
    if not isinstance(occlusion, torch.Tensor) or occlusion.ndim < 1 or occlusion.shape[-1] != J:
        shape = tuple(occlusion.shape) if isinstance(occlusion, torch.Tensor) else occlusion
        raise ValueError(f"{fn}: occlusion must be (..., {J}), got {shape}")


def position_aware_weights(skeleton="h36m17") -> tuple[torch.Tensor, torch.Tensor]:
    """Edge-distance weights of the position-aware graph (§4.2, Fig. 5b).

    Each body part of ``skeleton`` (origin -> chain of joints) is a sub-graph; within it
    ``w_d(v, u) = 1 / (1 + d(v, u))`` with ``d`` the hop count along the part's chain
    (0 on the diagonal). Joints outside the part have no edge to it.

    Returns:
        ``weights`` ``(P, J, J)`` (``weights[p, u, v] = w_d(v, u)`` when u and v both lie in
        part p, else 0; symmetric per part) and ``membership`` ``(P, J)`` (1 where the joint
        belongs to part p). Parts are in the skeleton's ``body_parts`` order.
    """
    skel = as_skeleton(skeleton)
    parts = list(skel.body_parts.values())
    if not parts:
        raise ValueError(f"position_aware_weights: skeleton {skel.name!r} has no body parts")
    J = skel.num_joints
    weights = torch.zeros(len(parts), J, J, device="cpu")
    membership = torch.zeros(len(parts), J, device="cpu")
    for p, part in enumerate(parts):
        chain = (part.origin, *part.joints)
        for a, u in enumerate(chain):
            membership[p, u] = 1.0
            for b, v in enumerate(chain):
                weights[p, u, v] = 1.0 / (1.0 + abs(a - b))
    if bool((membership.sum(0) == 0).any()):
        missing = torch.nonzero(membership.sum(0) == 0).flatten().tolist()
        raise ValueError(
            f"position_aware_weights: joints {missing} of {skel.name!r} belong to no body part"
        )
    return weights, membership


def temporal_positional_encoding(frames: int, features: int) -> torch.Tensor:
    """DG-CNN eq. 10: ``PE(t, i) = sin(t / 10000^(2i / KD))`` for even i and ``cos(...)``
    for odd i, over the ``features = K * D`` flattened spatial feature dimensions.

    Returns:
        ``(frames, features)`` float32.
    """
    t = torch.arange(frames, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(features, dtype=torch.float64)
    angle = t / torch.pow(10000.0, 2.0 * i / features)
    pe = torch.where(i.remainder(2) == 0, torch.sin(angle), torch.cos(angle))
    return pe.float()


# --------------------------------------------------------------------------------------------
# Lifting-Net
# --------------------------------------------------------------------------------------------


@dataclass
class LiftingNetConfig:
    """Lifting-Net hyper-parameters (defaults: the paper's, §4.3 and §5.2).

    Attributes:
        num_joints, skeleton: joint layout (its bones and five body parts define the graphs).
        frames, dilation: frames per input set and their spacing (40 at dilation 2).
        hidden: GCN feature width (chosen so that the parameter count matches §5.5).
        branch_layers: GCN layers per branch (9; 2 x 9 + 1 = 19 layers).
        graph: ``"dual"`` or a single-graph SG-CNN of Table 4 (``"baseline"``, ``"position"``,
            ``"occlusion"``).
        use_occlusion: read an occlusion value per joint (False: DG-CNN (OL)).
        temporal_encoding: add eq. 10's encoding (Table 4 TP).
        similarity_loss: include the PSIM+ term in the default training stage (Table 4 SL).
        residual: identity shortcut around each hidden GCN layer (not in the paper; keeps
            19 layers trainable).
        dropout: after each hidden layer.
        stages: training stages as `LossStage.to_dict` dicts; empty -> `training_stages`'s
            default from the flags.
    """

    num_joints: int = 17
    skeleton: str = "h36m17"
    frames: int = 40
    dilation: int = 2
    hidden: int = 184
    branch_layers: int = 9
    graph: str = "dual"
    use_occlusion: bool = True
    temporal_encoding: bool = True
    similarity_loss: bool = True
    residual: bool = True
    dropout: float = 0.0
    stages: tuple[dict, ...] = ()

    def __post_init__(self) -> None:
        self.stages = plain_stages(self.stages)


def _temporal_mean(h: torch.Tensor) -> torch.Tensor:
    """Mean over each node's temporal neighbours (same joint, frames t - 1 and t + 1).
    ``(B, T, J, D) -> (B, T, J, D)``; zero when T == 1."""
    T = h.shape[1]
    if T == 1:
        return torch.zeros_like(h)
    total = torch.zeros_like(h)
    total[:, 1:] += h[:, :-1]
    total[:, :-1] += h[:, 1:]
    count = torch.full((T,), 2.0, dtype=h.dtype, device=h.device)
    count[0] = count[-1] = 1.0
    return total / count.view(1, T, 1, 1)


class _GCNLayer(nn.Module):
    """Shared tail of every GCN layer: ``act(BN(spatial + W_t temporal_mean(h)))`` plus an
    optional residual. Subclasses produce the spatial term."""

    def __init__(self, dim_in: int, dim_out: int, *, final: bool, residual: bool, dropout: float):
        super().__init__()
        self.temporal = nn.Linear(dim_in, dim_out, bias=False)
        self.final = final
        self.norm = None if final else nn.BatchNorm1d(dim_out)
        self.residual = residual and not final and dim_in == dim_out
        self.dropout = nn.Dropout(dropout) if dropout > 0 and not final else nn.Identity()

    def finish(self, spatial: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        out = spatial + self.temporal(_temporal_mean(h))
        if self.final:
            return out
        out = F.relu(self.norm(out.flatten(0, -2)).view_as(out))
        out = self.dropout(out)
        return out + h if self.residual else out


class _VanillaGCNLayer(_GCNLayer):
    """``X' = sigma(W X A_bar)`` with the normalised skeleton adjacency (self loops)."""

    def __init__(self, dim_in, dim_out, adjacency: torch.Tensor, **kw):
        super().__init__(dim_in, dim_out, **kw)
        self.spatial = nn.Linear(dim_in, dim_out)
        self.register_buffer("adjacency", adjacency.clone(), persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        agg = torch.einsum("uv,btvd->btud", self.adjacency, h)
        return self.finish(self.spatial(agg), h)


class _PositionAwareLayer(_GCNLayer):
    """Position-aware GCN layer (eq. 9 and the aggregation after it):
    ``s_u = mean_{parts i containing u} w_s[i] * mean_{v in part i} w_d(v, u) [h_u ; h_v]``,
    ``h_u' = sigma(W s_u)`` (plus the temporal term of `_GCNLayer`)."""

    def __init__(self, dim_in, dim_out, weights: torch.Tensor, membership: torch.Tensor, **kw):
        super().__init__(dim_in, dim_out, **kw)
        self.spatial = nn.Linear(2 * dim_in, dim_out)
        self.part_weight = nn.Parameter(torch.ones(weights.shape[0]))  # w_s
        size = membership.sum(1)  # |S_i|
        count = membership.sum(0)  # parts containing u
        # mean over v in S_i, then mean over the parts containing u
        scaled = weights / size.view(-1, 1, 1) * (membership / count).unsqueeze(-1)
        self.register_buffer("scaled", scaled, persistent=False)  # (P, J, J)

    def aggregate(self, h: torch.Tensor) -> torch.Tensor:
        """``s`` of every node: ``(B, T, J, D) -> (B, T, J, 2D)``, ``[coef_u h_u ;
        sum_v P[u, v] h_v]`` (the means over parts and part members folded into ``P``)."""
        neighbour = torch.einsum("p,puv->uv", self.part_weight, self.scaled)
        self_coef = neighbour.sum(-1)
        return torch.cat(
            [self_coef.view(1, 1, -1, 1) * h, torch.einsum("uv,btvd->btud", neighbour, h)], -1
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.finish(self.spatial(self.aggregate(h)), h)


class _OcclusionAwareLayer(_GCNLayer):
    """Occlusion-aware GCN layer: ``X' = sigma(W X O_bar)`` with the per-frame
    ``O_bar = D^-1/2 (A_hat - C) D^-1/2`` (module docstring)."""

    def __init__(self, dim_in, dim_out, **kw):
        super().__init__(dim_in, dim_out, **kw)
        self.spatial = nn.Linear(dim_in, dim_out)

    def forward(self, h: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        agg = (
            torch.einsum("uv,btvd->btud", graph, h)
            if graph.ndim == 2
            else torch.einsum("btuv,btvd->btud", graph, h)
        )
        return self.finish(self.spatial(agg), h)


class LiftingNet(LiftingModel):
    """DG-CNN's Lifting-Net (module docstring).

    ``forward(keypoints_2d (B, T, J, 2 or 3), occlusion (B, T, J))`` -> `LiftOutput` with
    ``pose_3d`` ``(B, T, J, 3)`` root-relative metres (the root joint is exactly 0).
    Keypoints are normalised screen coordinates; a third (confidence) channel is ignored.
    ``occlusion`` (values in [0, 1], 1 = occluded) is required when
    ``config.use_occlusion``.
    """

    predicts = "sequence"

    def __init__(self, config: LiftingNetConfig) -> None:
        super().__init__(config)
        c = config
        if c.graph not in GRAPHS:
            raise ValueError(f"LiftingNetConfig.graph: expected one of {GRAPHS}, got {c.graph!r}")
        for key in ("frames", "dilation", "hidden", "branch_layers"):
            if getattr(c, key) < 1:
                raise ValueError(f"LiftingNetConfig.{key}: must be >= 1, got {getattr(c, key)}")
        if not 0 <= c.dropout < 1:
            raise ValueError(f"LiftingNetConfig.dropout: must lie in [0, 1), got {c.dropout}")
        skel = as_skeleton(c.skeleton)
        if skel.num_joints != c.num_joints:
            raise ValueError(
                f"LiftingNetConfig: skeleton {c.skeleton!r} has {skel.num_joints} joints, "
                f"num_joints is {c.num_joints}"
            )
        self.root = skel.root
        adjacency = skeleton_adjacency(skel)
        a_hat = adjacency + torch.eye(c.num_joints, device="cpu")
        self.register_buffer("adjacency", adjacency.clone(), persistent=False)
        self.register_buffer("degree_rsqrt", a_hat.sum(-1).rsqrt(), persistent=False)
        a_bar = normalize_adjacency(a_hat)

        self.embed = nn.Linear(3 if c.use_occlusion else 2, c.hidden)
        kw = dict(final=False, residual=c.residual, dropout=c.dropout)
        H, L = c.hidden, c.branch_layers
        if c.graph in ("dual", "position"):
            weights, membership = position_aware_weights(skel)
            self.position_branch = nn.ModuleList(
                _PositionAwareLayer(H, H, weights, membership, **kw) for _ in range(L)
            )
        if c.graph in ("dual", "occlusion"):
            self.occlusion_branch = nn.ModuleList(
                _OcclusionAwareLayer(H, H, **kw) for _ in range(L)
            )
        if c.graph == "baseline":
            self.baseline_branch = nn.ModuleList(
                _VanillaGCNLayer(H, H, a_bar, **kw) for _ in range(L)
            )
        self.head = _VanillaGCNLayer(H, 3, a_bar, final=True, residual=False, dropout=0.0)
        with torch.no_grad():  # start near the origin: poses are tenths of metres, not metres
            self.head.spatial.weight.mul_(0.1)
            self.head.temporal.weight.mul_(0.1)

    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("keypoints_2d", "occlusion") if self.config.use_occlusion else ("keypoints_2d",)

    @property
    def receptive_field(self) -> int:  # type: ignore[override]
        """Raw frames spanned by one input set: ``(frames - 1) * dilation + 1``."""
        return (self.config.frames - 1) * self.config.dilation + 1

    def occlusion_graph(self, occlusion: torch.Tensor) -> torch.Tensor:
        """``(..., J) -> (..., J, J)`` normalised occlusion-aware adjacency
        ``D^-1/2 (A_hat - C) D^-1/2`` (``D``: degrees of ``A_hat``)."""
        O = occlusion_aware_adjacency(occlusion, self.adjacency)
        d = self.degree_rsqrt.to(O)
        return d.unsqueeze(-1) * O * d.unsqueeze(-2)

    def training_stages(self) -> tuple[dict[str, Any], ...]:
        """The training schedule as `LossStage.to_dict` dicts: ``config.stages`` if set, else
        one stage of eq. 12 (``0.1 L_3D + 0.9 L_sim``, §5.2), or ``L_3D`` alone when
        ``similarity_loss`` is off. The paper gives no epoch count; 80 is a placeholder the
        run config overrides."""
        if self.config.stages:
            return tuple(self.config.stages)
        weights = (
            {"limb_joint": 0.1, "psim_similarity": 0.9}
            if self.config.similarity_loss
            else {"limb_joint": 1.0}
        )
        return ({"name": "lifting", "epochs": 80, "weights": weights},)

    def _check_occlusion(self, occlusion: Any, shape: tuple[int, ...]) -> torch.Tensor:
        if occlusion is None:
            raise ValueError(
                "LiftingNet: this config uses occlusion (use_occlusion=True); pass "
                f"occlusion of shape {shape} (1 = occluded), or build with use_occlusion=False"
            )
        if not isinstance(occlusion, torch.Tensor) or tuple(occlusion.shape) != shape:
            got = tuple(occlusion.shape) if isinstance(occlusion, torch.Tensor) else occlusion
            raise ValueError(f"LiftingNet: expected occlusion of shape {shape}, got {got}")
        if not occlusion.is_meta and bool(((occlusion < 0) | (occlusion > 1)).any()):
            raise ValueError("LiftingNet: occlusion values must lie in [0, 1] (1 = occluded)")
        return occlusion

    def forward(
        self, keypoints_2d: torch.Tensor, occlusion: torch.Tensor | None = None, **inputs: Any
    ) -> LiftOutput:
        self.check_keypoints(keypoints_2d)
        c = self.config
        B, T, J, _ = keypoints_2d.shape
        x = keypoints_2d[..., :2]
        if c.use_occlusion:
            occ = self._check_occlusion(occlusion, (B, T, J)).to(x)
            x = torch.cat([x, occ.unsqueeze(-1)], -1)
        else:
            occ = None

        # split into `dilation` interleaved phases, each an input set of frames d apart
        d = c.dilation
        Tp = math.ceil(T / d) * d
        if Tp != T:
            x = torch.cat([x, x[:, -1:].expand(B, Tp - T, *x.shape[2:])], 1)
            if occ is not None:
                occ = torch.cat([occ, occ[:, -1:].expand(B, Tp - T, J)], 1)
        x = x.reshape(B, Tp // d, d, J, -1).transpose(1, 2).reshape(B * d, Tp // d, J, -1)
        if occ is not None:
            occ = occ.reshape(B, Tp // d, d, J).transpose(1, 2).reshape(B * d, Tp // d, J)

        h = self.embed(x)
        if c.temporal_encoding:
            pe = temporal_positional_encoding(h.shape[1], J * c.hidden).to(h)
            h = h + pe.view(1, h.shape[1], J, c.hidden)

        collected = torch.zeros_like(h)
        if c.graph in ("dual", "position"):
            hp = h
            for layer in self.position_branch:
                hp = layer(hp)
                collected = collected + hp
        if c.graph in ("dual", "occlusion"):
            graph = (
                self.occlusion_graph(occ)
                if occ is not None
                else self.occlusion_graph(torch.zeros(J, dtype=h.dtype, device=h.device))
            )
            ho = h
            for layer in self.occlusion_branch:
                ho = layer(ho, graph)
                collected = collected + ho
        if c.graph == "baseline":
            hb = h
            for layer in self.baseline_branch:
                hb = layer(hb)
                collected = collected + hb
        out = self.head(collected / c.branch_layers)

        out = out.view(B, d, Tp // d, J, 3).transpose(1, 2).reshape(B, Tp, J, 3)[:, :T]
        return LiftOutput(pose_3d=root_relative(out, self.root))


# --------------------------------------------------------------------------------------------
# Feature-Net
# --------------------------------------------------------------------------------------------


@dataclass
class FeatureNetConfig:
    """Feature-Net hyper-parameters (defaults: the paper-size network, ~32M parameters).

    Attributes:
        num_joints: K heatmaps / occlusion outputs.
        stacks, channels, depth: stacked-hourglass size (Newell et al.: 8, 256, 4).
        image_size: ``(H, W)`` of the input crop (256 x 256 -> 64 x 64 heatmaps); both must
            be divisible by ``4 * 2 ** depth``.
        occlusion_pool: side of the grid the last features are averaged to before the
            fully connected occlusion layers.
        occlusion_hidden: widths of the hidden fully connected layers.
        beta: soft-argmax inverse temperature of the integral regression.
        stages: training stages as `LossStage.to_dict` dicts; empty -> eq. 8 (§5.2 weights).
    """

    num_joints: int = 17
    stacks: int = 8
    channels: int = 256
    depth: int = 4
    image_size: tuple[int, int] = (256, 256)
    occlusion_pool: int = 8
    occlusion_hidden: tuple[int, ...] = (384, 384)
    beta: float = 1.0
    stages: tuple[dict, ...] = ()

    def __post_init__(self) -> None:
        self.stages = plain_stages(self.stages)


@dataclass
class FeatureNetOutput:
    """What `FeatureNet` returns.

    Attributes:
        keypoints_2d: ``(B, 1, K, 2)`` soft-argmax joints ``(x, y)`` in heatmap pixels of the
            crop (``x_image = (x + 0.5) * stride - 0.5``, stride 4).
        occlusion: ``(B, 1, K)`` occlusion probabilities (sigmoid of the logits).
        aux: ``"heatmaps"`` ``(B, K, H/4, W/4)`` last-stack logits (eq. 6's input),
            ``"intermediate_heatmaps"`` list of earlier stacks' logits (intermediate
            supervision), ``"occlusion_logits"`` ``(B, 1, K)`` (eq. 7's input).
    """

    keypoints_2d: torch.Tensor
    occlusion: torch.Tensor
    aux: dict[str, Any] = field(default_factory=dict)


class FeatureNet(nn.Module):
    """DG-CNN's Feature-Net: ``forward(image=(B, 3, H, W))`` -> `FeatureNetOutput`.

    The image is one RGB crop per sample in [0, 1] (the centre frame of the clip), hence the
    time axis of length 1 in the outputs, matching ``batch["occlusion"]`` of a one-frame
    clip. Pass the image by keyword (``model(image=...)``); other keyword inputs
    (``keypoints_2d``) are ignored so a trainer can call every model alike.
    """

    inputs: ClassVar[tuple[str, ...]] = ("image",)
    receptive_field: ClassVar[int] = 1  # one crop -> one frame of 2D and occlusion
    predicts: ClassVar[str] = "centre"

    def __init__(self, config: FeatureNetConfig) -> None:
        super().__init__()
        self.config = c = config
        if c.occlusion_pool < 1 or not all(h >= 1 for h in c.occlusion_hidden):
            raise ValueError(
                "FeatureNetConfig: occlusion_pool and occlusion_hidden entries must be >= 1"
            )
        self.backbone = StackedHourglass(
            c.num_joints, stacks=c.stacks, channels=c.channels, depth=c.depth
        )
        m = self.backbone.stride * 2**c.depth
        if len(c.image_size) != 2 or any(side < 1 or side % m for side in c.image_size):
            raise ValueError(
                f"FeatureNetConfig.image_size: expected (H, W) both divisible by "
                f"4 * 2 ** depth = {m}, got {c.image_size}"
            )
        layers: list[nn.Module] = [nn.AdaptiveAvgPool2d(c.occlusion_pool), nn.Flatten()]
        width = c.channels * c.occlusion_pool**2
        for hidden in c.occlusion_hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        layers.append(nn.Linear(width, c.num_joints))
        self.occlusion_head = nn.Sequential(*layers)

    @property
    def num_joints(self) -> int:
        return int(self.config.num_joints)

    def example_inputs(
        self, batch_size: int = 1, num_frames: int | None = None, *, generator=None
    ) -> dict[str, torch.Tensor]:
        """``{"image": (B, 3, H, W)}`` random crops in [0, 1] of ``config.image_size``, on
        the model's device (``num_frames`` is ignored: one crop per sample)."""
        device = next(self.parameters()).device
        image = torch.rand(batch_size, 3, *self.config.image_size, generator=generator)
        return {"image": image.to(device)}

    def training_stages(self) -> tuple[dict[str, Any], ...]:
        """``config.stages`` if set, else one stage of eq. 8 with w_2D = 0.999 and
        w_OC = 0.001 (§5.2). The paper gives no epoch count; 100 is a placeholder."""
        if self.config.stages:
            return tuple(self.config.stages)
        weights = {"integral_2d": 0.999, "focal_occlusion": 0.001}
        return ({"name": "feature_net", "epochs": 100, "weights": weights},)

    def forward(self, image: torch.Tensor | None = None, **inputs: Any) -> FeatureNetOutput:
        if image is None:
            raise ValueError("FeatureNet: pass image=(B, 3, H, W) RGB crops in [0, 1]")
        want = (3, *self.config.image_size)
        if not isinstance(image, torch.Tensor) or image.ndim != 4 or tuple(image.shape[1:]) != want:
            shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(
                f"FeatureNet: expected image of shape (B, {want[0]}, {want[1]}, {want[2]}) "
                f"(config.image_size), got {shape}"
            )
        feat, heatmaps = self.backbone(image)
        final = heatmaps[-1]
        coords = soft_argmax_2d(final, beta=self.config.beta)
        logits = self.occlusion_head(feat).unsqueeze(1)
        return FeatureNetOutput(
            keypoints_2d=coords.unsqueeze(1),
            occlusion=torch.sigmoid(logits),
            aux={
                "heatmaps": final,
                "intermediate_heatmaps": heatmaps[:-1],
                "occlusion_logits": logits,
            },
        )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@register_model(
    "dgcnn_lifting_net",
    config=LiftingNetConfig(),
    test_overrides={"hidden": 32, "frames": 4, "dilation": 2, "branch_layers": 2, "dropout": 0.0},
)
def dgcnn_lifting_net(config: LiftingNetConfig) -> LiftingNet:
    """DG-CNN Lifting-Net: dual-graph GCN, 40 frames at dilation 2, 2D + occlusion -> 3D."""
    return LiftingNet(config)


@register_model(
    "dgcnn_feature_net",
    config=FeatureNetConfig(),
    test_overrides={
        "stacks": 2,
        "channels": 16,
        "depth": 2,
        "image_size": (64, 64),
        "occlusion_pool": 2,
        "occlusion_hidden": (16,),
    },
    kind="image_2d",
)
def dgcnn_feature_net(config: FeatureNetConfig) -> FeatureNet:
    """DG-CNN Feature-Net: stacked hourglass -> 2D heatmaps + per-joint occlusion."""
    return FeatureNet(config)
