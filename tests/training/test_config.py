"""Config tree <-> YAML, clear errors, --set overrides."""

import pytest
import yaml

from poseviz.training.config import (
    TrainConfig,
    apply_overrides,
    config_from_mapping,
    config_to_mapping,
    load_config,
    save_config,
)


def test_round_trip_through_yaml(tmp_path, make_config):
    raw = make_config(
        model={"name": "tiny_lifter", "hidden": 8},
        loss={"mpjpe": 1.0, "repose_spatial": 20.0},
        optim={"name": "rmsprop", "lr": "1e-3", "alpha": 0.9, "weight_decay": 1e-4},
        schedule={"kind": "plateau", "warmup_epochs": 5},
        stages=[{"name": "a", "epochs": 2, "weights": {"mpjpe": 1.0}}],
    )
    config = config_from_mapping(raw)
    assert isinstance(config, TrainConfig)
    assert config.optim.lr == 1e-3 and isinstance(config.optim.lr, float)  # YAML 1.1 string
    assert config.model.overrides == {"hidden": 8}
    path = save_config(config, tmp_path / "c.yaml")
    again = load_config(path)
    assert config_to_mapping(again) == config_to_mapping(config)
    assert yaml.safe_load(path.read_text())["model"] == {"name": "tiny_lifter", "hidden": 8}


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("optim", {"lrr": 0.1}, r"config\.optim\.lrr: unknown key; did you mean 'lr'\?"),
        ("optim", {"lr": "fast"}, r"config\.optim\.lr: expected a number, got str"),
        ("optim", {"name": "adagrad"}, r"config\.optim\.name: expected one of \['adam'"),
        ("trainer", {"steps": 2.5}, r"config\.trainer\.steps: expected .*integer"),
        ("trainer", {"progress": "yes"}, r"config\.trainer\.progress: expected true or false"),
        ("data", {"paths": "a.bvh"}, r"config\.data\.paths: expected a list"),
        ("trainer", {"steps": 3, "epochs": 2}, r"at most one of epochs and steps"),
        (
            "model",
            {"name": "tiny_lifter", "hiden": 3},
            r"config\.model\.hiden: unknown option of model 'tiny_lifter'; did you mean 'hidden'",
        ),
        (
            "model",
            {"name": "tiny_lifter", "hidden": "big"},
            r"config\.model\.hidden: expected an integer",
        ),
        ("model", {"name": "no_such_model"}, r"unknown model 'no_such_model'"),
        ("loss", {"mpjpee": 1.0}, r"config\.loss: unknown loss 'mpjpee'"),
        (
            "stages",
            [{"name": "s", "weights": {"mpjpe": 1}}],
            r"config\.stages\[0\]: .*exactly one of epochs or steps",
        ),
        ("bogus", 1, r"config\.bogus: unknown key"),
    ],
)
def test_bad_configs_fail_clearly(make_config, section, value, message):
    raw = make_config()
    raw[section] = value
    with pytest.raises(ValueError, match=message):
        config_from_mapping(raw)


def test_missing_model_and_bad_plugin(make_config):
    raw = make_config()
    del raw["model"]
    with pytest.raises(ValueError, match="missing required section 'model'"):
        config_from_mapping(raw)
    raw = make_config(plugins=["no.such.module"])
    with pytest.raises(ValueError, match=r"config\.plugins\[0\]: cannot import plugin module"):
        config_from_mapping(raw)


def test_overrides_apply_and_fail_clearly(tmp_path, make_config):
    raw = make_config(stages=[{"name": "a", "epochs": 2, "weights": {"mpjpe": 1.0}}])
    out = apply_overrides(
        raw,
        [
            "optim.lr=5e-4",
            "data.flip=false",
            "stages.0.epochs=7",
            "schedule.kind=step",
            "model.hidden=4",
        ],
    )
    config = config_from_mapping(out)
    assert config.optim.lr == 5e-4 and config.data.flip is False
    assert config.stages[0]["epochs"] == 7 and config.schedule.kind == "step"
    assert config.model.overrides["hidden"] == 4
    assert raw["optim"]["lr"] == 1e-3  # the input is not modified
    both = apply_overrides({**raw, "trainer": {"epochs": 3}}, ["trainer.steps=5"])
    assert both["trainer"] == {"steps": 5}  # steps replaces epochs
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        apply_overrides(raw, ["optim.lr"])
    with pytest.raises(ValueError, match=r"stages: expected an index below 1, got '3'"):
        apply_overrides(raw, ["stages.3.epochs=1"])
    with pytest.raises(ValueError, match=r"optim\.lr is a float, not a section"):
        apply_overrides(raw, ["optim.lr.x=1"])
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match=r"c\.yaml: config\.optim\.lrr: unknown key"):
        load_config(path, ["optim.lrr=1"])
    path.write_text("model: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")
