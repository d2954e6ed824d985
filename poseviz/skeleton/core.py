"""The `Skeleton` record: joint names, kinematic tree, left/right pairs and body parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import numpy as np
import torch

__all__ = ["BodyPart", "Skeleton", "flip_pose"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class BodyPart:
    """A chain of joints hanging from an origin joint, e.g. left arm: thorax -> shoulder,
    elbow, wrist. ``joints`` are ordered by hop distance from ``origin`` (1, 2, ...)."""

    origin: int
    joints: tuple[int, ...]


@dataclass(frozen=True)
class Skeleton:
    """An immutable joint layout.

    Attributes:
        name: registry name, e.g. ``"h36m17"``.
        names: ``(J,)`` joint names.
        parents: ``(J,)`` parent index of each joint, -1 for the root.
        left, right: indices of left joints and of their right counterparts, pairwise
            (``left[i]`` mirrors ``right[i]``).
        body_parts: part name -> `BodyPart` (used by PSIM+ and DG-CNN); may be empty.
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    left: tuple[int, ...] = ()
    right: tuple[int, ...] = ()
    body_parts: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        J = len(self.names)
        if len(self.parents) != J:
            raise ValueError(f"Skeleton {self.name!r}: {J} names but {len(self.parents)} parents")
        if len(set(self.names)) != J:
            raise ValueError(f"Skeleton {self.name!r}: joint names are not unique")
        roots = [j for j, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"Skeleton {self.name!r}: expected exactly one root, got {roots}")
        for j, p in enumerate(self.parents):
            if not -1 <= p < J or p == j:
                raise ValueError(f"Skeleton {self.name!r}: joint {j} has invalid parent {p}")
        for j in range(J):  # every chain reaches the root: no cycles
            seen, k = set(), j
            while k != -1:
                if k in seen:
                    raise ValueError(f"Skeleton {self.name!r}: parent cycle through joint {j}")
                seen.add(k)
                k = self.parents[k]
        if len(self.left) != len(self.right) or set(self.left) & set(self.right):
            raise ValueError(f"Skeleton {self.name!r}: left and right must pair up and be disjoint")
        if not isinstance(self.body_parts, MappingProxyType):
            object.__setattr__(self, "body_parts", MappingProxyType(dict(self.body_parts)))
        for part_name, part in self.body_parts.items():
            chain = (part.origin, *part.joints)
            if not all(0 <= j < J for j in chain):
                raise ValueError(
                    f"Skeleton {self.name!r}: body part {part_name!r} has joints out of range"
                )

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def root(self) -> int:
        return self.parents.index(-1)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """``(parent, child)`` pairs, one per non-root joint."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p != -1)

    @property
    def flip_permutation(self) -> tuple[int, ...]:
        """Joint permutation that swaps each left joint with its right counterpart."""
        perm = list(range(self.num_joints))
        for lj, rj in zip(self.left, self.right, strict=True):
            perm[lj], perm[rj] = rj, lj
        return tuple(perm)

    @property
    def symmetric_bones(self) -> tuple[tuple[tuple[int, int], tuple[int, int]], ...]:
        """Pairs of mirrored bones ``((p_l, c_l), (p_r, c_r))`` (used by LSE)."""
        perm = self.flip_permutation
        bones = set(self.bones)
        pairs = []
        for p, c in self.bones:
            if c in self.left:
                mirror = (perm[p], perm[c])
                if mirror in bones:
                    pairs.append(((p, c), mirror))
        return tuple(pairs)

    def hops(self, part: str) -> tuple[tuple[int, int], ...]:
        """Hop vectors of a body part as ``(origin, joint)`` index pairs, ordered by hop
        distance: the k-th hop runs from the part's origin to its k-th joint."""
        bp = self.body_parts[part]
        return tuple((bp.origin, j) for j in bp.joints)

    def index(self, name: str) -> int:
        """Index of a joint by name, with a clear error for unknown names."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(
                f"Skeleton {self.name!r} has no joint {name!r}; joints are {list(self.names)}"
            ) from None

    def check_joints(self, x: np.ndarray | torch.Tensor, what: str = "input") -> None:
        """Raise ``ValueError`` unless ``x`` has shape ``(..., J, C)`` with this J."""
        if x.ndim < 2 or x.shape[-2] != self.num_joints:
            raise ValueError(
                f"{what}: expected shape (..., {self.num_joints}, C) for skeleton {self.name!r}, "
                f"got {tuple(x.shape)}"
            )


def flip_pose(points: ArrayT, skeleton: Skeleton) -> ArrayT:
    """Mirror a pose left/right: negate x and swap left and right joints.

    Args:
        points: ``(..., J, C)`` with x in channel 0: root-relative or camera-frame 3D
            (metres) or normalised 2D screen coordinates (centred on 0). Extra channels
            (y, z, confidence) are kept.
        skeleton: the layout of ``points``.

    Returns:
        Same type and shape. Flipping twice returns the input.
    """
    skeleton.check_joints(points, "flip_pose points")
    perm = list(skeleton.flip_permutation)
    out = points[..., perm, :]
    out = out.clone() if isinstance(out, torch.Tensor) else out.copy()
    out[..., 0] = -out[..., 0]
    return out
