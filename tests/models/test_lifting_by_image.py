"""Lifting by Image (seed 004): pose-guided layer vs eq. 2, adaptive feature selection,
attention maps, Table 6/7/11 flags, two-stage schedule, 2D-pose-pretrained encoder."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import save_file

from poseviz.losses import LossStage
from poseviz.models import create_model
from poseviz.models.lifting_by_image import (
    LiftingByImage,
    PoseGuidedAttention,
    PoseGuidedLayer,
    TransformerLayer,
    kept_token_count,
    select_tokens,
)

SMALL = dict(
    encoder_stacks=1,
    encoder_channels=16,
    encoder_depth=2,
    image_size=(64, 48),
    dim=16,
    heads=2,
)


def _inputs(B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, 1, 17, 2, generator=g), torch.rand(B, 3, 64, 48, generator=g)


def _eq2_loop(layer: PoseGuidedAttention, tj: torch.Tensor, ti: torch.Tensor):
    """Eq. 2 written out per head, keypoint and image token (batch of one)."""
    ln = torch.nn.functional.layer_norm
    kn = ln(tj, (tj.shape[-1],), layer.norm_keypoints.weight, layer.norm_keypoints.bias)
    im = ln(ti, (ti.shape[-1],), layer.norm_image.weight, layer.norm_image.bias)
    Q, K = layer.q(kn), layer.k(im)
    VI, VJ = layer.v_image(im), layer.v_keypoints(kn)
    N, M, D = tj.shape[0], ti.shape[0], tj.shape[1]
    H = layer.heads
    dh = D // H
    out_j = torch.zeros(N, D)
    out_i = torch.zeros(M, D)
    A_all = torch.zeros(H, N, M)
    for h in range(H):
        sl = slice(h * dh, (h + 1) * dh)
        logits = torch.tensor(
            [[float(Q[n, sl] @ K[m, sl]) / math.sqrt(dh) for m in range(M)] for n in range(N)]
        )
        A = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)  # softmax over image
        A_all[h] = A
        for n in range(N):  # T_J: A . V_I
            out_j[n, sl] = sum(A[n, m] * VI[m, sl] for m in range(M))
        for m in range(M):  # T_I: A^T . V_J (normalised before transposing)
            out_i[m, sl] = sum(A[n, m] * VJ[n, sl] for n in range(N))
    return tj + layer.out_keypoints(out_j), ti + layer.out_image(out_i), A_all


@torch.no_grad()
def test_pose_guided_attention_matches_eq2():
    torch.manual_seed(0)
    layer = PoseGuidedAttention(8, 2, 0.0, "before")
    tj, ti = torch.randn(1, 5, 8), torch.randn(1, 7, 8)
    got_j, got_i, got_a = layer(tj, ti)
    want_j, want_i, want_a = _eq2_loop(layer, tj[0], ti[0])
    assert torch.allclose(got_a[0], want_a, atol=1e-5)
    assert torch.allclose(got_j[0], want_j, atol=1e-5)
    assert torch.allclose(got_i[0], want_i, atol=1e-5)


@torch.no_grad()
def test_normalisation_variants_of_table11():
    torch.manual_seed(0)
    tj, ti = torch.randn(1, 5, 8), torch.randn(1, 7, 8)
    base = PoseGuidedAttention(8, 1, 0.0, "before")
    state = base.state_dict()
    updates = {}
    for norm in ("before", "after", "double"):
        layer = PoseGuidedAttention(8, 1, 0.0, norm)
        layer.load_state_dict(state)
        j, i, a = layer(tj, ti)
        assert torch.allclose(a.sum(-1), torch.ones(1, 1, 5))  # keypoints: softmax over image
        assert torch.allclose(j, base(tj, ti)[0])  # the keypoint update is the same
        updates[norm] = i
    # "before" weights image tokens by the attention they receive; "after"/"double" give
    # every image token weights summing to one over the keypoints, so they differ
    assert not torch.allclose(updates["before"], updates["after"])
    assert not torch.allclose(updates["before"], updates["double"])
    two = PoseGuidedAttention(8, 1, 0.0, "two_cross")
    assert {"q_image.weight", "k_keypoints.weight"} <= set(two.state_dict())
    with pytest.raises(ValueError, match="normalization"):
        PoseGuidedAttention(8, 1, 0.0, "sideways")


def test_kept_token_count_is_exact_ceiling():
    assert kept_token_count(0.3, 10) == 3  # 0.3 * 10 is 3.0000000000000004 in floats
    assert kept_token_count(0.3, 64 * 48) == math.ceil(0.3 * 64 * 48) == 922
    assert kept_token_count(0.01, 192) == 2 and kept_token_count(1.0, 192) == 192
    with pytest.raises(ValueError, match="retention"):
        kept_token_count(0.0, 10)


def test_selection_keeps_exactly_the_highest_scoring_tokens():
    g = torch.Generator().manual_seed(1)
    scores = torch.rand(3, 50, generator=g)
    for r in (0.01, 0.3, 0.5, 1.0):
        keep = select_tokens(scores, r)
        k = math.ceil(r * 50 - 1e-9)
        assert keep.shape == (3, k)
        for b in range(3):
            ranked = sorted(range(50), key=lambda m: -float(scores[b, m]))
            assert set(keep[b].tolist()) == set(ranked[:k])


def test_model_outputs_attention_maps_and_kept_mask():
    model = create_model("lifting_by_image", **SMALL)
    assert model.inputs == ("keypoints_2d", "image") and model.predicts == "centre"
    x, image = _inputs()
    with torch.no_grad():
        out = model(x, image=image)
    assert out.pose_3d.shape == (2, 1, 17, 3) and out.aux["coarse_3d"].shape == (2, 1, 17, 3)
    assert torch.equal(out.pose_3d[:, :, 0], torch.zeros(2, 1, 3))
    att = out.aux["attention"]
    assert att.shape == (2, 1, 17, 16, 12)  # token grid = image / 4
    assert torch.allclose(att.sum((-1, -2)), torch.ones(2, 1, 17), atol=1e-5)
    mask = out.aux["kept_tokens"]
    assert mask.shape == (2, 16, 12)
    assert mask.sum((-1, -2)).tolist() == [math.ceil(0.3 * 192)] * 2
    # kept = the tokens with the largest attention summed over keypoints
    scores = att[:, 0].sum(1).flatten(1)
    for b in range(2):
        kept_min = scores[b][mask[b].flatten()].min()
        dropped_max = scores[b][~mask[b].flatten()].max()
        assert kept_min >= dropped_max
    refined = out.aux["attention_refined"]
    assert torch.allclose(refined.sum((-1, -2)), torch.ones(2, 1, 17), atol=1e-5)
    assert (
        float(refined[:, 0].masked_select(~mask.unsqueeze(1).expand(-1, 17, -1, -1)).abs().max())
        == 0
    )


def test_centre_frame_is_lifted():
    model = create_model("lifting_by_image", **SMALL).eval()
    x, image = _inputs(B=1)
    clip = torch.randn(1, 5, 17, 2)
    clip[:, 2] = x[:, 0]
    assert torch.allclose(
        model(clip, image=image).pose_3d, model(x, image=image).pose_3d, atol=1e-6
    )


@pytest.mark.parametrize("pose_guided, kinds", [(0, "TTT"), (1, "TPT"), (2, "PPT")])
def test_table6_pose_guided_layer_count(pose_guided, kinds):
    model = create_model("lifting_by_image", pose_guided_layers=pose_guided, **SMALL)
    got = "".join("P" if isinstance(l, PoseGuidedLayer) else "T" for l in model.stage1.layers)
    assert got == kinds
    assert all(isinstance(l, TransformerLayer) for l in model.stage2.layers)
    with pytest.raises(ValueError, match="pose_guided_layers"):
        create_model("lifting_by_image", pose_guided_layers=3, **SMALL)


def test_table7_retention_changes_kept_tokens():
    x, image = _inputs()
    for r, k in ((0.01, 2), (1.0, 192)):
        out = create_model("lifting_by_image", retention=r, **SMALL)(x, image=image)
        assert out.aux["kept_tokens"].sum((-1, -2)).tolist() == [k, k]


def test_two_stage_schedule_freezes_stage1_and_trains_stage2():
    model = create_model("lifting_by_image", **SMALL)
    stages = [LossStage.from_dict(s) for s in model.training_stages()]
    assert [s.length for s in stages][0] == 20 and not stages[0].freeze
    x, image = _inputs()
    batch = {"keypoints_2d": x, "image": image, "pose_3d": torch.randn(2, 1, 17, 3) * 0.2}

    # stage 1: coarse pose supervision trains encoder + stage1
    model.zero_grad()
    stages[0].build()(model(x, image=image), batch).total.backward()
    grads = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None}
    assert grads == {"encoder", "stage1"}

    # stage 2: encoder and stage1 frozen, refined pose trains stage2 only
    model.zero_grad()
    frozen = {n for n, _ in stages[1].frozen_parameters(model)}
    assert {n.split(".")[0] for n in frozen} == {"encoder", "stage1"}
    for n, p in model.named_parameters():
        p.requires_grad_(n not in frozen)
    stages[1].build()(model(x, image=image), batch).total.backward()
    trained = {
        n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0
    }
    assert trained and {n.split(".")[0] for n in trained} == {"stage2"}
    assert len(trained) == sum(1 for n, _ in model.stage2.named_parameters())


def test_encoder_loads_feature_net_weights(tmp_path):
    feature_net = create_model(
        "dgcnn_feature_net",
        stacks=1,
        channels=16,
        depth=2,
        image_size=(64, 48),
        occlusion_pool=2,
        occlusion_hidden=(8,),
    ).eval()
    path = tmp_path / "feature_net.safetensors"
    save_file(feature_net.state_dict(), str(path))
    model = create_model("lifting_by_image", encoder_checkpoint=str(path), **SMALL).eval()
    image = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        assert torch.allclose(model.encoder(image), feature_net.backbone(image)[0])
    with pytest.raises(ValueError, match="does not fit the encoder"):
        create_model("lifting_by_image", **{**SMALL, "encoder_channels": 8}).load_encoder_weights(
            path
        )
    with pytest.raises(ValueError, match="does not exist"):
        model.load_encoder_weights(tmp_path / "nope.safetensors")


def test_swapped_encoder():
    class Patchify(torch.nn.Module):
        out_channels = 6

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 6, 8, stride=8)

        def forward(self, image):
            return self.conv(image)

    model = LiftingByImage(create_model("lifting_by_image", **SMALL).config, encoder=Patchify())
    x, image = _inputs()
    assert model(x, image=image).aux["attention"].shape == (2, 1, 17, 8, 6)


def test_bad_inputs():
    model = create_model("lifting_by_image", **SMALL)
    x, image = _inputs()
    with pytest.raises(ValueError, match=r"image of shape \(2, 3, 64, 48\)"):
        model(x, image=image[:, :, :32])
    with pytest.raises(ValueError, match="pass image"):
        model(x)
    with pytest.raises(ValueError, match="unknown encoder"):
        create_model("lifting_by_image", **{**SMALL, "encoder": "hrnet_w32"})
