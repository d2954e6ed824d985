"""Batch sampler (deterministic, resumable, identical for any number of ranks) and flip
augmentation."""

import pytest
import torch

from poseviz.skeleton import flip_pose, get_skeleton
from poseviz.training.data import EpochBatchSampler, build_datasets, flip_batch, flip_mask
from tests.training.tiny import TinyDataset, check_item

SK = get_skeleton("h36m17")


def test_sampler_is_deterministic_resumable_and_rank_independent():
    s = EpochBatchSampler(50, 8, seed=3)
    s.set_epoch(2)
    one = list(s)
    assert len(one) == 6 and all(len(b) == 8 for b in one)
    assert len({i for b in one for i in b}) == 48
    assert list(s) == one  # same epoch, same order
    s.set_epoch(3)
    assert list(s) != one
    s.set_epoch(2, start=4)
    assert list(s) == one[4:] and len(s) == 2
    ranks = [EpochBatchSampler(50, 8, seed=3, rank=r, world_size=2) for r in range(2)]
    for r in ranks:
        r.set_epoch(2)
    for b, (x, y) in enumerate(zip(*[list(r) for r in ranks], strict=True)):
        assert x + y == one[b]  # each rank a contiguous half of the same global batch
    val = [
        EpochBatchSampler(10, 4, shuffle=False, drop_last=False, rank=r, world_size=2)
        for r in range(2)
    ]
    assert list(val[0]) == [[0, 1, 2, 3], [8, 9]] and list(val[1]) == [[4, 5, 6, 7]]
    with pytest.raises(ValueError, match="not divisible by the 3 processes"):
        EpochBatchSampler(50, 8, world_size=3)
    with pytest.raises(ValueError, match="has 5 samples, fewer than data.batch_size 8"):
        EpochBatchSampler(5, 8)


def test_flip_mask_is_a_function_of_seed_and_step():
    a = flip_mask(0, 5, 16)
    assert torch.equal(a, flip_mask(0, 5, 16)) and not torch.equal(a, flip_mask(0, 6, 16))
    halves = [flip_mask(0, 5, 16, rank=r, world_size=2) for r in range(2)]
    assert torch.equal(torch.cat(halves), a)


def test_flip_batch_mirrors_selected_samples():
    g = torch.Generator().manual_seed(0)
    batch = {
        "keypoints_2d": torch.randn(3, 4, 17, 3, generator=g),
        "pose_3d": torch.randn(3, 4, 17, 3, generator=g),
        "occlusion": (torch.rand(3, 4, 17, generator=g) > 0.5).float(),
        "action": ["a", "b", "c"],
    }
    mask = torch.tensor([True, False, True])
    out = flip_batch(batch, mask)
    for key in ("keypoints_2d", "pose_3d"):
        assert torch.equal(out[key][1], batch[key][1])
        assert torch.equal(out[key][0], flip_pose(batch[key][0], SK))
        # the flipped left wrist is the old right wrist, x mirrored; confidence kept
        l_wrist, r_wrist = SK.index("l_wrist"), SK.index("r_wrist")
        assert torch.equal(out[key][2, :, l_wrist, 0], -batch[key][2, :, r_wrist, 0])
        assert torch.equal(out[key][2, :, l_wrist, 1:], batch[key][2, :, r_wrist, 1:])
    assert torch.equal(out["occlusion"][0], batch["occlusion"][0][:, list(SK.flip_permutation)])
    twice = flip_batch(out, mask)
    for key in ("keypoints_2d", "pose_3d", "occlusion"):
        assert torch.equal(twice[key], batch[key])
    assert out["action"] == batch["action"]
    with pytest.raises(ValueError, match=r"batches with \['image'\] cannot be flipped"):
        flip_batch({**batch, "image": torch.zeros(3, 3, 8, 8)}, mask)


def test_tiny_dataset_follows_the_batch_contract_and_sources_fail_clearly():
    ds = TinyDataset(4)
    check_item(ds[0])
    ds.set_epoch(1)
    a = ds[0]["keypoints_2d"]
    ds.set_epoch(2)
    assert not torch.equal(a, ds[0]["keypoints_2d"])  # augmentation differs per epoch
    ds.set_epoch(1)
    assert torch.equal(a, ds[0]["keypoints_2d"])  # ... and is reproducible

    class C:
        source = "nowhere"

    with pytest.raises(ValueError, match="unknown source 'nowhere'"):
        build_datasets(C, model=None, seed=0)
    C.source = "tests.training.tiny:nothing"
    with pytest.raises(ValueError, match="cannot import it"):
        build_datasets(C, model=None, seed=0)
