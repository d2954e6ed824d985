"""Bone-length checks shared by the reader tests (h36m17, metres)."""

from __future__ import annotations

import numpy as np

from poseviz.skeleton import get_skeleton

H36M17 = get_skeleton("h36m17")

# Plausible adult ranges per h36m17 bone (child joint name -> (min, max) metres).
PLAUSIBLE = {
    "r_hip": (0.05, 0.18), "l_hip": (0.05, 0.18),
    "r_knee": (0.30, 0.55), "l_knee": (0.30, 0.55),
    "r_ankle": (0.30, 0.55), "l_ankle": (0.30, 0.55),
    "spine": (0.10, 0.35), "thorax": (0.10, 0.35),
    "neck_nose": (0.05, 0.25), "head": (0.05, 0.25),
    "l_shoulder": (0.08, 0.25), "r_shoulder": (0.08, 0.25),
    "l_elbow": (0.20, 0.40), "r_elbow": (0.20, 0.40),
    "l_wrist": (0.18, 0.35), "r_wrist": (0.18, 0.35),
}  # fmt: skip


def bone_lengths(joints: np.ndarray) -> dict[str, np.ndarray]:
    """``(T, 17, 3)`` -> child joint name -> ``(T,)`` length of the bone to its parent."""
    return {
        H36M17.names[c]: np.linalg.norm(joints[:, c] - joints[:, p], axis=-1)
        for p, c in H36M17.bones
    }


def implausible_bones(joints: np.ndarray) -> list[str]:
    """Bones whose length leaves `PLAUSIBLE` on any finite frame, with the range seen."""
    bad = []
    for name, length in bone_lengths(joints).items():
        lo, hi = PLAUSIBLE[name]
        finite = length[np.isfinite(length)]
        if finite.size and (finite.min() < lo or finite.max() > hi):
            bad.append(f"{name}: {finite.min():.3f}-{finite.max():.3f} m not in [{lo}, {hi}]")
    return bad
