"""DG-CNN (seed 000 §4): occlusion-aware graph, position-aware aggregation (eq. 9), temporal
encoding (eq. 10), Lifting-Net behaviour and Table 4 flags, Feature-Net, paper-size counts."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from poseviz.geometry import soft_argmax_2d
from poseviz.losses import LossStage, build_loss
from poseviz.models import create_model, list_models, summarize
from poseviz.models.dgcnn import (
    FeatureNet,
    LiftingNet,
    normalized_occlusion,
    occlusion_aware_adjacency,
    occlusion_matrix,
    position_aware_weights,
    temporal_positional_encoding,
)
from poseviz.models.layers.skeleton_graph import hop_distances, skeleton_adjacency
from poseviz.skeleton import get_skeleton

SKEL = get_skeleton("h36m17")
A = skeleton_adjacency(SKEL)
A_HAT = A + torch.eye(17)
SMALL_LIFT = dict(hidden=16, frames=8, dilation=2, branch_layers=2)
SMALL_FEAT = dict(
    stacks=2, channels=16, depth=2, image_size=(64, 64), occlusion_pool=2, occlusion_hidden=(16,)
)


def _neighbours(j: int) -> list[int]:
    return [c for p, c in SKEL.bones if p == j] + [p for p, c in SKEL.bones if c == j]


# ---------------------------------------------------------------- occlusion-aware graph ----


def test_no_occlusion_gives_the_skeleton_adjacency():
    O = occlusion_aware_adjacency(torch.zeros(17), A)
    assert torch.equal(O, A_HAT)
    assert torch.equal(occlusion_matrix(torch.zeros(3, 5, 17), A), torch.zeros(3, 5, 17, 17))


@pytest.mark.parametrize("j", range(17))
def test_one_occluded_joint_lowers_its_self_and_neighbour_weights_only(j):
    c = torch.zeros(17)
    c[j] = 1.0
    O = occlusion_aware_adjacency(c, A)
    nbrs = _neighbours(j)
    assert O[j, j] < A_HAT[j, j]
    for i in nbrs:
        assert O[i, j] < A_HAT[i, j] and O[j, i] < A_HAT[j, i]
    changed = {(a, b) for a in range(17) for b in range(17) if O[a, b] != A_HAT[a, b]}
    assert changed == {(j, j)} | {(i, j) for i in nbrs} | {(j, i) for i in nbrs}
    assert bool((O >= 0).all())


def test_occlusion_matrix_is_symmetric_and_matches_the_construction_loop():
    g = torch.Generator().manual_seed(0)
    c = torch.rand(4, 17, generator=g)
    C = occlusion_matrix(c, A)
    assert torch.allclose(C, C.transpose(-1, -2))
    deg = {j: len(_neighbours(j)) for j in range(17)}
    bones = {(p, q) for p, q in SKEL.bones} | {(q, p) for p, q in SKEL.bones}
    for b in range(4):
        c_hat = [float(c[b, j]) / (deg[j] + 1) for j in range(17)]
        for u, v in itertools.product(range(17), repeat=2):
            want = c_hat[u] if u == v else (c_hat[u] + c_hat[v] if (u, v) in bones else 0.0)
            assert math.isclose(float(C[b, u, v]), want, abs_tol=1e-6)
    # a joint with fewer neighbours is penalised more (wrist vs thorax, §4.2)
    ones = normalized_occlusion(torch.ones(17), A)
    assert ones[13] > ones[12] > ones[8]


def test_fully_occluded_graph_stays_non_negative():
    assert bool((occlusion_aware_adjacency(torch.ones(17), A) >= 0).all())


def test_occlusion_graph_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"occlusion must be \(\.\.\., 17\)"):
        occlusion_matrix(torch.zeros(16), A)


# ---------------------------------------------------------------- position-aware graph -----


def test_part_weights_are_one_over_one_plus_hop():
    weights, membership = position_aware_weights(SKEL)
    hops = hop_distances(SKEL)
    for p, part in enumerate(SKEL.body_parts.values()):
        members = {part.origin, *part.joints}
        assert set(torch.nonzero(membership[p]).flatten().tolist()) == members
        for u, v in itertools.product(range(17), repeat=2):
            want = 1 / (1 + int(hops[u, v])) if u in members and v in members else 0.0
            assert math.isclose(float(weights[p, u, v]), want, abs_tol=1e-7)


def test_position_aware_aggregation_matches_eq9_loop():
    torch.manual_seed(0)
    net = create_model("dgcnn_lifting_net", graph="position", **SMALL_LIFT)
    assert isinstance(net, LiftingNet)
    layer = net.position_branch[0]
    with torch.no_grad():
        layer.part_weight.copy_(torch.tensor([0.5, 1.5, 2.0, 0.7, 1.1]))
    h = torch.randn(1, 1, 17, 4)
    got = layer.aggregate(h)[0, 0]
    hops = hop_distances(SKEL)
    parts = list(SKEL.body_parts.values())
    for u in range(17):
        messages = []
        for i, part in enumerate(parts):
            members = [part.origin, *part.joints]
            if u not in members:
                continue
            f = [  # eq. 9: f_{v,u} = w_d(v, u) * CONCAT(h_u, h_v)
                torch.cat([h[0, 0, u], h[0, 0, v]]) / (1 + int(hops[v, u])) for v in members
            ]
            messages.append(
                float(layer.part_weight[i].detach()) * torch.stack(f).mean(0)
            )  # m_{S_i,u}
        want = torch.stack(messages).mean(0)  # s_u
        assert torch.allclose(got[u], want, atol=1e-6), u


def test_temporal_positional_encoding_matches_eq10_loop():
    pe = temporal_positional_encoding(5, 12)
    for t, i in itertools.product(range(5), range(12)):
        angle = t / 10000 ** (2 * i / 12)
        want = math.sin(angle) if i % 2 == 0 else math.cos(angle)
        assert math.isclose(float(pe[t, i]), want, abs_tol=1e-6)


# ---------------------------------------------------------------- Lifting-Net --------------


def _lift_inputs(B=2, T=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, T, 17, 2, generator=g), (torch.rand(B, T, 17, generator=g) > 0.7).float()


def test_lifting_net_output_is_root_relative_sequence():
    model = create_model("dgcnn_lifting_net", **SMALL_LIFT)
    assert model.inputs == ("keypoints_2d", "occlusion")
    assert model.receptive_field == (8 - 1) * 2 + 1
    x, occ = _lift_inputs(T=7)  # not a multiple of the dilation
    out = model(x, occ).pose_3d
    assert out.shape == (2, 7, 17, 3)
    assert torch.equal(out[:, :, 0], torch.zeros(2, 7, 3))
    assert torch.isfinite(out).all()


def test_dilation_pairs_frames_of_the_same_phase_only():
    model = create_model("dgcnn_lifting_net", **SMALL_LIFT).eval()
    x, occ = _lift_inputs(B=1, T=8)
    x.requires_grad_(True)
    model(x, occ).pose_3d[0, 2].sum().backward()  # frame 2: even phase
    per_frame = x.grad.abs().sum((0, 2, 3))
    assert bool((per_frame[1::2] == 0).all()) and bool((per_frame[0::2] > 0).all())


def test_occlusion_is_required_and_checked():
    model = create_model("dgcnn_lifting_net", **SMALL_LIFT)
    x, occ = _lift_inputs()
    with pytest.raises(ValueError, match="use_occlusion"):
        model(x)
    with pytest.raises(ValueError, match=r"occlusion of shape \(2, 8, 17\)"):
        model(x, occ[:, :4])
    with pytest.raises(ValueError, match=r"keypoints_2d of shape \(B, T, 17, 2 or 3\)"):
        model(x[..., :1], occ)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        model(x, occ * 2)


def test_confidence_channel_is_ignored_without_occlusion_input():
    model = create_model("dgcnn_lifting_net", use_occlusion=False, **SMALL_LIFT).eval()
    assert model.inputs == ("keypoints_2d",)
    x, _ = _lift_inputs(T=8)
    with_conf = torch.cat([x, torch.rand(2, 8, 17, 1)], -1)
    assert torch.allclose(model(with_conf).pose_3d, model(x).pose_3d)


def test_occlusion_labels_change_the_prediction():
    model = create_model(
        "dgcnn_lifting_net", graph="occlusion", temporal_encoding=False, **SMALL_LIFT
    ).eval()
    x, occ = _lift_inputs()
    flipped = occ.clone()
    flipped[:, :, 13] = 1 - flipped[:, :, 13]
    assert not torch.allclose(model(x, occ).pose_3d, model(x, flipped).pose_3d)


TABLE4 = {
    "SG-CNN (BL)": dict(graph="baseline"),
    "SG-CNN (PA)": dict(graph="position"),
    "SG-CNN (OA)": dict(graph="occlusion"),
    "DG-CNN (OL)": dict(use_occlusion=False),
    "DG-CNN no TP": dict(temporal_encoding=False),
    "DG-CNN no SL": dict(similarity_loss=False),
    "DG-CNN": dict(),
}


@pytest.mark.parametrize("variant", list(TABLE4))
def test_table4_variants_train(variant):
    model = create_model("dgcnn_lifting_net", **SMALL_LIFT, **TABLE4[variant])
    branches = {n.split(".")[0] for n, _ in model.named_parameters()}
    graph = model.config.graph
    assert ("position_branch" in branches) == (graph in ("dual", "position"))
    assert ("occlusion_branch" in branches) == (graph in ("dual", "occlusion"))
    assert ("baseline_branch" in branches) == (graph == "baseline")
    x, occ = _lift_inputs()
    batch = {"keypoints_2d": x, "occlusion": occ, "pose_3d": torch.randn(2, 8, 17, 3) * 0.2}
    batch["pose_3d"] = batch["pose_3d"] - batch["pose_3d"][:, :, :1]
    inputs = {k: batch[k] for k in model.inputs}
    (stage,) = [LossStage.from_dict(s) for s in model.training_stages()]
    assert ("psim_similarity" in stage.weights) == model.config.similarity_loss
    loss = stage.build()(model(**inputs), batch).total
    loss.backward()
    missing = [
        n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
    ]
    assert not missing


def test_lifting_net_paper_size():
    model = create_model("dgcnn_lifting_net")
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 1.5e6) / 1.5e6 < 0.1, n  # §5.5: ~1.5M parameters
    assert model.receptive_field == 79 and model.config.branch_layers * 2 + 1 == 19


# ---------------------------------------------------------------- Feature-Net --------------


def test_feature_net_outputs_and_losses():
    model = create_model("dgcnn_feature_net", **SMALL_FEAT)
    assert isinstance(model, FeatureNet) and "dgcnn_feature_net" in list_models(kind="image_2d")
    assert "dgcnn_feature_net" not in list_models()
    image = torch.rand(2, 3, 64, 64)
    out = model(image=image)
    hm = out.aux["heatmaps"]
    assert hm.shape == (2, 17, 16, 16) and len(out.aux["intermediate_heatmaps"]) == 1
    assert torch.allclose(out.keypoints_2d[:, 0], soft_argmax_2d(hm))
    assert out.occlusion.shape == (2, 1, 17)
    assert torch.allclose(out.occlusion, torch.sigmoid(out.aux["occlusion_logits"]))
    batch = {
        "keypoints_2d_heatmap": torch.rand(2, 17, 2) * 15,
        "occlusion": (torch.rand(2, 1, 17) > 0.5).float(),
    }
    (stage,) = [LossStage.from_dict(s) for s in model.training_stages()]
    assert dict(stage.weights) == {"integral_2d": 0.999, "focal_occlusion": 0.001}
    result = build_loss(stage.weights)(out, batch)
    result.total.backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert not unused


def test_feature_net_checks_the_image():
    model = create_model("dgcnn_feature_net", **SMALL_FEAT)
    with pytest.raises(ValueError, match=r"expected image of shape \(B, 3, 64, 64\)"):
        model(image=torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="divisible by"):
        create_model("dgcnn_feature_net", **{**SMALL_FEAT, "image_size": (60, 64)})


def test_feature_net_paper_size():
    with torch.device("meta"):
        model = create_model("dgcnn_feature_net")
    n = sum(p.numel() for p in model.parameters())
    assert abs(n - 32e6) / 32e6 < 0.05, n  # §5.5: ~32M parameters


@pytest.mark.parametrize("graph", ["dual", "baseline"])
def test_summary_counts_the_paper_config(graph):
    summary = summarize("dgcnn_lifting_net", num_frames=40, graph=graph)
    assert summary.input_shapes == {"keypoints_2d": (1, 40, 17, 2), "occlusion": (1, 40, 17)}
    assert summary.output_shape == (1, 40, 17, 3) and summary.macs > 0


def test_summary_of_the_feature_net():
    feature = summarize("dgcnn_feature_net", **SMALL_FEAT)
    assert feature.input_shapes == {"image": (1, 3, 64, 64)}
    assert feature.output_shape == (1, 1, 17, 2) and feature.macs > 0
