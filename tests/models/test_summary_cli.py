"""Parameter and MAC counting, model summaries, the registry's test-config hooks, and the
``poseviz models`` command."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch

from poseviz.cli import main
from poseviz.models import (
    LiftingModel,
    LiftOutput,
    count_macs,
    count_parameters,
    create_model,
    create_test_model,
    list_models,
    register_model,
    summarize,
)
from poseviz.models import registry as registry_module
from tests.conftest import REPO


def test_count_macs_of_the_fc_baseline_matches_its_linear_layers():
    """Every linear layer costs rows x in x out multiply-accumulates."""
    model = create_model("martinez_baseline", hidden=64)
    B, T, J, h = 2, 5, 17, 64
    expected = B * T * (J * 2 * h + 4 * h * h + h * J * 3)
    inputs = {"keypoints_2d": torch.randn(B, T, J, 2)}
    assert count_macs(model, inputs) == expected


def test_count_macs_leaves_the_model_alone():
    model = create_model("videopose3d_t27", channels=8).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    count_macs(model)
    assert model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_videopose3d_strided_macs_match_its_convolutions():
    """One 27-frame window in the strided form: expand conv on 9 outputs, then per layer a
    width-3 conv and a 1x1 conv on 3 and then 1 output frames, and the shrink conv."""
    C, J = 16, 17
    model = create_model("videopose3d_t27", channels=C)
    expected = 9 * (J * 2 * 3 * C) + 3 * (3 * C * C + C * C) + 1 * (3 * C * C + C * C) + J * 3 * C
    assert count_macs(model) == expected


def test_summarize_reports_the_model():
    s = summarize("videopose3d_t243")
    assert s.parameters == 16_952_371
    assert s.receptive_field == 243 and s.predicts == "centre"
    assert s.input_shapes == {"keypoints_2d": (1, 243, 17, 2)}
    assert s.output_shape == (1, 1, 17, 3)
    assert s.inputs == ("keypoints_2d",)
    assert s.config["filter_widths"] == [3, 3, 3, 3, 3]
    assert s.macs == count_macs(create_model("videopose3d_t243", channels=1024).to("meta"))
    seq = summarize("repose_small", num_frames=27)
    assert seq.input_shapes["keypoints_2d"] == (1, 27, 17, 3) and seq.output_shape[1] == 27


def test_count_parameters_trainable_only():
    model = create_model("martinez_baseline", hidden=8)
    total = count_parameters(model)
    model.head.weight.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == total - model.head.weight.numel()


@dataclass
class _DummyConfig:
    num_joints: int = 17
    image_size: int = 32
    width: int = 4


class _Dummy(LiftingModel):
    inputs: ClassVar[tuple[str, ...]] = ("keypoints_2d", "occlusion", "image")

    def __init__(self, config):
        super().__init__(config)
        self.w = torch.nn.Parameter(torch.ones(config.width))

    def forward(self, keypoints_2d, **inputs):
        self.check_keypoints(keypoints_2d)
        pose = keypoints_2d[..., :1].expand(*keypoints_2d.shape[:3], 3) * self.w.mean()
        return LiftOutput(pose, {})


@pytest.fixture
def dummy_registered():
    register_model("_dummy", config=_DummyConfig(), test_overrides={"width": 2})(_Dummy)
    try:
        yield "_dummy"
    finally:
        del registry_module._REGISTRY["_dummy"]


def test_test_overrides_and_example_inputs_follow_declared_inputs(dummy_registered):
    model = create_test_model(dummy_registered)
    assert model.config.width == 2 and create_model(dummy_registered).config.width == 4
    inputs = model.example_inputs(3, 5)
    assert inputs["keypoints_2d"].shape == (3, 5, 17, 2)
    assert inputs["occlusion"].shape == (3, 5, 17)
    assert set(inputs["occlusion"].unique().tolist()) <= {0.0, 1.0}
    assert inputs["image"].shape == (3, 3, 32, 32)
    assert model(**inputs).pose_3d.shape == (3, 5, 17, 3)


def test_register_model_rejects_unknown_test_overrides():
    with pytest.raises(ValueError, match="unknown fields"):
        register_model("_bad", config=_DummyConfig(), test_overrides={"nope": 1})


def test_keypoints_on_another_device_are_reported():
    model = create_model("martinez_baseline", hidden=8).to("meta")
    with pytest.raises(ValueError, match="model is on meta"):
        model(torch.zeros(1, 1, 17, 2))


def test_cli_parser_does_not_import_torch():
    code = (
        "import sys; from poseviz.cli import build_parser; build_parser(); "
        "assert 'torch' not in sys.modules, 'poseviz --help imports torch'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_cli_models_list(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in list_models():
        assert name in out
    line = next(x for x in out.splitlines() if x.startswith("videopose3d_t243 "))
    assert "16.95M" in line and "243" in line and "centre" in line


def test_cli_models_info(capsys):
    assert main(["models", "info", "repose"]) == 0
    out = capsys.readouterr().out
    assert "16,001,549 (16.00M)" in out
    assert "71.046 G" in out and "keypoints_2d (1, 243, 17, 3)" in out
    assert "receptive field: 243" in out and "predicts:        sequence" in out
    assert (
        main(["models", "info", "videopose3d_t27", "--set", "channels=16", "--frames", "30"]) == 0
    )
    out = capsys.readouterr().out
    assert "channels: 16" in out and "pose_3d (1, 4, 17, 3)" in out
    assert main(["models", "info", "martinez_baseline"]) == 0
    assert "MACs:            4.281 M per forward pass" in capsys.readouterr().out


def test_cli_models_errors(capsys):
    assert main(["models", "info", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["models", "info", "repose", "--set", "dim"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
    assert main(["models", "info", "repose", "--set", "nope=1"]) == 2
    assert "unknown key" in capsys.readouterr().err
    assert main(["models", "info", "videopose3d_t27", "--frames", "5"]) == 2
    assert "T >= 27" in capsys.readouterr().err
