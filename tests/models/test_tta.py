"""Flip test-time augmentation: the formula, a mirror-symmetric input giving a
mirror-symmetric pose, exact equivariance, auxiliary poses, and mirrored extra inputs."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from poseviz.models import LiftingModel, LiftOutput, create_model, flip_equivariance_error, flip_tta
from poseviz.skeleton import flip_pose, get_skeleton

H36M = get_skeleton("h36m17")


def _symmetric_clip(T: int) -> torch.Tensor:
    """(1, T, 17, 2) poses whose mirror image is themselves: centre-line joints at x = 0,
    each left joint at the mirrored position of its right counterpart."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, T, 17, 2, generator=g) - 0.5
    for lj, rj in zip(H36M.left, H36M.right, strict=True):
        x[..., lj, 0] = -x[..., rj, 0]
        x[..., lj, 1] = x[..., rj, 1]
    centre = [j for j in range(17) if j not in H36M.left + H36M.right]
    x[..., centre, 0] = 0.0
    assert torch.equal(flip_pose(x, H36M), x)
    return x


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = create_model("videopose3d_t27", channels=16, filter_widths=(3, 3)).train()
    m(torch.randn(4, 9, 17, 2))  # non-trivial batch-norm statistics
    return m.eval()


def test_flip_tta_is_the_average_of_the_two_passes(model):
    x = torch.randn(2, 9, 17, 2)
    with torch.no_grad():
        got = flip_tta(model, x).pose_3d
        plain = model(x).pose_3d
        mirrored = model(flip_pose(x, H36M)).pose_3d
    ref = torch.empty_like(plain)
    perm = H36M.flip_permutation
    for j in range(17):  # un-mirror joint by joint: swap sides, negate x
        ref[..., j, :] = (
            plain[..., j, :] + mirrored[..., perm[j], :] * torch.tensor([-1, 1, 1])
        ) / 2
    torch.testing.assert_close(got, ref)


def test_symmetric_input_gives_a_symmetric_pose(model):
    """A random network lifts a mirror-symmetric 2D pose to an asymmetric 3D pose; under flip
    TTA the 3D pose is exactly mirror-symmetric."""
    x = _symmetric_clip(9)
    with torch.no_grad():
        plain = model(x).pose_3d
        tta = flip_tta(model, x).pose_3d
    assert (flip_pose(plain, H36M) - plain).abs().max() > 1e-3
    torch.testing.assert_close(flip_pose(tta, H36M), tta, atol=1e-6, rtol=0)


class _Tta(LiftingModel):
    """A model wrapped in flip TTA, to measure its equivariance."""

    predicts = "centre"

    def __init__(self, inner: LiftingModel) -> None:
        super().__init__(inner.config)
        self.inner = inner

    def forward(self, keypoints_2d, **inputs):
        return flip_tta(self.inner, keypoints_2d, **inputs)


def test_flip_tta_is_exactly_equivariant(model):
    x = torch.randn(3, 9, 17, 2)
    with torch.no_grad():
        raw = flip_equivariance_error(model, x)
        wrapped = flip_equivariance_error(_Tta(model), x)
    assert raw.shape == (3,) and (raw > 1e-3).all()
    assert wrapped.abs().max() < 1e-6


def test_auxiliary_pose_sequences_are_averaged_too():
    torch.manual_seed(0)
    model = create_model(
        "gla_gcn_t243_c96_seq", channels=8, filter_widths=(3,), global_blocks=1, temporal_kernel=3
    ).eval()
    x = _symmetric_clip(3)
    with torch.no_grad():
        out = flip_tta(model, x)
    seq = out.aux["sequence_3d"]
    assert seq.shape == (1, 3, 17, 3)
    torch.testing.assert_close(flip_pose(seq, H36M), seq, atol=1e-6, rtol=0)


class _Recorder(LiftingModel):
    """Uses occlusion and image; returns zeros and records what it was given."""

    inputs: ClassVar[tuple[str, ...]] = ("keypoints_2d", "occlusion", "image")

    def __init__(self) -> None:
        super().__init__(None)
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.calls: list[dict] = []

    def forward(self, keypoints_2d, **inputs):
        self.check_keypoints(keypoints_2d)
        self.calls.append({"keypoints_2d": keypoints_2d, **inputs})
        B, T, J, _ = keypoints_2d.shape
        return LiftOutput(keypoints_2d.new_zeros(B, T, J, 3) + self.weight, {"note": "kept"})


def test_extra_inputs_are_mirrored():
    model = _Recorder()
    inputs = model.example_inputs(2, 4, generator=torch.Generator().manual_seed(0))
    out = flip_tta(model, **inputs, flag=True)
    plain, mirrored = model.calls
    perm = list(H36M.flip_permutation)
    assert torch.equal(mirrored["occlusion"], inputs["occlusion"][..., perm])
    assert torch.equal(mirrored["image"], inputs["image"].flip(-1))
    assert torch.equal(mirrored["keypoints_2d"], flip_pose(inputs["keypoints_2d"], H36M))
    assert torch.equal(plain["image"], inputs["image"]) and mirrored["flag"] is True
    assert out.aux == {"note": "kept"}


def test_skeleton_mismatch_is_reported():
    model = _Recorder()
    with pytest.raises(ValueError, match="occlusion"):
        flip_tta(model, torch.zeros(1, 2, 17, 2), occlusion=torch.zeros(1, 2, 5), image=None)
