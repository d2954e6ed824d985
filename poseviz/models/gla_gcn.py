"""GLA-GCN: global-local adaptive graph convolutional network (seed
``003_3159e13fdb6a9cb6.txt`` §3, Yu et al., ICCV 2023).

The 2D clip ``(B, T, J, C)`` becomes a graph sequence ``F(C, T, J)``. Adaptive graph
convolution blocks (`AGCNBlock`, eqs. 2-3) build the *global representation*:
``AGCN(2, C, 1)`` and ``global_blocks`` x ``AGCN(C, C, 1)``; with ``reconstruct_sequence``
an ``AGCN(C, 3, 1)`` head reconstructs the whole 3D pose sequence (eq. 4's
``p_ddot``, returned as ``aux["sequence_3d"]`` ``(B, T, J, 3)`` for the ``gla_global``
loss). *Strided modules* (two AGCN blocks inside a residual connection, the second with
temporal stride w) shrink the representation ``243 -> 81 -> 27 -> 9 -> 3 -> 1`` frames, and
the *individually connected layer* (eqs. 5-7) maps each joint's own feature vector to its 3D
position, mixing per-joint (unshared) and shared weights by ``lambda``.

Choices where the paper leaves room (all configurable):

- Partitions ``A_k`` (eq. 2): the vertex itself, the centripetal and the centrifugal
  neighbours, "closer"/"farther" measured as hop distance to a centre joint (ST-GCN's
  reading of "gravity centre"; default the root, the pelvis, which equals the
  inward/outward split of the authors' released code). Each ``A_k`` is normalised
  ``Lambda^-1/2 A_bar_k Lambda^-1/2`` with ``Lambda_ii = sum_j sum_k A_bar_k^ij + alpha``:
  the degree of the whole graph (self-loops included), not of the partition alone, because
  a partition's own degree is 0 at the centre and ``alpha = 0.001`` would then blow the
  centre's column up by ``1/sqrt(alpha)``.
- ``C_k`` (eq. 3): the embedded product is divided by ``embedding * T`` before the softmax
  (as in 2s-AGCN) and the softmax runs over the source joints. ``W_theta`` and ``W_phi``
  start from He initialisation, not 0 as the paper says: at 0 neither gets a gradient
  (each one's gradient is proportional to the other), so they would never train.
- The temporal kernel is 9 (§3.1 says Gamma = 9; a later sentence says three); dropout 0.1.
- The number of ``AGCN(C, C, 1)`` blocks of the global branch is not given; the registered
  ``*_seq`` configs use 4 (C = 96) and 3 (C = 512), which come closest to Table 5's counts.
- ``lambda`` of eq. 7 is not given either: 0.5 by default.
- A centre-frame model: the input is one clip of exactly ``prod(filter_widths)`` frames
  (slide it over longer sequences); zero padding keeps every block's frames in the clip.

Registered models and their parameters beside seed 003 Table 5:

=========================  =======================  ==========  =======
name                       configuration            parameters  Table 5
=========================  =======================  ==========  =======
``gla_gcn_t27``            T=27, C=96               847,679     0.84M
``gla_gcn_t81``            T=81, C=96               1,099,685   1.10M
``gla_gcn_t243``           T=243, C=96              1,351,691   1.35M
``gla_gcn_t243_c96_seq``   + 4 global blocks, head  1,858,709   1.88M
``gla_gcn_t243_c512_seq``  C=512, + 3 blocks, head  48,480,706  48.64M
=========================  =======================  ==========  =======

The first three differ from the authors' released strided AGCN (844,076 / 1,096,466 /
1,348,856 parameters by the same arithmetic) only by (a) one bias for the three ``W_k`` of
a graph convolution instead of three (they add up to one bias anyway; -192 per block at
C = 96) and (b) the unshared per-joint weights of eq. 5 beside the shared ones of eq. 6
(+4,947 at C = 96), which that code predates. The ``*_seq`` rows depend on the undisclosed
number of global blocks; no whole number reproduces both 1.88M and 48.64M.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from poseviz.models._common import keypoints_in, root_relative, skeleton_of
from poseviz.models.registry import LiftingModel, LiftOutput, register_model
from poseviz.skeleton import Skeleton

__all__ = [
    "AGCNBlock",
    "AdaptiveGraphConv",
    "GLAGCN",
    "GLAGCNConfig",
    "IndividuallyConnected",
    "StridedModule",
    "gla_gcn_t27",
    "gla_gcn_t81",
    "gla_gcn_t243",
    "gla_gcn_t243_c96_seq",
    "gla_gcn_t243_c512_seq",
    "hop_distances",
    "partition_adjacency",
]


def hop_distances(skeleton: Skeleton, centre: int) -> np.ndarray:
    """``(J,)`` number of bones between each joint and ``centre`` (breadth-first search)."""
    J = skeleton.num_joints
    neighbours: list[list[int]] = [[] for _ in range(J)]
    for p, c in skeleton.bones:
        neighbours[p].append(c)
        neighbours[c].append(p)
    dist = np.full(J, -1, dtype=np.int64)
    dist[centre] = 0
    queue = deque([centre])
    while queue:
        j = queue.popleft()
        for k in neighbours[j]:
            if dist[k] < 0:
                dist[k] = dist[j] + 1
                queue.append(k)
    return dist


def partition_adjacency(skeleton: Skeleton, centre: int, alpha: float = 0.001) -> np.ndarray:
    """GLA-GCN eq. 2's normalised physical adjacency in K = 3 partitions.

    ``A_bar_0`` links every joint to itself, ``A_bar_1[i, j] = 1`` for the bone neighbours j
    of i that are closer to ``centre`` (centripetal), ``A_bar_2`` for the farther ones
    (centrifugal). Returns ``(3, J, J)`` float32 ``A_k = Lambda^-1/2 A_bar_k Lambda^-1/2``
    with ``Lambda_ii = sum_k sum_j A_bar_k[i, j] + alpha`` (degree of the whole graph).
    Row i of ``A_k`` weighs the source joints j that feed joint i.
    """
    J = skeleton.num_joints
    if not 0 <= centre < J:
        raise ValueError(
            f"partition_adjacency: centre must be a joint index in [0, {J}), got {centre}"
        )
    dist = hop_distances(skeleton, centre)
    bar = np.zeros((3, J, J))
    bar[0] = np.eye(J)
    for p, c in skeleton.bones:
        for i, j in ((p, c), (c, p)):
            if dist[j] == dist[i]:
                bar[0, i, j] = 1.0
            else:
                bar[1 if dist[j] < dist[i] else 2, i, j] = 1.0
    inv_sqrt = 1.0 / np.sqrt(bar.sum(axis=(0, 2)) + alpha)
    return (inv_sqrt[None, :, None] * bar * inv_sqrt[None, None, :]).astype(np.float32)


@dataclass
class GLAGCNConfig:
    """GLA-GCN configuration (seed 003 §3-4).

    Attributes:
        skeleton: joint layout (J graph nodes, its bones give the adjacency).
        in_channels: 2 (x, y) or 3 (x, y, confidence) per joint.
        channels: C_out of the AGCN blocks (96; 512 for the largest model of Table 5).
        filter_widths: stride of each strided module; the input clip has
            ``prod(filter_widths)`` frames and shrinks to one.
        temporal_kernel: temporal convolution kernel of every block (Gamma = 9).
        global_blocks: ``AGCN(C, C, 1)`` blocks after ``AGCN(2, C, 1)`` in the global branch.
        reconstruct_sequence: add the ``AGCN(C, 3, 1)`` head that reconstructs the 3D pose
            sequence (eq. 4) into ``aux["sequence_3d"]``.
        centre_joint: joint whose hop distance defines centripetal/centrifugal partitions;
            empty = the skeleton's root.
        embedding_ratio: ``C_k``'s embedding has ``C // embedding_ratio`` channels.
        mix: lambda of eq. 7, the weight of the unshared (per-joint) layer, in [0, 1].
        dropout: dropout probability (0.1).
        alpha: added to the degrees before normalising ``A_k`` (0.001).
    """

    skeleton: str = "h36m17"
    in_channels: int = 2
    channels: int = 96
    filter_widths: tuple[int, ...] = (3, 3, 3, 3, 3)
    temporal_kernel: int = 9
    global_blocks: int = 0
    reconstruct_sequence: bool = False
    centre_joint: str = ""
    embedding_ratio: int = 4
    mix: float = 0.5
    dropout: float = 0.1
    alpha: float = 0.001

    def __post_init__(self) -> None:
        if self.in_channels not in (2, 3):
            raise ValueError(f"GLAGCNConfig.in_channels must be 2 or 3, got {self.in_channels}")
        if not self.filter_widths or any(
            not isinstance(w, int) or w < 1 for w in self.filter_widths
        ):
            raise ValueError(
                f"GLAGCNConfig.filter_widths must be positive integers, got {self.filter_widths!r}"
            )
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ValueError(
                f"GLAGCNConfig.temporal_kernel must be odd and positive, got {self.temporal_kernel}"
            )
        if self.channels < 1 or self.global_blocks < 0 or self.embedding_ratio < 1:
            raise ValueError(
                "GLAGCNConfig: channels and embedding_ratio must be >= 1 and global_blocks >= 0"
            )
        if not 0.0 <= self.mix <= 1.0:
            raise ValueError(f"GLAGCNConfig.mix (lambda) must be in [0, 1], got {self.mix}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GLAGCNConfig.dropout must be in [0, 1), got {self.dropout}")


class AdaptiveGraphConv(nn.Module):
    """Adaptive graph convolution, GLA-GCN eqs. 2-3:
    ``f_out = sum_k W_k f_in (A_k + B_k + C_k)`` with the fixed partitions ``A_k``, learnable
    ``B_k`` (initialised to 0) and the embedded similarity
    ``C_k = softmax(theta_k(f_in)^T phi_k(f_in) / (e T))``; then batch norm, dropout, a
    residual (1x1 convolution and batch norm when the channels change) and ReLU.

    ``forward(x (N, C_in, T, J))`` -> ``(N, C_out, T, J)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        *,
        embedding_ratio: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        K, J, _ = adjacency.shape
        self.num_subsets = K
        self.embedding = max(out_channels // embedding_ratio, 1)
        self.register_buffer("A", adjacency.clone())
        self.B = nn.Parameter(torch.zeros(K, J, J))
        self.theta = nn.Conv2d(in_channels, K * self.embedding, 1)
        self.phi = nn.Conv2d(in_channels, K * self.embedding, 1)
        # W_k of all subsets as one 1x1 convolution over the K aggregated inputs
        self.weight = nn.Conv2d(K * in_channels, out_channels, 1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.drop = nn.Dropout(dropout)
        self.down: nn.Module = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        )
        for conv in (self.theta, self.phi):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out")
            nn.init.zeros_(conv.bias)
        nn.init.normal_(self.weight.weight, 0.0, math.sqrt(2.0 / (out_channels * in_channels * K)))
        nn.init.zeros_(self.weight.bias)
        nn.init.constant_(self.bn.weight, 1e-6)  # start close to the residual path
        nn.init.zeros_(self.bn.bias)

    def similarity(self, x: torch.Tensor) -> torch.Tensor:
        """``C_k`` of eq. 3: ``(N, K, J, J)``, row i a softmax over source joints j."""
        N, _, T, J = x.shape
        K, e = self.num_subsets, self.embedding
        theta = self.theta(x).reshape(N, K, e * T, J)
        phi = self.phi(x).reshape(N, K, e * T, J)
        return torch.softmax(theta.transpose(-1, -2) @ phi / (e * T), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        N, C, T, J = x.shape
        adjacency = self.A + self.B + self.similarity(x)  # (N, K, J, J)
        gathered = torch.einsum("nctj,nkij->nkcti", x, adjacency)
        y = self.drop(self.bn(self.weight(gathered.reshape(N, -1, T, J))))
        return F.relu(y + self.down(x))


class _TemporalConv(nn.Module):
    """``(k, 1)`` convolution over frames with stride s and zero padding ``k // 2``, then
    batch norm: ``(N, C_in, T, J)`` -> ``(N, C_out, floor((T - 1) / s) + 1, J)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, (kernel, 1), padding=(kernel // 2, 0), stride=(stride, 1)
        )
        self.bn = nn.BatchNorm2d(out_channels)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out")
        nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class AGCNBlock(nn.Module):
    """``AGCN(C_in, C_out, S)``: adaptive graph convolution, temporal convolution with
    stride S, residual connection and ReLU. ``(N, C_in, T, J)`` -> ``(N, C_out, T', J)``,
    ``T' = floor((T - 1) / S) + 1``. ``residual=False`` drops the block's own residual
    (used inside a strided module, which has its own)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        *,
        stride: int = 1,
        temporal_kernel: int = 9,
        embedding_ratio: int = 4,
        dropout: float = 0.1,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.gcn = AdaptiveGraphConv(
            in_channels, out_channels, adjacency, embedding_ratio=embedding_ratio, dropout=dropout
        )
        self.tcn = _TemporalConv(out_channels, out_channels, temporal_kernel, stride)
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = _TemporalConv(in_channels, out_channels, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return F.relu(y)


class StridedModule(nn.Module):
    """Two AGCN blocks in a residual connection, the second with temporal stride w; the
    residual keeps the centre frame of every group of w. ``(N, C, w * m, J)`` ->
    ``(N, C, m, J)``."""

    def __init__(self, channels: int, adjacency: torch.Tensor, stride: int, **kw) -> None:
        super().__init__()
        self.stride = stride
        self.first = AGCNBlock(channels, channels, adjacency, **kw)
        self.second = AGCNBlock(channels, channels, adjacency, stride=stride, residual=False, **kw)
        self.drop = nn.Dropout(kw.get("dropout", 0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        res = x[:, :, self.stride // 2 :: self.stride]
        return res + self.drop(self.second(self.drop(self.first(x))))


class IndividuallyConnected(nn.Module):
    """GLA-GCN eqs. 5-7: ``p_bar_i = lambda (v_i W_i + b_i) + (1 - lambda) (v_i W_s + b_s)``.

    ``forward(v (N, C, J))`` (joint i's feature vector ``v[:, :, i]``) -> ``(N, J, 3)``.
    """

    def __init__(self, channels: int, num_joints: int, mix: float, out_features: int = 3) -> None:
        super().__init__()
        self.mix = float(mix)
        bound = 1.0 / math.sqrt(channels)
        self.unshared_weight = nn.Parameter(
            torch.empty(num_joints, channels, out_features).uniform_(-bound, bound)
        )
        self.unshared_bias = nn.Parameter(
            torch.empty(num_joints, out_features).uniform_(-bound, bound)
        )
        self.shared = nn.Linear(channels, out_features)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        unshared = torch.einsum("ncj,jcd->njd", v, self.unshared_weight) + self.unshared_bias
        shared = self.shared(v.transpose(1, 2))
        return self.mix * unshared + (1.0 - self.mix) * shared


class GLAGCN(LiftingModel):
    """GLA-GCN (seed 003 §3): a receptive-field clip in, its centre frame's 3D pose out.

    ``forward(keypoints_2d (B, T, J, 2|3))`` with ``T = prod(filter_widths)`` ->
    `LiftOutput` with ``pose_3d`` ``(B, 1, J, 3)`` root-relative metres and, when
    ``reconstruct_sequence``, ``aux["sequence_3d"]`` ``(B, T, J, 3)`` (eq. 4's intermediate
    3D pose sequence, root-relative metres).
    """

    predicts = "centre"

    def __init__(self, config: GLAGCNConfig) -> None:
        super().__init__(config)
        self.skeleton = skeleton_of(config)
        sk, C = self.skeleton, config.channels
        centre = sk.index(config.centre_joint) if config.centre_joint else sk.root
        adjacency = torch.from_numpy(partition_adjacency(sk, centre, config.alpha))
        kw = dict(
            temporal_kernel=config.temporal_kernel,
            embedding_ratio=config.embedding_ratio,
            dropout=config.dropout,
        )
        self.data_bn = nn.BatchNorm1d(sk.num_joints * config.in_channels)
        self.expand = AGCNBlock(config.in_channels, C, adjacency, **kw)
        self.global_blocks = nn.ModuleList(
            AGCNBlock(C, C, adjacency, **kw) for _ in range(config.global_blocks)
        )
        self.sequence_head = (
            AGCNBlock(C, 3, adjacency, **kw) if config.reconstruct_sequence else None
        )
        self.strided = nn.ModuleList(
            StridedModule(C, adjacency, w, **kw) for w in config.filter_widths
        )
        self.head = IndividuallyConnected(C, sk.num_joints, config.mix)

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def receptive_field(self) -> int:  # type: ignore[override]
        return math.prod(self.config.filter_widths)

    def forward(self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor) -> LiftOutput:
        x = keypoints_in(self, keypoints_2d, self.config.in_channels)
        B, T, J, C = x.shape
        if T != self.receptive_field:
            raise ValueError(
                f"GLAGCN: expected keypoints_2d of shape (B, {self.receptive_field}, {J}, C) "
                f"(one receptive-field clip), got {tuple(keypoints_2d.shape)}"
            )
        h = self.data_bn(x.reshape(B, T, J * C).transpose(1, 2))  # (B, J*C, T)
        h = h.reshape(B, J, C, T).permute(0, 2, 3, 1)  # (B, C, T, J)
        h = self.expand(h)
        for block in self.global_blocks:
            h = block(h)
        aux = {}
        if self.sequence_head is not None:
            seq = self.sequence_head(h).permute(0, 2, 3, 1)  # (B, T, J, 3)
            aux["sequence_3d"] = root_relative(seq, self.skeleton.root)
        for module in self.strided:
            h = module(h)
        pose = self.head(h[:, :, 0, :]).unsqueeze(1)  # (B, 1, J, 3)
        return LiftOutput(root_relative(pose, self.skeleton.root), aux)


_GLA_TEST = {"channels": 8, "filter_widths": (3,), "temporal_kernel": 3, "dropout": 0.0}


@register_model(
    "gla_gcn_t27", config=GLAGCNConfig(filter_widths=(3, 3, 3)), test_overrides=_GLA_TEST
)
def gla_gcn_t27(config: GLAGCNConfig) -> GLAGCN:
    """GLA-GCN, 27 frames, C_out = 96 (Table 5: 0.84M)."""
    return GLAGCN(config)


@register_model(
    "gla_gcn_t81", config=GLAGCNConfig(filter_widths=(3, 3, 3, 3)), test_overrides=_GLA_TEST
)
def gla_gcn_t81(config: GLAGCNConfig) -> GLAGCN:
    """GLA-GCN, 81 frames, C_out = 96 (Table 5: 1.10M)."""
    return GLAGCN(config)


@register_model("gla_gcn_t243", config=GLAGCNConfig(), test_overrides=_GLA_TEST)
def gla_gcn_t243(config: GLAGCNConfig) -> GLAGCN:
    """GLA-GCN, 243 frames, C_out = 96 (Table 5: 1.35M)."""
    return GLAGCN(config)


@register_model(
    "gla_gcn_t243_c96_seq",
    config=GLAGCNConfig(global_blocks=4, reconstruct_sequence=True),
    test_overrides={**_GLA_TEST, "global_blocks": 1},
)
def gla_gcn_t243_c96_seq(config: GLAGCNConfig) -> GLAGCN:
    """GLA-GCN, 243 frames, C_out = 96, 3D sequence reconstruction (Table 5: 1.88M)."""
    return GLAGCN(config)


@register_model(
    "gla_gcn_t243_c512_seq",
    config=GLAGCNConfig(channels=512, global_blocks=3, reconstruct_sequence=True),
    test_overrides={**_GLA_TEST, "global_blocks": 1},
)
def gla_gcn_t243_c512_seq(config: GLAGCNConfig) -> GLAGCN:
    """GLA-GCN, 243 frames, C_out = 512, 3D sequence reconstruction (Table 5: 48.64M)."""
    return GLAGCN(config)
