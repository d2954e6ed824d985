"""``poseviz train CONFIG [--set ...] [--resume]``."""

import json

import yaml

from poseviz.cli import main


def test_train_command(tmp_path, make_config, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump(make_config(trainer={"steps": 6, "out": str(tmp_path / "run")}))
    )
    assert main(["train", str(config), "--set", "trainer.steps=3", "--set", "optim.lr=2e-3"]) == 0
    out = capsys.readouterr().out
    assert "trained tiny_lifter for 3 steps" in out and "val mpjpe_mm" in out
    record = json.loads((tmp_path / "run/run.json").read_text())
    assert record["runs"][0]["overrides"] == ["trainer.steps=3", "optim.lr=2e-3"]
    assert main(["train", str(config), "--set", "optim.lr=2e-3", "--resume"]) == 0
    assert "for 6 steps" in capsys.readouterr().out
    assert json.loads((tmp_path / "run/run.json").read_text())["runs"][1]["from_step"] == 3
    assert main(["train", str(config), "--set", "optim.lrr=1"]) == 2
    assert "config.optim.lrr: unknown key; did you mean 'lr'?" in capsys.readouterr().err
    assert main(["train", str(config), "--resume"]) == 2  # lr differs from the run's
    assert "differs from the checkpoint's in ['optim.lr']" in capsys.readouterr().err
