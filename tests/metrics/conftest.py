"""Pose generators for the metric tests: a rough human template in h36m17 order, randomly
rotated and perturbed, and predictions with realistic (tens of mm) errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

# h36m17 rest pose in metres (x right, y down, z forward; pelvis at the origin).
TEMPLATE = np.array(
    [
        [0.00, 0.00, 0.00],  # pelvis
        [-0.13, 0.00, 0.00],  # r_hip
        [-0.13, 0.44, 0.02],  # r_knee
        [-0.13, 0.88, 0.05],  # r_ankle
        [0.13, 0.00, 0.00],  # l_hip
        [0.13, 0.44, 0.02],  # l_knee
        [0.13, 0.88, 0.05],  # l_ankle
        [0.00, -0.23, 0.01],  # spine
        [0.00, -0.48, 0.00],  # thorax
        [0.00, -0.58, -0.05],  # neck_nose
        [0.00, -0.70, 0.00],  # head
        [0.15, -0.46, 0.00],  # l_shoulder
        [0.18, -0.18, 0.03],  # l_elbow
        [0.20, 0.06, 0.08],  # l_wrist
        [-0.15, -0.46, 0.00],  # r_shoulder
        [-0.18, -0.18, 0.03],  # r_elbow
        [-0.20, 0.06, 0.08],  # r_wrist
    ]
)


def make_poses(rng: np.random.Generator, shape: tuple[int, ...], noise: float = 0.03) -> np.ndarray:
    """``(*shape, 17, 3)`` ground-truth-like poses: template, per-joint jitter, random
    rotation and a camera-like translation."""
    n = int(np.prod(shape)) if shape else 1
    poses = TEMPLATE + rng.normal(scale=noise, size=(n, 17, 3))
    R = Rotation.random(n, random_state=int(rng.integers(1 << 31))).as_matrix()
    poses = np.einsum("nij,nkj->nki", R, poses) + rng.normal(scale=0.5, size=(n, 1, 3))
    return poses.reshape(*shape, 17, 3)


def make_prediction(rng: np.random.Generator, gt: np.ndarray, scale: float = 0.04) -> np.ndarray:
    """``gt`` plus per-joint errors of a few cm, with a few joints far off."""
    pred = gt + rng.normal(scale=scale, size=gt.shape)
    far = rng.random(gt.shape[:-1]) < 0.1
    return pred + far[..., None] * rng.normal(scale=4 * scale, size=gt.shape)


def make_sequence(rng: np.random.Generator, batch: tuple[int, ...], frames: int) -> np.ndarray:
    """``(*batch, frames, 17, 3)`` smooth motion: template swinging plus slow drift."""
    n = int(np.prod(batch)) if batch else 1
    t = np.arange(frames)[None, :, None, None] / 25.0
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 17, 3))
    amp = rng.uniform(0.02, 0.15, size=(n, 1, 17, 3))
    seq = TEMPLATE + amp * np.sin(2 * np.pi * 0.8 * t + phase)
    return seq.reshape(*batch, frames, 17, 3)


@pytest.fixture
def poses(rng):
    gt = make_poses(rng, (3, 7))
    return gt, make_prediction(rng, gt)
