"""``poseviz predict`` and ``poseviz evaluate`` on the held-out demo clips."""

import csv
import json

import numpy as np
import pytest
import yaml

from poseviz.cli import main
from poseviz.data import load_demo
from poseviz.data.predictions import load_predictions
from poseviz.geometry import world_to_camera
from poseviz.models import create_model
from poseviz.models.pretrained import weights_to_bytes
from tests.training import tiny  # noqa: F401


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "models" / "tiny"
    folder.mkdir(parents=True)
    model = create_model("tiny_lifter", hidden=8)
    (folder / "model.safetensors").write_bytes(
        weights_to_bytes(model, {"poseviz_model": "tiny_lifter"})
    )
    config = {"plugins": ["tests.training.tiny"], "model": {"name": "tiny_lifter", "hidden": 8}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_predict_then_evaluate_against_a_plain_mpjpe(tmp_path, model_dir, capsys):
    out = tmp_path / "preds.npz"
    assert main(["predict", str(model_dir), "demo", "-o", str(out), "--quiet"]) == 0
    preds = load_predictions(out)
    val = [s for s in load_demo(progress=False) if s.subject == "val"]
    assert len(preds) == 4 * len(val) and {p.model_id for p in preds} == {"tiny"}
    assert main(["evaluate", str(model_dir), "demo", "-o", str(tmp_path / "ev"), "--quiet"]) == 0
    report = json.loads((tmp_path / "ev/metrics.json").read_text())
    # independent reference: root-aligned MPJPE over every frame of every view, in mm
    by_name = {s.name: s for s in val}
    errors, per_action = [], {}
    for p in preds:
        seq = by_name[p.sequence_id]
        X = world_to_camera(seq.joints_3d, seq.cameras[p.camera_id])
        target = X - X[:, :1]
        e = np.linalg.norm(p.joints_3d - p.joints_3d[:, :1] - target, axis=-1).mean(-1) * 1000
        errors.append(e)
        per_action.setdefault(seq.action, []).append(e)
    assert report["overall"]["MPJPE"] == pytest.approx(np.concatenate(errors).mean(), rel=1e-5)
    for action, es in per_action.items():
        assert report["groups"]["action"][action]["MPJPE"] == pytest.approx(
            np.concatenate(es).mean(), rel=1e-5
        )
    for key in ("P-MPJPE", "N-MPJPE", "MPJVE", "PCK", "AUC", "PSIM+", "PSIM+ temporal", "BSLE", "LSE",
                "Depth order (spatial)", "Depth order (temporal)"):  # fmt: skip
        assert report["overall"][key] is not None, key
    assert report["model"] == str(model_dir) and report["frames"] == sum(
        p.num_frames for p in preds
    )
    tables = tmp_path / "ev/tables"
    for name in ("action", "per_joint", "severity", "table5_severity", "camera"):
        with open(tables / f"{name}.csv", newline="") as f:
            assert len(list(csv.reader(f))) >= 2, name
    assert "Per occlusion severity" in (tmp_path / "ev/report.md").read_text()
    assert "MPJPE" in capsys.readouterr().out


def test_bad_model_paths_fail_clearly(tmp_path, model_dir, capsys):
    assert main(["evaluate", str(tmp_path), "demo", "--quiet"]) == 2
    assert "not a model folder" in capsys.readouterr().err
    (model_dir / "model.safetensors").write_bytes(b"\x00" * 20)
    assert main(["predict", str(model_dir), "demo", "-o", str(tmp_path / "p.npz"), "--quiet"]) == 2
    assert "not a readable safetensors file" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nope"), "demo", "-o", "x.npz"]) == 2


def test_mean_pose_baseline_against_numpy(tmp_path, model_dir):
    from poseviz.inference import load_model, predict_sequences
    from poseviz.training.evaluate import mean_pose_mpjpe

    val = [s for s in load_demo(progress=False) if s.subject == "val"][:1]
    preds = predict_sequences(load_model(model_dir), val, cameras=["cam0"], progress=False)
    mean = np.random.default_rng(0).normal(scale=0.3, size=(17, 3))
    mean -= mean[0]
    seq = val[0]
    X = world_to_camera(seq.joints_3d, seq.cameras["cam0"])
    want = np.linalg.norm(mean - (X - X[:, :1]), axis=-1).mean() * 1000
    assert mean_pose_mpjpe(mean, preds, val) == pytest.approx(want, rel=1e-6)
