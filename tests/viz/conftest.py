"""Fixtures for the viz tests: a small synthetic motion (no real data needed)."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.structures import PoseSequence
from poseviz.viz.analysis import analyse, with_virtual_cameras
from poseviz.viz.predictors import PerturbedGroundTruth

# h36m17 rest pose, metres, y up, facing +z, feet at y = 0
REST = np.array(
    [
        [0.0, 0.95, 0.0],  # pelvis
        [-0.12, 0.93, 0.0],  # r_hip
        [-0.12, 0.50, 0.02],  # r_knee
        [-0.12, 0.08, 0.0],  # r_ankle
        [0.12, 0.93, 0.0],  # l_hip
        [0.12, 0.50, 0.02],  # l_knee
        [0.12, 0.08, 0.0],  # l_ankle
        [0.0, 1.20, 0.0],  # spine
        [0.0, 1.45, 0.0],  # thorax
        [0.0, 1.55, 0.03],  # neck_nose
        [0.0, 1.68, 0.0],  # head
        [0.18, 1.43, 0.0],  # l_shoulder
        [0.22, 1.15, 0.0],  # l_elbow
        [0.24, 0.90, 0.05],  # l_wrist
        [-0.18, 1.43, 0.0],  # r_shoulder
        [-0.22, 1.15, 0.0],  # r_elbow
        [-0.24, 0.90, 0.05],  # r_wrist
    ]
)


def synthetic_motion(T: int = 60, *, z_up: bool = False, seed: int = 0) -> np.ndarray:
    """``(T, 17, 3)`` world metres: the rest pose walking forward with swinging limbs."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 25.0
    poses = np.repeat(REST[None], T, axis=0).copy()
    swing = 0.25 * np.sin(2 * np.pi * 1.0 * t)
    for j, sign in ((2, 1), (3, 1), (5, -1), (6, -1), (12, -1), (13, -1), (15, 1), (16, 1)):
        reach = 1.0 if j in (3, 6, 13, 16) else 0.5
        poses[:, j, 2] += sign * swing * reach
    poses[:, :, 2] += 0.8 * t[:, None]  # walk forward
    poses += rng.normal(scale=0.002, size=poses.shape)
    if z_up:  # (x, y, z) y-up -> (x, -z, y) z-up, a proper rotation
        poses = np.stack([poses[..., 0], -poses[..., 2], poses[..., 1]], -1)
    return poses


def make_sequence(T: int = 60, *, z_up: bool = False, occluded: bool = True) -> PoseSequence:
    """The synthetic walk with its virtual rig and capsule occlusion labels; ``occluded``:
    cam0's labels are replaced by hand-made ones (right wrist hidden from a third of the way
    in, right elbow from half way) with detector-like confidences."""
    seq = with_virtual_cameras(
        PoseSequence(
            name="synthetic/walk",
            subject="synthetic",
            action="walk",
            fps=25.0,
            skeleton="h36m17",
            joints_3d=synthetic_motion(T, z_up=z_up),
        )
    )
    if occluded:
        occ = np.zeros((T, 17), bool)
        occ[T // 3 :, 16] = True
        occ[T // 2 :, 15] = True
        seq.occluded["cam0"] = occ
        seq.confidence = {"cam0": np.where(occ, 0.3, 0.9)}
    return seq


@pytest.fixture
def sequence() -> PoseSequence:
    return make_sequence()


@pytest.fixture
def analysis(sequence):
    preds = [
        PerturbedGroundTruth("bias", bias_mm=40.0, seed=1)(sequence, "cam0"),
        PerturbedGroundTruth("jitter", jitter_mm=20.0, seed=2)(sequence, "cam0"),
    ]
    return analyse(sequence, "cam0", preds)
