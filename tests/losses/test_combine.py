"""Loss registry, `build_loss` wiring to model outputs and batches, presets, and stages as
data (YAML round trip, stage lookup, freezing)."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn

from poseviz import losses as L
from poseviz.models.registry import LiftOutput


@pytest.fixture
def batch_and_output(rng):
    g = torch.from_numpy(rng.normal(scale=0.3, size=(2, 9, 17, 3)))
    p = g + torch.from_numpy(rng.normal(scale=0.05, size=g.shape))
    logits = torch.from_numpy(rng.normal(size=(2, 9, 17)))
    occ = (torch.from_numpy(rng.random(size=(2, 9, 17))) < 0.3).double()
    output = LiftOutput(pose_3d=p.clone().requires_grad_(), aux={"occlusion_logits": logits})
    batch = {"pose_3d": g, "occlusion": occ}
    return output, batch


def test_registry_lists_every_loss():
    assert set(L.list_losses()) == {
        "focal_occlusion",
        "gla_global",
        "gla_local",
        "integral_2d",
        "limb_joint",
        "mpjpe",
        "mse_pose",
        "psim_similarity",
        "repose_spatial",
        "repose_temporal",
        "velocity",
        "weighted_mpjpe",
    }
    assert isinstance(L.get_loss("mpjpe"), L.MPJPELoss)
    assert L.get_loss("psim_similarity", weights=(1, 0, 0)).weights == (1.0, 0.0, 0.0)
    spec = L.get_loss_spec("focal_occlusion")
    assert (spec.pred, spec.target) == ("output.aux.occlusion_logits", "batch.occlusion")


def test_get_loss_errors():
    with pytest.raises(ValueError, match="unknown loss 'mpjpee'; registered losses"):
        L.get_loss("mpjpee")
    with pytest.raises(ValueError, match=r"loss 'mpjpe': bad options \['alpha'\]"):
        L.get_loss("mpjpe", alpha=1)
    with pytest.raises(ValueError, match="already registered"):
        L.register_loss("mpjpe")(L.MPJPELoss)
    with pytest.raises(ValueError, match="'output.<field>', 'output.aux.<key>' or 'batch.<key>'"):
        L.register_loss("new_loss", pred="pose_3d")


def test_repose_depth_losses_on_any_model_in_one_line(batch_and_output):
    output, batch = batch_and_output
    criterion = L.build_loss({"mpjpe": 1.0, "repose_spatial": 20.0, "repose_temporal": 20.0})
    result = criterion(output, batch)
    expected = L.repose_loss(output.pose_3d, batch["pose_3d"])
    assert result.total.item() == pytest.approx(expected.item(), rel=1e-12)
    assert set(result.parts) == {"mpjpe", "repose_spatial", "repose_temporal"}
    assert result.parts["mpjpe"].item() == pytest.approx(
        L.mpjpe_loss(output.pose_3d, batch["pose_3d"]).item()
    )
    assert not result.parts["mpjpe"].requires_grad
    result.total.backward()
    assert torch.isfinite(output.pose_3d.grad).all()
    # the preset is the same thing
    assert L.build_loss("repose")(output, batch).total.item() == pytest.approx(expected.item())
    assert "1 * mpjpe + 20 * repose_spatial + 20 * repose_temporal" in repr(criterion)


def test_aux_outputs_options_and_relabelled_terms(batch_and_output):
    output, batch = batch_and_output
    output.aux["coarse_3d"] = batch["pose_3d"] + 0.1
    criterion = L.build_loss(
        {
            "focal_occlusion": {"weight": 0.5, "gamma": 0.0},
            "weighted_mpjpe": {"weight": 2.0, "joint_weights": [1.0] * 16 + [3.0]},
            "coarse": {"loss": "mse_pose", "weight": 0.3, "pred": "output.aux.coarse_3d"},
        }
    )
    result = criterion(output, batch)
    focal = L.focal_occlusion_loss(output.aux["occlusion_logits"], batch["occlusion"], gamma=0)
    wm = L.weighted_mpjpe_loss(output.pose_3d, batch["pose_3d"], [1.0] * 16 + [3.0])
    coarse = L.mse_pose_loss(output.aux["coarse_3d"], batch["pose_3d"])
    assert result.total.item() == pytest.approx((0.5 * focal + 2 * wm + 0.3 * coarse).item())
    assert result.parts["coarse"].item() == pytest.approx(coarse.item())
    # plain dicts work as outputs too
    as_dict = {"pose_3d": output.pose_3d, "aux": output.aux}
    assert criterion(as_dict, batch).total.item() == pytest.approx(result.total.item())
    # the spec round-trips through YAML
    again = L.build_loss(yaml.safe_load(yaml.safe_dump(criterion.to_dict())))
    assert again.to_dict() == criterion.to_dict()
    assert again(output, batch).total.item() == pytest.approx(result.total.item())


def test_missing_inputs_say_what_is_needed(batch_and_output):
    output, batch = batch_and_output
    with pytest.raises(ValueError, match="auxiliary output 'sequence_3d'.*aux keys"):
        L.build_loss("gla_gcn_stage1")(output, batch)
    output.aux["sequence_3d"] = output.pose_3d
    with pytest.raises(ValueError, match=r"needs batch\['pose_3d_sequence'\]; the batch has"):
        L.build_loss("gla_gcn_stage1")(output, batch)
    bad = dict(batch, pose_3d=batch["pose_3d"][:, :, :16])
    with pytest.raises(ValueError, match=r"loss term 'mpjpe' \(output.pose_3d vs batch.pose_3d\)"):
        L.build_loss({"mpjpe": 1.0})(output, bad)
    nan = batch["pose_3d"].clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="target contains NaN"):
        L.build_loss({"mpjpe": 1.0})(output, dict(batch, pose_3d=nan))


@pytest.mark.parametrize(
    "spec, match",
    [
        ({}, "non-empty mapping"),
        ("nope", "unknown preset 'nope'"),
        ({"mpjpe": -1.0}, "weight must be finite and >= 0"),
        ({"mpjpe": "1"}, "weight must be a number"),
        ({"mpjpe": {"gamma": 1}}, "missing 'weight'"),
        ({"x": {"loss": "nope", "weight": 1}}, "unknown loss 'nope'"),
        ({"mpjpe": {"weight": 1, "pred": "output.aux"}}, "'output.aux.<key>'"),
        ({"focal_occlusion": {"weight": 1, "gama": 2}}, r"bad options \['gama'\]"),
    ],
)
def test_build_loss_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        L.build_loss(spec)


def test_presets_carry_the_papers_weights():
    assert L.build_loss("dgcnn_feature_net").weights == {
        "integral_2d": 0.999,
        "focal_occlusion": 0.001,
    }
    assert L.build_loss("dgcnn_lifting_net").weights == {"limb_joint": 0.1, "psim_similarity": 0.9}
    assert L.build_loss("repose").weights == {
        "mpjpe": 1.0,
        "repose_spatial": 20.0,
        "repose_temporal": 20.0,
    }
    for name in L.PRESETS:
        L.build_loss(name)


def test_dgcnn_lifting_preset_equals_eq12(batch_and_output):
    output, batch = batch_and_output
    got = L.build_loss("dgcnn_lifting_net")(output, batch).total
    assert got.item() == pytest.approx(L.lifting_net_loss(output.pose_3d, batch["pose_3d"]).item())


def test_gla_gcn_stages(rng):
    stage1, stage2 = L.gla_gcn_stages(50, 30)
    assert stage1.weights == {"gla_global": 1.0, "gla_local": 1.0}
    assert stage2.weights == {"gla_local": 1.0}
    assert [L.stage_at((stage1, stage2), epoch=e)[0] for e in (0, 49, 50, 79)] == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="past the end of the schedule"):
        L.stage_at((stage1, stage2), epoch=80)
    with pytest.raises(ValueError, match="asked by step but the stages count"):
        L.stage_at((stage1, stage2), step=3)
    # a centre-frame GLA-GCN: the intermediate sequence in aux, the centre pose in pose_3d
    seq = torch.from_numpy(rng.normal(scale=0.3, size=(2, 27, 17, 3)))
    out_seq = seq + 0.05
    output = LiftOutput(pose_3d=out_seq[:, 13:14], aux={"sequence_3d": out_seq})
    batch = {"pose_3d": seq[:, 13:14], "pose_3d_sequence": seq}
    r1, r2 = stage1.build()(output, batch), stage2.build()(output, batch)
    local = L.local_pose_loss(out_seq[:, 13:14], seq[:, 13:14])
    assert r1.total.item() == pytest.approx((L.global_sequence_loss(out_seq, seq) + local).item())
    assert r2.total.item() == pytest.approx(local.item())


def test_stage_yaml_round_trip_and_validation():
    stages = L.lifting_by_image_stages(20, 10)
    assert stages[1].freeze == ("stage1",) and stages[0].freeze == ()
    text = yaml.safe_dump([s.to_dict() for s in stages])
    back = tuple(L.LossStage.from_dict(d) for d in yaml.safe_load(text))
    assert back == stages
    stage = L.LossStage("x", {"velocity": {"weight": 0.5}}, steps=100, freeze="encoder")
    assert stage.weights == {"velocity": 0.5} and stage.freeze == ("encoder",)
    assert (stage.unit, stage.length) == ("steps", 100)
    assert L.stage_at([stage], step=99) == (0, stage)
    for kwargs, match in [
        ({"epochs": 1, "steps": 1}, "exactly one of epochs or steps"),
        ({}, "exactly one of epochs or steps"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
    ]:
        with pytest.raises(ValueError, match=match):
            L.LossStage("x", {"mpjpe": 1.0}, **kwargs)
    with pytest.raises(ValueError, match="unknown loss"):
        L.LossStage("x", {"mpjpee": 1.0}, epochs=1)
    with pytest.raises(ValueError, match=r"unknown keys \['epoch'\]"):
        L.LossStage.from_dict({"name": "x", "weights": {"mpjpe": 1}, "epoch": 3})
    with pytest.raises(ValueError, match=r"missing keys \['weights'\]"):
        L.LossStage.from_dict({"name": "x", "epochs": 3})


def test_frozen_parameters():
    model = nn.Module()
    model.stage1 = nn.Linear(2, 2)
    model.stage2 = nn.Linear(2, 2)
    _, stage2 = L.lifting_by_image_stages(1, 1)
    names = [n for n, _ in stage2.frozen_parameters(model)]
    assert names == ["stage1.weight", "stage1.bias"]
    _, renamed = L.lifting_by_image_stages(1, 1, stage1_modules=("broad",))
    with pytest.raises(ValueError, match=r"'broad' matches no parameter; top-level modules are"):
        renamed.frozen_parameters(model)
