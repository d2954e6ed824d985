"""The training loop on a tiny model and dataset: learning, exact resume, stages,
alternating steps, loss combinations, NaN stop, logs."""

import csv
import json
import os
import signal

import pytest
import torch
import yaml

from poseviz.models import create_model
from poseviz.models.pretrained import load_pretrained, read_weights
from poseviz.training.checkpoint import CheckpointError, read_checkpoint
from poseviz.training.config import apply_overrides, config_from_mapping
from poseviz.training.trainer import Trainer, TrainingDiverged
from tests.training.tiny import TinyDataset


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _fit(raw, *, resume=False, **kw):
    return Trainer(config_from_mapping(raw), **kw).fit(resume=resume)


def test_trains_and_writes_the_run_folder(tmp_path, make_config):
    raw = make_config(optim={"name": "adam", "lr": 3e-3}, trainer={"steps": 48, "log_every": 8})
    result = Trainer(config_from_mapping(raw), overrides=["optim.lr=3e-3"]).fit()
    run = tmp_path / "run"
    assert result.step == 48 and result.epoch == 6 and not result.interrupted
    val = _rows(run / "val.csv")
    assert [int(r["step"]) for r in val] == [8, 16, 24, 32, 40, 48]
    assert float(val[-1]["mpjpe_mm"]) < 0.8 * float(val[0]["mpjpe_mm"])
    train = _rows(run / "train.csv")
    assert list(train[0]) == ["step", "epoch", "stage", "lr", "loss", "mpjpe", "frames_per_s"]
    assert float(train[0]["frames_per_s"]) > 0
    record = json.loads((run / "run.json").read_text())
    assert record["runs"][0]["overrides"] == ["optim.lr=3e-3"]
    assert record["runs"][0]["to_step"] == 48 and record["runs"][0]["stopped"] == "finished"
    assert record["runs"][0]["seconds"] > 0
    assert yaml.safe_load((run / "config.yaml").read_text())["optim"]["lr"] == 3e-3
    # the run folder is a model folder: config.yaml + model.safetensors
    model = load_pretrained(run)
    x = torch.randn(2, 3, 17, 2)
    assert model(x).pose_3d.shape == (2, 3, 17, 3)
    assert result.checkpoint == run / "checkpoints" / "step-000048"


def test_resume_continues_bitwise(tmp_path, make_config):
    extra = dict(
        model={"name": "tiny_lifter", "dropout": 0.2},
        optim={"name": "ranger", "lr": 2e-3},
        schedule={"kind": "plateau", "warmup_epochs": 1, "patience": 0},
    )

    def raw(steps, out):
        return make_config(
            trainer={"steps": steps, "out": str(tmp_path / out), "checkpoint_every": 7}, **extra
        )

    _fit(raw(30, "a"))
    _fit(raw(13, "b"))  # stops mid-epoch (8 steps per epoch), after a dropout/flip/lookahead step
    assert read_checkpoint(tmp_path / "b").step == 13
    _fit(raw(30, "b"), resume=True)
    a, _ = read_weights(tmp_path / "a/model.safetensors")
    b, _ = read_weights(tmp_path / "b/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    sa, sb = read_checkpoint(tmp_path / "a").state, read_checkpoint(tmp_path / "b").state
    assert sa["schedule"] == sb["schedule"]
    for k, v in sa["optimizers"]["main"]["base"]["state"].items():
        assert all(torch.equal(v[n], sb["optimizers"]["main"]["base"]["state"][k][n]) for n in v)
    # logs: no step twice, and the same losses once the windows line up again
    rows_a, rows_b = _rows(tmp_path / "a/train.csv"), _rows(tmp_path / "b/train.csv")
    steps_b = [int(r["step"]) for r in rows_b]
    assert steps_b == sorted(set(steps_b))
    assert [r["loss"] for r in rows_a if int(r["step"]) >= 20] == [
        r["loss"] for r in rows_b if int(r["step"]) >= 20
    ]
    assert json.loads((tmp_path / "b/run.json").read_text())["runs"][1]["from_step"] == 13


def test_resume_refuses_other_config_or_data(tmp_path, make_config):
    _fit(make_config(trainer={"steps": 4}))
    with pytest.raises(ValueError, match="already holds checkpoints.*--resume"):
        _fit(make_config(trainer={"steps": 4}))
    with pytest.raises(CheckpointError, match=r"differs from the checkpoint's in \['optim.lr'\]"):
        _fit(make_config(trainer={"steps": 8}, optim={"name": "adam", "lr": 0.1}), resume=True)
    other = (TinyDataset(128, seed=5), None)
    with pytest.raises(CheckpointError, match="training data differ from the checkpoint's"):
        Trainer(config_from_mapping(make_config(trainer={"steps": 8})), datasets=other).fit(
            resume=True
        )
    with pytest.raises(CheckpointError, match="has no checkpoint to resume"):
        _fit(make_config(trainer={"steps": 8, "out": str(tmp_path / "empty")}), resume=True)


def test_time_limit_stops_like_a_finished_run(tmp_path, make_config):
    raw = make_config(trainer={"steps": 50, "log_every": 2, "time_limit_min": 1e-6})
    result = _fit(raw)
    assert result.time_limited and result.step == 2 and not result.interrupted
    assert (tmp_path / "run/model.safetensors").is_file() and result.val  # validated, saved


def test_nan_loss_stops_naming_the_step(make_config):
    model = create_model("tiny_lifter")
    calls = []

    def poison(module, inputs, output):
        calls.append(1)
        return output * float("nan") if len(calls) == 3 else output

    model.head.register_forward_hook(poison)
    trainer = Trainer(config_from_mapping(make_config()), model=model)
    with pytest.raises(
        TrainingDiverged,
        match=r"the loss became NaN at step 3 \(epoch 0, stage 'main'\): total=nan",
    ):
        trainer.fit()


def test_stages_freeze_and_swap_losses(tmp_path, make_config):
    raw = make_config(
        stages=[
            {"name": "all", "steps": 6, "weights": {"mpjpe": 1.0}},
            {
                "name": "head",
                "steps": 6,
                "weights": {"mpjpe": 1.0, "velocity": 0.5},
                "freeze": ["encoder"],
            },
        ],
        trainer={"steps": None, "checkpoint_every": 6, "keep_checkpoints": 5, "log_every": 3},
        model={"name": "tiny_lifter_bn"},
    )
    result = _fit(raw)
    assert result.step == 12
    after_stage1, _ = read_weights(tmp_path / "run/checkpoints/step-000006/model.safetensors")
    final, _ = read_weights(tmp_path / "run/model.safetensors")
    for k in final:
        same = torch.equal(after_stage1[k], final[k])
        assert same == k.startswith("encoder."), k  # BatchNorm statistics included
    rows = _rows(tmp_path / "run/train.csv")
    assert [r["stage"] for r in rows] == ["all", "all", "head", "head"]
    assert rows[0]["velocity"] == "" and float(rows[-1]["velocity"]) > 0


def test_model_declared_stages_are_the_default(tmp_path, make_config):
    result = _fit(
        make_config(model={"name": "tiny_staged"}, trainer={"steps": None, "log_every": 1})
    )
    assert result.step == 5
    assert [r["stage"] for r in _rows(tmp_path / "run/train.csv")] == ["a", "a", "b", "b", "b"]
    raw = make_config(
        model={"name": "tiny_staged"}, loss={"mpjpe": 1.0}, trainer={"out": str(tmp_path / "o")}
    )
    _fit(raw)  # a config loss replaces the model's stages
    assert {r["stage"] for r in _rows(tmp_path / "o/train.csv")} == {"main"}


def test_depth_losses_on_another_backbone_are_one_line(make_config, tmp_path):
    """RePOSE Table 5: its relational depth losses added to another backbone."""
    raw = make_config(loss={"mpjpe": 1.0}, trainer={"steps": 4, "log_every": 2})
    raw = apply_overrides(raw, ["loss.repose_spatial=20.0"])  # the one line
    _fit(raw)
    rows = _rows(tmp_path / "run/train.csv")
    assert "repose_spatial" in rows[0] and float(rows[-1]["repose_spatial"]) > 0
    total = float(rows[-1]["mpjpe"]) + 20 * float(rows[-1]["repose_spatial"])
    assert float(rows[-1]["loss"]) == pytest.approx(total, rel=1e-4)


def test_alternating_training_steps(tmp_path, make_config):
    """The contract of poseviz.models.scotl: one optimiser per step, run in order."""
    model = create_model("tiny_energy")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    raw = make_config(model={"name": "tiny_energy"}, trainer={"steps": 6, "log_every": 3})
    trainer = Trainer(config_from_mapping(raw), model=model)
    trainer.fit()
    owned = {
        n: {id(p) for g in o.param_groups for p in g["params"]}
        for n, o in trainer.optimizers.items()
    }
    assert owned["critic"] == {id(p) for p in model.critic.parameters()}
    assert owned["pose"] == {id(p) for p in model.pose_net.parameters()}
    for k, v in model.state_dict().items():
        if k != "critic.2.bias":  # cancels in E(pred) - E(truth): no gradient, rightly
            assert not torch.equal(before[k], v), k  # both parameter sets trained
    assert model.critic_calls == 6 * (2 * 2 + 1)  # critic step twice per batch, two energies each
    rows = _rows(tmp_path / "run/train.csv")
    row = rows[-1]
    assert float(row["loss"]) == pytest.approx(float(row["critic"]) + float(row["pose"]), rel=1e-4)
    assert float(row["pose"]) == pytest.approx(
        float(row["pose.task"]) + 0.01 * float(row["pose.energy"]), rel=1e-4
    )
    calls = model.critic_calls
    model.eval()(torch.randn(1, 2, 17, 2))
    assert model.critic_calls == calls  # no loss-net at inference
    # resumable like any other run: both optimisers are in the checkpoint
    state = read_checkpoint(tmp_path / "run").state
    assert set(state["optimizers"]) == {"critic", "pose"}


def test_interrupt_checkpoints_and_resumes(tmp_path, make_config):
    class Interrupting(TinyDataset):
        calls = 0

        def __getitem__(self, i):
            Interrupting.calls += 1
            if Interrupting.calls == 16 * 3 + 5:  # during step 4's batch
                os.kill(os.getpid(), signal.SIGINT)
            return super().__getitem__(i)

    data = (Interrupting(128), None)
    config = config_from_mapping(make_config(trainer={"steps": 10}))
    result = Trainer(config, datasets=data).fit()
    assert result.interrupted and result.step == 4
    assert read_checkpoint(tmp_path / "run").step == 4
    result = Trainer(config, datasets=data).fit(resume=True)
    assert result.step == 10 and not result.interrupted
