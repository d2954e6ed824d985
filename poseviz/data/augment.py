"""Bone-length augmentation: random per-sequence body proportions for mocap that comes
from one fixed skeleton (every DeepMimic, CMU and tennis clip does).

A sample is one scale factor per bone (a bone is named by its child joint): a global
factor (body size) times a per-bone factor (proportions). Mirrored bones (``l_elbow`` and
``r_elbow``...) share their factor, so left and right stay equal. `scale_bones` applies the
factors along the kinematic chain: each bone vector ``X[child] - X[parent]`` is scaled
and the joints are rebuilt from the root outwards, so children move with their parents,
bone directions are kept and the root stays where it was:
``X'[j] = X'[parent(j)] + scale[j] * (X[j] - X[parent(j)])``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

import numpy as np

from poseviz.skeleton import Skeleton, get_skeleton

__all__ = [
    "HUMAN_BONE_RANGES",
    "BoneScaling",
    "bone_lengths",
    "mirror_groups",
    "scale_bones",
]

# Adult h36m17 bone lengths (child joint -> (min, max) metres): wide anthropometric ranges
# (about the 1st to 99th percentile of adult men and women for the long bones, wider for
# the trunk and head segments, whose joint placement differs between datasets).
HUMAN_BONE_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType({
    "r_hip": (0.05, 0.18), "l_hip": (0.05, 0.18),
    "r_knee": (0.30, 0.55), "l_knee": (0.30, 0.55),
    "r_ankle": (0.30, 0.55), "l_ankle": (0.30, 0.55),
    "spine": (0.10, 0.35), "thorax": (0.10, 0.35),
    "neck_nose": (0.05, 0.25), "head": (0.05, 0.25),
    "l_shoulder": (0.08, 0.25), "r_shoulder": (0.08, 0.25),
    "l_elbow": (0.20, 0.40), "r_elbow": (0.20, 0.40),
    "l_wrist": (0.18, 0.35), "r_wrist": (0.18, 0.35),
})  # fmt: skip


def _skeleton(skeleton: Skeleton | str) -> Skeleton:
    return get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton


def mirror_groups(skeleton: Skeleton | str = "h36m17") -> list[tuple[int, ...]]:
    """Bones (by child joint) that share a scale: each left bone with its mirror, every
    other bone alone. The root (no bone) is left out."""
    sk = _skeleton(skeleton)
    perm = sk.flip_permutation
    groups, seen = [], set()
    for p, c in sk.bones:
        if c in seen:
            continue
        mirror = perm[c]
        pair = (c,) if mirror == c or sk.parents[mirror] != perm[p] else tuple(sorted((c, mirror)))
        seen.update(pair)
        groups.append(pair)
    return groups


def bone_lengths(joints: np.ndarray, skeleton: Skeleton | str = "h36m17") -> np.ndarray:
    """``(..., J, 3)`` joints (m) -> ``(..., J)`` length of each joint's bone to its parent
    (0 for the root)."""
    sk = _skeleton(skeleton)
    parents = np.array([max(p, 0) for p in sk.parents])
    return np.linalg.norm(joints - joints[..., parents, :], axis=-1)


def scale_bones(
    joints: np.ndarray, scales: np.ndarray, skeleton: Skeleton | str = "h36m17"
) -> np.ndarray:
    """Scale every bone of ``joints`` ``(..., J, 3)`` (m) by ``scales`` ``(..., J)`` or
    ``(J,)`` (factor of the bone ending at each joint; the root's entry is ignored), along
    the kinematic chain. Returns ``(..., J, 3)``: the root unchanged, each bone
    ``scales[j]`` times as long in the same direction."""
    sk = _skeleton(skeleton)
    joints = np.asarray(joints)
    sk.check_joints(joints, "scale_bones joints")
    scales = np.asarray(scales, dtype=joints.dtype)
    if scales.shape[-1:] != (sk.num_joints,):
        raise ValueError(
            f"scale_bones: expected scales of shape (..., {sk.num_joints}), got {scales.shape}"
        )
    # Joint-major copies make each step of the chain walk one contiguous array operation.
    Xt = np.moveaxis(joints, -2, 0)
    st = np.broadcast_to(
        np.moveaxis(scales, -1, 0)[..., None], Xt.shape[:1] + scales.shape[:-1] + (1,)
    )
    out = np.empty(Xt.shape, dtype=np.result_type(joints.dtype, scales.dtype))
    for j in _topological(sk.parents):
        p = sk.parents[j]
        if p < 0:
            out[j] = Xt[j]
            continue
        np.subtract(Xt[j], Xt[p], out=out[j])
        out[j] *= st[j]
        out[j] += out[p]
    return np.ascontiguousarray(np.moveaxis(out, 0, -2))


@lru_cache(maxsize=16)
def _topological(parents: tuple[int, ...]) -> tuple[int, ...]:
    """Joint indices ordered so that every parent comes before its children."""
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < len(parents):
        for j, p in enumerate(parents):
            if j not in placed and (p < 0 or p in placed):
                order.append(j)
                placed.add(j)
    return tuple(order)


@dataclass(frozen=True)
class BoneScaling:
    """Random body proportions: per-bone scale = global factor x per-bone factor.

    Attributes:
        size_range: range of the global factor (body size; 0.85-1.15 spans roughly
            1.50-2.00 m statures around a 1.75 m skeleton).
        bone_range: range of the per-bone factor (proportions), shared by mirrored bones.
        limits: bone (child joint name) -> (min, max) metres; with reference lengths, each
            sampled scale is clipped so the bone stays in its range. Default
            `HUMAN_BONE_RANGES`.
        skeleton: the layout (default h36m17).
    """

    size_range: tuple[float, float] = (0.85, 1.15)
    bone_range: tuple[float, float] = (0.9, 1.1)
    limits: Mapping[str, tuple[float, float]] | None = field(
        default_factory=lambda: HUMAN_BONE_RANGES
    )
    skeleton: str = "h36m17"

    def __post_init__(self) -> None:
        for name in ("size_range", "bone_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"BoneScaling.{name}: expected 0 < min <= max, got {(lo, hi)}")

    def sample(
        self, rng: np.random.Generator, n: int | None = None, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Scales ``(J,)`` (or ``(n, J)``), 1 at the root.

        Args:
            rng: random source.
            n: number of samples (None: one, without the leading axis).
            lengths: ``(J,)`` reference bone lengths (m) of the skeleton being scaled (e.g.
                the median over a sequence, `bone_lengths`); scales are then clipped so the
                new lengths stay within ``limits``.
        """
        sk = get_skeleton(self.skeleton)
        J = sk.num_joints
        m = 1 if n is None else n
        groups = mirror_groups(sk)
        size = rng.uniform(*self.size_range, size=(m, 1))
        per_group = rng.uniform(*self.bone_range, size=(m, len(groups)))
        scales = np.ones((m, J))
        for g, members in enumerate(groups):
            scales[:, list(members)] = size * per_group[:, g : g + 1]
        if lengths is not None and self.limits is not None:
            lengths = np.asarray(lengths, dtype=np.float64)
            if lengths.shape != (J,):
                raise ValueError(f"BoneScaling.sample: lengths must be ({J},), got {lengths.shape}")
            for members in groups:
                name = sk.names[members[0]]
                if name not in self.limits:
                    continue
                lo, hi = self.limits[name]
                ref = float(np.mean(lengths[list(members)]))
                if ref > 0:
                    cols = list(members)
                    scales[:, cols] = np.clip(scales[:, cols], lo / ref, hi / ref)
        return scales[0] if n is None else scales
