"""SCoTL-pose (seed 002): loss-net energy, margin and pose-net objectives, the alternating
schedule as data, scotl+<model> names, and no extra inference cost."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from poseviz.losses import LossStage, build_loss
from poseviz.models import (
    count_macs,
    create_model,
    create_test_model,
    get_model_spec,
    list_models,
    summarize,
)
from poseviz.models.scotl import EnergyNet, SCoTLPose, TrainingStep, per_sample_mpjpe

SMALL_LIFT = dict(hidden=16, frames=8, dilation=2, branch_layers=2)
SMALL_LBI = dict(
    encoder_stacks=1, encoder_channels=16, encoder_depth=2, image_size=(64, 48), dim=16, heads=2
)
SMALL_LOSS = dict(hidden=16, layers=1, heads=2)


def _batch(B=4, T=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(B, T, 17, 3, generator=g) * 0.2
    return {
        "keypoints_2d": torch.randn(B, T, 17, 2, generator=g),
        "occlusion": (torch.rand(B, T, 17, generator=g) > 0.7).float(),
        "pose_3d": pose - pose[:, :, :1],
    }


def _scotl_dgcnn(**kw):
    return create_model("scotl+dgcnn_lifting_net", pose_net_config=SMALL_LIFT, **SMALL_LOSS, **kw)


def _cost(model, *args, **kwargs):
    """(output, FLOPs, parameters reached by the outputs, modules that ran) of one forward."""
    ran: set[str] = set()
    hooks = [
        m.register_forward_hook(lambda mod, i, o, name=name: ran.add(name))
        for name, m in model.named_modules()
    ]
    model.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False) as counter:
        out = model(*args, **kwargs)
    for h in hooks:
        h.remove()
    tensors = [out.pose_3d] + [
        v for v in out.aux.values() if torch.is_tensor(v) and v.is_floating_point()
    ]
    sum(t.sum() for t in tensors if t.requires_grad).backward()
    n_used = sum(p.numel() for p in model.parameters() if p.grad is not None)
    return out, counter.get_total_flops(), n_used, ran


@pytest.mark.parametrize("inner", ["dgcnn_lifting_net", "lifting_by_image"])
def test_no_extra_inference_cost(inner):
    small = SMALL_LIFT if inner == "dgcnn_lifting_net" else SMALL_LBI
    wrapped = create_model(f"scotl+{inner}", pose_net_config=small, **SMALL_LOSS).eval()
    plain = create_model(inner, **small).eval()
    plain.load_state_dict(wrapped.pose_net.state_dict())
    batch = _batch(B=2, T=8 if inner == "dgcnn_lifting_net" else 1)
    batch["image"] = torch.rand(2, 3, 64, 48)
    inputs = {k: batch[k] for k in plain.inputs}
    out_w, flops_w, used_w, ran = _cost(wrapped, **inputs)
    out_p, flops_p, used_p, _ = _cost(plain, **inputs)
    assert not any(name.startswith("loss_net") for name in ran)
    assert torch.equal(out_w.pose_3d, out_p.pose_3d)
    assert out_w.aux.keys() == out_p.aux.keys()
    assert flops_w == flops_p > 0
    assert used_w == used_p == sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in wrapped.loss_net.parameters()) > 0  # it exists, but idles
    assert wrapped.export_pose_net() is wrapped.pose_net
    assert (wrapped.inputs, wrapped.predicts, wrapped.receptive_field) == (
        plain.inputs,
        plain.predicts,
        plain.receptive_field,
    )


def test_steps_are_data_and_each_step_trains_only_its_part():
    model = _scotl_dgcnn()
    assert model.training_steps() == (
        TrainingStep("loss_net", ("loss_net",), 1),
        TrainingStep("pose_net", ("pose_net",), 1),
    )
    batch = _batch()
    for step in model.training_steps():
        model.zero_grad(set_to_none=True)
        result = model.step_loss(step.name, batch)
        result.total.backward()
        touched = {n.split(".")[0] for n, p in model.named_parameters() if p.grad is not None}
        assert touched == set(step.train), step.name
        assert all(torch.isfinite(v) for v in result.parts.values())


def test_margin_objective_matches_its_formula():
    model = _scotl_dgcnn(margin_scale=2.0, energy_l2=0.01)
    batch = _batch()
    result = model.step_loss("loss_net", batch)
    pred = result.output.pose_3d
    with torch.no_grad():
        e_pred = model.energy(batch["keypoints_2d"], pred)
        e_true = model.energy(batch["keypoints_2d"], batch["pose_3d"])
    delta = torch.stack(
        [
            torch.stack([(pred[b] - batch["pose_3d"][b]).norm(dim=-1).mean()]).squeeze()
            for b in range(pred.shape[0])
        ]
    )
    assert torch.allclose(per_sample_mpjpe(pred, batch["pose_3d"]), delta)
    hinge = torch.clamp(2.0 * delta + e_true - e_pred, min=0).mean()
    want = hinge + 0.01 * (e_pred.pow(2).mean() + e_true.pow(2).mean()) / 2
    assert torch.allclose(result.total, want, atol=1e-6)


def test_pose_net_step_uses_the_stage_loss_and_frozen_energy():
    model = _scotl_dgcnn(energy_weight=0.5)
    batch = _batch()
    criterion = build_loss({"mpjpe": 1.0})
    result = model.step_loss("pose_net", batch, criterion=criterion)
    task = criterion(result.output, batch).total
    energy = model.energy(batch["keypoints_2d"], result.output.pose_3d).mean()
    assert torch.allclose(result.total, task + 0.5 * energy, atol=1e-6)
    # frozen energy: gradient reaches the pose but not the loss-net
    pose = batch["pose_3d"].clone().requires_grad_(True)
    model.energy(batch["keypoints_2d"], pose, frozen=True).sum().backward()
    assert pose.grad is not None and pose.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.loss_net.parameters())


def test_loss_net_learns_to_rank_truth_below_corrupted_poses():
    torch.manual_seed(0)
    net = EnergyNet(hidden=32, layers=1, heads=2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    batch = _batch(B=16, T=1, seed=3)
    x, y = batch["keypoints_2d"], batch["pose_3d"]
    noise = torch.randn(16, 1, 17, 3, generator=torch.Generator().manual_seed(4)) * 0.1
    bad = y + noise
    for _ in range(80):
        opt.zero_grad()
        loss = torch.relu(per_sample_mpjpe(bad, y) + net(x, y) - net(x, bad)).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float((net(x, y) < net(x, bad)).float().mean()) > 0.9


def test_alternating_loop_from_the_docstring_runs():
    model = _scotl_dgcnn()
    stage = LossStage.from_dict(model.training_stages()[0])
    criterion = stage.build()
    optimisers = {
        s.name: torch.optim.SGD(
            [p for n, p in model.named_parameters() if n.split(".")[0] in s.train], lr=1e-2
        )
        for s in model.training_steps()
    }
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for seed in range(2):
        batch = _batch(seed=seed)
        for step in model.training_steps():
            for _ in range(step.repeat):
                optimisers[step.name].zero_grad()
                model.step_loss(step.name, batch, criterion=criterion).total.backward()
                optimisers[step.name].step()
    changed = {
        n.split(".")[0] for n, p in model.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed == {"loss_net", "pose_net"}


def test_centre_frame_models_pair_the_centre_2d_frame():
    net = EnergyNet(hidden=16, layers=1, heads=2).eval()
    x = torch.randn(2, 5, 17, 2)
    y = torch.randn(2, 1, 17, 3)
    assert torch.allclose(net(x, y), net(x[:, 2:3], y))
    with pytest.raises(ValueError, match="expected T = 5 or 1"):
        net(x, torch.randn(2, 3, 17, 3))


def test_names_stages_and_bad_configs():
    assert "scotl+dgcnn_lifting_net" in list_models()
    model = create_model("scotl+lifting_by_image", pose_net_config=SMALL_LBI, **SMALL_LOSS)
    assert isinstance(model, SCoTLPose) and model.inputs == ("keypoints_2d", "image")
    stages = [LossStage.from_dict(s) for s in model.training_stages()]
    assert stages[1].freeze == ("pose_net.encoder", "pose_net.stage1")
    assert stages[1].frozen_parameters(model)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        create_model("scotl+nope")
    with pytest.raises(ValueError, match="SCoTL wraps lifting models"):
        create_model("scotl+dgcnn_feature_net")
    with pytest.raises(ValueError, match=r"steps\[0\].name"):
        _scotl_dgcnn(steps=({"name": "critic"},))
    with pytest.raises(ValueError, match="matches no parameter"):
        _scotl_dgcnn(steps=({"name": "loss_net", "train": ["critic"]},))
    with pytest.raises(ValueError, match="pose_net_config"):
        create_model("scotl+dgcnn_lifting_net", pose_net_config={"hiden": 3})
    with pytest.raises(ValueError, match="unknown step"):
        _scotl_dgcnn().step_loss("critic", _batch())


def test_mac_count_of_the_wrapper_equals_the_pose_net():
    """`count_macs` runs the model functionally on the meta device (shared buffers would be
    rejected there); the wrapper costs exactly what the bare pose-net costs."""
    wrapped = create_test_model("scotl+dgcnn_lifting_net", layers=2)
    assert count_macs(wrapped) == count_macs(wrapped.export_pose_net()) > 0
    small = get_model_spec("scotl+dgcnn_lifting_net").test_overrides
    assert (
        summarize("scotl+dgcnn_lifting_net", **small).macs
        == summarize("dgcnn_lifting_net", **small["pose_net_config"]).macs
    )
