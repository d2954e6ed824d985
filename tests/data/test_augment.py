"""Bone-length augmentation: scaling along the kinematic chain, symmetric random proportions
within human ranges."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.data.augment import (
    HUMAN_BONE_RANGES,
    BoneScaling,
    bone_lengths,
    mirror_groups,
    scale_bones,
)
from poseviz.data.deepmimic import find_pybullet_motions, read_deepmimic
from poseviz.skeleton import get_skeleton

H36M = get_skeleton("h36m17")


def scale_bones_loop(joints: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Reference: per pose, walk the joints in index order (parents come first in h36m17)."""
    out = np.array(joints, dtype=np.float64)
    for t in range(joints.shape[0]):
        for j, p in enumerate(H36M.parents):
            if p >= 0:
                out[t, j] = out[t, p] + scales[j] * (joints[t, j] - joints[t, p])
    return out


@pytest.fixture(scope="module")
def walk():
    return read_deepmimic(find_pybullet_motions()[-1])[0].joints_3d


def test_scale_bones_matches_a_loop_and_keeps_directions(walk, rng):
    scales = rng.uniform(0.7, 1.3, size=17)
    out = scale_bones(walk, scales)
    np.testing.assert_allclose(out, scale_bones_loop(walk, scales), atol=1e-12)
    before, after = bone_lengths(walk), bone_lengths(out)
    np.testing.assert_allclose(after[:, 1:], before[:, 1:] * scales[1:], rtol=1e-10)
    parents = [max(p, 0) for p in H36M.parents]
    d0 = walk[:, 1:] - walk[:, parents][:, 1:]
    d1 = out[:, 1:] - out[:, parents][:, 1:]
    cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    np.testing.assert_array_equal(out[:, 0], walk[:, 0])  # root unchanged
    # per-frame scales broadcast, float32 stays float32
    per_frame = rng.uniform(0.8, 1.2, size=(len(walk), 17))
    np.testing.assert_allclose(
        scale_bones(walk, per_frame)[5], scale_bones_loop(walk[5:6], per_frame[5])[0], atol=1e-12
    )
    assert scale_bones(walk.astype(np.float32), scales.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"scales of shape \(\.\.\., 17\)"):
        scale_bones(walk, scales[:5])


def test_mirror_groups_pair_left_and_right():
    groups = mirror_groups("h36m17")
    assert (1, 4) in groups and (12, 15) in groups and (13, 16) in groups and (11, 14) in groups
    assert (7,) in groups and (10,) in groups
    assert sorted(j for g in groups for j in g) == list(range(1, 17))


def test_bone_scaling_is_symmetric_and_human(walk):
    lengths = np.median(bone_lengths(walk), axis=0)
    sampler = BoneScaling(size_range=(0.7, 1.3), bone_range=(0.8, 1.2))
    scales = sampler.sample(np.random.default_rng(0), 500, lengths=lengths)
    assert scales.shape == (500, 17)
    np.testing.assert_array_equal(scales[:, 0], 1.0)
    for left, right in zip(H36M.left, H36M.right, strict=True):
        np.testing.assert_array_equal(scales[:, left], scales[:, right])
    new = scales * lengths
    for j, name in enumerate(H36M.names[1:], start=1):
        lo, hi = HUMAN_BONE_RANGES[name]
        assert lo - 1e-9 <= new[:, j].min() and new[:, j].max() <= hi + 1e-9, name
    # the scales vary: body size and proportions both change
    assert scales[:, 2].std() > 0.05 and np.corrcoef(scales[:, 2], scales[:, 12])[0, 1] > 0.2
    # applied to a real clip, left == right bone lengths stay equal and are human
    out = scale_bones(walk, scales[7])
    after = bone_lengths(out)
    for left, right in zip(H36M.left, H36M.right, strict=True):
        np.testing.assert_allclose(after[:, left], after[:, right], rtol=1e-9, atol=1e-4)
    # unclipped samples stay in the requested ranges
    raw = BoneScaling(limits=None).sample(np.random.default_rng(1), 1000)
    assert 0.85 * 0.9 - 1e-12 <= raw[:, 1:].min() and raw[:, 1:].max() <= 1.15 * 1.1 + 1e-12
    assert BoneScaling().sample(np.random.default_rng(2)).shape == (17,)
    with pytest.raises(ValueError, match="size_range"):
        BoneScaling(size_range=(1.2, 0.8))
