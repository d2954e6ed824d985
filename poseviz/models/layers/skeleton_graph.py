"""Graphs over a skeleton layout: bone adjacency, hop distances, symmetric normalisation.

Matrices are ``(J, J)`` float32 tensors indexed by joint (rows and columns in the layout's
joint order, h36m17 by default).
"""

from __future__ import annotations

import torch

from poseviz.skeleton import Skeleton, get_skeleton

__all__ = ["as_skeleton", "hop_distances", "normalize_adjacency", "skeleton_adjacency"]


def as_skeleton(skeleton: str | Skeleton) -> Skeleton:
    """A `Skeleton` from a layout name or a `Skeleton`."""
    return skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)


def skeleton_adjacency(skeleton: str | Skeleton = "h36m17", *, self_loops: bool = False):
    """Bone adjacency of ``skeleton``: ``A[i, j] = 1`` when ``(i, j)`` is a bone (either
    direction), plus the identity when ``self_loops``.

    Returns:
        ``(J, J)`` float32 symmetric tensor.
    """
    skel = as_skeleton(skeleton)
    J = skel.num_joints
    adj = torch.zeros(J, J, device="cpu")
    for parent, child in skel.bones:
        adj[parent, child] = adj[child, parent] = 1.0
    if self_loops:
        adj += torch.eye(J, device="cpu")
    return adj


def hop_distances(skeleton: str | Skeleton = "h36m17") -> torch.Tensor:
    """Shortest-path length along bones between every pair of joints.

    Returns:
        ``(J, J)`` int64 tensor, 0 on the diagonal (the kinematic tree is connected).
    """
    skel = as_skeleton(skeleton)
    J = skel.num_joints
    adj = skeleton_adjacency(skel) > 0
    dist = torch.full((J, J), -1, dtype=torch.long, device="cpu")
    for source in range(J):
        dist[source, source] = 0
        frontier, d = [source], 0
        while frontier:
            d += 1
            nxt = []
            for node in frontier:
                for nb in torch.nonzero(adj[node]).flatten().tolist():
                    if dist[source, nb] < 0:
                        dist[source, nb] = d
                        nxt.append(nb)
            frontier = nxt
    return dist


def normalize_adjacency(adjacency: torch.Tensor) -> torch.Tensor:
    """Symmetric normalisation ``D^-1/2 A D^-1/2`` with ``D`` the row sums of ``A``.

    Args:
        adjacency: ``(..., J, J)`` non-negative matrix (usually with self loops).

    Returns:
        Same shape; rows with zero degree stay zero.
    """
    if adjacency.ndim < 2 or adjacency.shape[-1] != adjacency.shape[-2]:
        raise ValueError(
            f"normalize_adjacency: expected a square (..., J, J) matrix, got {tuple(adjacency.shape)}"
        )
    deg = adjacency.sum(-1)
    inv = torch.where(deg > 0, deg.clamp_min(1e-12).rsqrt(), torch.zeros_like(deg))
    return inv.unsqueeze(-1) * adjacency * inv.unsqueeze(-2)
