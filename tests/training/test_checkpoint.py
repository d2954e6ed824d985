"""Pickle-free state files and checkpoints: round trips, corrupt and mismatched files."""

import json
import random

import numpy as np
import pytest
import torch
import yaml

from poseviz.models import create_model
from poseviz.models.pretrained import WeightsError, load_pretrained, load_weights, weights_to_bytes
from poseviz.training.checkpoint import (
    CheckpointError,
    capture_rng,
    read_checkpoint,
    restore_rng,
    write_checkpoint,
)
from poseviz.training.serialize import join_state, split_state


def test_split_join_round_trip():
    state = {
        "state": {0: {"step": torch.tensor(3.0), "m": torch.randn(2, 3)}, 1: {}},
        "param_groups": [{"params": [0, 1], "betas": (0.9, 0.999), "lr": 1e-3, "x": None}],
        "arr": np.arange(4, dtype=np.int64),
        "inf": float("inf"),
        "__odd": 1,
        "nested": [(1, "a"), [True, 2.5]],
    }
    tree, tensors = split_state(state, prefix="o.")
    tree = json.loads(json.dumps(tree))  # survives JSON
    back = join_state(tree, tensors)
    assert set(back["state"]) == {0, 1} and torch.equal(
        back["state"][0]["m"], state["state"][0]["m"]
    )
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["nested"] == [(1, "a"), [True, 2.5]] and back["__odd"] == 1
    np.testing.assert_array_equal(back["arr"], state["arr"])
    assert back["inf"] == float("inf")
    with pytest.raises(ValueError, match=r"state\.f: cannot store a function without pickling"):
        split_state({"f": lambda: 0})
    with pytest.raises(ValueError, match=r"state tensor 'o\.state\.0\.step' is missing"):
        join_state(tree, {})


def test_rng_round_trip():
    state = json.loads(json.dumps(split_state(capture_rng())[0])), split_state(capture_rng())[1]
    a = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    restore_rng(join_state(*state))
    b = (torch.rand(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def _write(tmp_path, model, name="tiny_lifter"):
    config = {"model": {"name": name}, "plugins": ["tests.training.tiny"]}
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3, 17, 2)).pose_3d.sum().backward()
    opt.step()
    return write_checkpoint(
        tmp_path / "checkpoints",
        step=5,
        model=model,
        model_name=name,
        config_yaml=yaml.safe_dump(config),
        state={"optimizers": {"main": opt.state_dict()}, "epoch": 1},
    )


def test_checkpoint_round_trip_and_model_folder(tmp_path):
    model = create_model("tiny_lifter", hidden=8)
    path = _write(tmp_path, model)
    assert (
        path.name == "step-000005"
        and (tmp_path / "checkpoints/latest").read_text().strip() == path.name
    )
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    ckpt = read_checkpoint(tmp_path / "checkpoints")
    assert ckpt.step == 5 and ckpt.model_name == "tiny_lifter" and ckpt.state["epoch"] == 1
    opt = torch.optim.Adam(model.parameters())
    opt.load_state_dict(ckpt.state["optimizers"]["main"])
    twin = create_model("tiny_lifter", hidden=8)
    ckpt.load_model(twin)
    for a, b in zip(model.state_dict().values(), twin.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # the checkpoint folder is a model folder (config.yaml + model.safetensors)
    config = yaml.safe_load((path / "config.yaml").read_text())
    config["model"]["hidden"] = 8
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    loaded = load_pretrained(path)
    assert not loaded.training
    x = torch.randn(1, 2, 17, 2)
    assert torch.equal(loaded(x).pose_3d, model.eval()(x).pose_3d)


def test_corrupt_and_mismatched_checkpoints(tmp_path):
    path = _write(tmp_path, create_model("tiny_lifter", hidden=8))
    weights = path / "model.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    with pytest.raises(
        CheckpointError,
        match=r"model\.safetensors: \d+ bytes, but the checkpoint recorded \d+ \(truncated",
    ):
        read_checkpoint(path)
    weights.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        read_checkpoint(path)
    weights.write_bytes(good)
    ckpt = read_checkpoint(path)
    with pytest.raises(
        CheckpointError, match=r"shape mismatch.*file \(8, 34\) vs model \(32, 34\)"
    ):
        ckpt.load_model(create_model("tiny_lifter"))
    with pytest.raises(
        CheckpointError, match="weights are for model 'tiny_lifter', not 'tiny_energy'"
    ):
        ckpt.model_name = "tiny_energy"
        ckpt.load_model(create_model("tiny_energy", hidden=8))
    (path / "state.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"state\.safetensors: missing"):
        read_checkpoint(path)
    header = json.loads((path / "state.json").read_text())
    (path / "state.json").write_text(json.dumps({**header, "version": 99}))
    with pytest.raises(CheckpointError, match="format version 99"):
        read_checkpoint(path)
    (path / "state.json").write_text("{trunc")
    with pytest.raises(CheckpointError, match="not readable JSON"):
        read_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        read_checkpoint(tmp_path / "nowhere")


def test_weights_files_fail_clearly(tmp_path):
    model = create_model("tiny_lifter", hidden=8)
    f = tmp_path / "w.safetensors"
    f.write_bytes(weights_to_bytes(model, {"poseviz_model": "tiny_lifter"})[:100])
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_weights(model, f)
    f.write_bytes(weights_to_bytes(torch.nn.Linear(2, 2)))
    with pytest.raises(WeightsError, match=r"missing key\(s\).*unexpected key\(s\)"):
        load_weights(model, f)
    with pytest.raises(WeightsError, match="not a model folder"):
        load_pretrained(tmp_path)


def test_shared_tensors_are_stored_once(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    net[1].weight = net[0].weight
    f = tmp_path / "w.safetensors"
    f.write_bytes(weights_to_bytes(net))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    load_weights(twin, f)
    assert torch.equal(twin[1].weight, net[0].weight)
