"""Checks every registered model gets, at its small test config (`register_model`'s
``test_overrides``): output shapes, finite values, a gradient for every parameter, the YAML
round trip of the config, repeatable eval outputs, a tiny overfit, clear errors for malformed
keypoints, and (where CUDA exists) running on the device of its input.

Inputs come from ``model.example_inputs``, which builds every input the model declares
(``keypoints_2d``, ``occlusion``, ``image``), so a newly registered model is tested the day
it is registered.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from poseviz.models import (
    LiftingModel,
    LiftOutput,
    config_from_yaml,
    config_to_yaml,
    create_model,
    create_test_model,
    get_model_spec,
    list_models,
)

MODELS = list_models()
BATCH = 2


def _inputs(model: LiftingModel, seed: int = 0) -> dict[str, torch.Tensor]:
    return model.example_inputs(BATCH, generator=torch.Generator().manual_seed(seed))


def _build(name: str, seed: int = 0) -> LiftingModel:
    torch.manual_seed(seed)
    return create_test_model(name)


def _tensor_aux(out: LiftOutput) -> list[torch.Tensor]:
    return [v for v in out.aux.values() if isinstance(v, torch.Tensor) and v.is_floating_point()]


def test_registry_is_populated_and_every_model_has_a_test_config():
    assert {"martinez_baseline", "videopose3d_t243", "gla_gcn_t243", "repose"} <= set(MODELS)
    for name in MODELS:
        spec = get_model_spec(name)
        assert spec.test_overrides, f"{name}: register it with test_overrides (a small config)"
        assert spec.description


@pytest.mark.parametrize("name", MODELS)
def test_declared_interface(name):
    model = _build(name)
    assert model.predicts in ("sequence", "centre")
    assert set(model.inputs) <= {"keypoints_2d", "occlusion", "image"}
    assert "keypoints_2d" in model.inputs
    assert isinstance(model.receptive_field, int) and model.receptive_field >= 1
    assert model.num_joints == 17


@pytest.mark.parametrize("name", MODELS)
def test_output_shape_finite_and_root_relative(name):
    model = _build(name).eval()
    inputs = _inputs(model)
    T = inputs["keypoints_2d"].shape[1]
    with torch.no_grad():
        out = model(**inputs)
    assert isinstance(out, LiftOutput)
    T_out = T if model.predicts == "sequence" else 1
    assert out.pose_3d.shape == (BATCH, T_out, model.num_joints, 3)
    assert out.pose_3d.dtype == torch.float32
    assert torch.isfinite(out.pose_3d).all()
    root = out.pose_3d[..., 0, :]
    assert torch.equal(root, torch.zeros_like(root)), "LiftOutput.pose_3d must be root-relative"
    for value in _tensor_aux(out):
        assert torch.isfinite(value).all()
        assert value.shape[0] == BATCH


@pytest.mark.parametrize("name", MODELS)
def test_every_parameter_gets_a_gradient(name):
    model = _build(name).train()
    out = model(**_inputs(model))
    loss = out.pose_3d.square().mean() + sum(v.square().mean() for v in _tensor_aux(out))
    loss.backward()
    # parameters a model declares training-only (SCoTL's loss-net) must not be used by forward
    training_only = tuple(f"{p}." for p in getattr(model, "training_only", ()))
    used = [(n, p) for n, p in model.named_parameters() if not n.startswith(training_only)]
    missing = [n for n, p in used if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"{name}: parameters without a gradient: {missing}"
    reached = [
        n for n, p in model.named_parameters() if n.startswith(training_only) and p.grad is not None
    ]
    assert not reached, f"{name}: training-only parameters used by forward: {reached}"


@pytest.mark.parametrize("name", MODELS)
def test_config_yaml_round_trip(name):
    model = _build(name)
    back = config_from_yaml(type(model.config), config_to_yaml(model.config))
    assert back == model.config
    rebuilt = get_model_spec(name).factory(back)
    assert [(n, p.shape) for n, p in rebuilt.named_parameters()] == [
        (n, p.shape) for n, p in model.named_parameters()
    ]
    default = get_model_spec(name).default_config
    assert config_from_yaml(type(default), config_to_yaml(default)) == default


@pytest.mark.parametrize("name", MODELS)
def test_unknown_override_is_rejected(name):
    with pytest.raises(ValueError, match="unknown key"):
        create_model(name, no_such_field=1)


@pytest.mark.parametrize("name", MODELS)
def test_eval_outputs_repeat_exactly(name):
    model = _build(name)
    model.train()
    model(**_inputs(model, seed=1))  # move batch-norm statistics away from their start
    model.eval()
    inputs = _inputs(model)
    with torch.no_grad():
        first, second = model(**inputs), model(**inputs)
    assert torch.equal(first.pose_3d, second.pose_3d)
    for a, b in zip(_tensor_aux(first), _tensor_aux(second), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", MODELS)
def test_tiny_batch_overfits(name):
    """A fixed batch of 2 clips with random root-relative targets, MPJPE loss, Adam: the loss
    falls by >= 90% within 400 steps, and well below the loss of predicting all zeros."""
    model = _build(name).train()
    inputs = model.example_inputs(2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        T_out = model(**inputs).pose_3d.shape[1]
    target = torch.randn(2, T_out, model.num_joints, 3, generator=torch.Generator().manual_seed(4))
    target = 0.3 * (target - target[..., :1, :])
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

    def mpjpe() -> torch.Tensor:
        return (model(**inputs).pose_3d - target).norm(dim=-1).mean()

    start = loss = mpjpe().item()
    goal = min(0.1 * start, 0.25 * target.norm(dim=-1).mean().item())
    for _step in range(400):
        optimiser.zero_grad()
        value = mpjpe()
        value.backward()
        optimiser.step()
        loss = value.item()
        if loss < goal:
            break
    assert loss < goal, f"{name}: MPJPE {start:.4f} -> {loss:.4f} m (goal {goal:.4f})"


@pytest.mark.parametrize("name", MODELS)
def test_malformed_keypoints_raise(name):
    model = _build(name).eval()
    kp = _inputs(model)["keypoints_2d"]
    extra = {k: v for k, v in _inputs(model).items() if k != "keypoints_2d"}
    B, T, J, C = kp.shape
    bad = [kp[0], torch.zeros(B, T, J + 1, C), torch.zeros(B, T, J, 4), torch.zeros(B, T, J - 1, 2)]
    for value in bad:
        with pytest.raises(ValueError, match=rf"expected keypoints_2d of shape \(B, .*{J}"):
            model(value, **extra)
    with pytest.raises(ValueError, match="floating-point"):
        model(kp.to(torch.int64), **extra)


@pytest.mark.parametrize("name", MODELS)
def test_confidence_channel_is_accepted(name):
    """Keypoints with or without a confidence channel both work."""
    model = _build(name).eval()
    inputs = _inputs(model)
    kp = inputs.pop("keypoints_2d")
    with torch.no_grad():
        for C in (2, 3):
            x = torch.cat([kp[..., :2], torch.ones_like(kp[..., :1])], -1)[..., :C]
            assert torch.isfinite(model(x, **inputs).pose_3d).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", MODELS)
def test_runs_on_cuda_like_on_cpu(name):
    model = _build(name).eval()
    inputs = _inputs(model)
    with torch.no_grad():
        cpu = model(**inputs)
        gpu = model.to("cuda")(**{k: v.to("cuda") for k, v in inputs.items()})
    assert gpu.pose_3d.device.type == "cuda"
    torch.testing.assert_close(gpu.pose_3d.cpu(), cpu.pose_3d, atol=1e-4, rtol=1e-3)
    with pytest.raises((ValueError, RuntimeError)):
        model(**inputs)  # CPU input to a CUDA model


def test_test_overrides_keep_config_fields_valid():
    for name in MODELS:
        spec = get_model_spec(name)
        fields = {f.name for f in dataclasses.fields(spec.default_config)}
        assert set(spec.test_overrides) <= fields
