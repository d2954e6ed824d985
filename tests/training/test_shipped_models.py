"""The checkpoints shipped in ``models/``: each loads through the registry, reproduces the
MPJPE its ``metrics.json`` reports on the held-out demo clips (recomputed here with a plain
numpy loop, not the metric classes), and beats predicting the mean training pose by the
issue's 50 %. Slow: every model lifts all twelve held-out views (~1 min in all)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from poseviz.inference.data import load_sequences
from poseviz.inference.predict import load_model, predict_sequences
from poseviz.models import create_model
from poseviz.training.evaluate import target_of

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.parent for p in (REPO / "models").glob("*/model.safetensors"))
FAMILIES = {"videopose3d", "gla_gcn", "repose", "dgcnn", "scotl", "lifting_by_image"}

# Shipped checkpoints that miss the 50 % target within their 20-minute CPU budget (their
# cards and models/README.md say by how much); strict: the mark must go when one passes.
BELOW_TARGET: set[str] = set()  # repose passed at stop 16 (174.6 mm vs 349.3 mm: 50.008 %)


def test_one_checkpoint_per_family_within_50_mb():
    assert {p.name for p in SHIPPED} == FAMILIES
    total = sum(f.stat().st_size for p in SHIPPED for f in p.rglob("*") if f.is_file())
    assert total <= 50 * 2**20, f"models/ holds {total / 2**20:.1f} MiB"


@pytest.fixture(scope="module")
def held_out():
    return load_sequences("demo", progress=False)


def _plain_mpjpe_mm(predictions, sequences) -> float:
    """Mean over every predicted frame and joint of the distance to the root-relative
    camera-frame ground truth, in mm."""
    by_name = {s.name: s for s in sequences}
    total, count = 0.0, 0
    for p in predictions:
        target = target_of(by_name[p.sequence_id], p.camera_id, np.asarray(p.frame_indices))
        for t in range(target.shape[0]):
            for j in range(target.shape[1]):
                total += float(np.sqrt(((p.joints_3d[t, j] - target[t, j]) ** 2).sum()))
                count += 1
    return 1000.0 * total / count


@pytest.mark.slow
@pytest.mark.parametrize(
    "folder",
    [
        pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True)])
        if p.name in BELOW_TARGET
        else pytest.param(p, id=p.name)
        for p in SHIPPED
    ],
)
def test_shipped_model_reproduces_its_metrics_and_beats_the_mean_pose(folder, held_out):
    import yaml

    config = yaml.safe_load((folder / "config.yaml").read_text())
    model = load_model(folder, device="cpu")
    assert type(model) is type(create_model(**config["model"]))  # the registry's class
    metrics = json.loads((folder / "metrics.json").read_text())
    predictions = predict_sequences(model, held_out, model_id=folder.name, progress=False)
    mpjpe = _plain_mpjpe_mm(predictions, held_out)
    assert mpjpe == pytest.approx(metrics["overall"]["MPJPE"], abs=0.5)
    baseline = metrics["baseline"]["mean_training_pose_MPJPE"]
    assert mpjpe <= 0.5 * baseline, f"{folder.name}: {mpjpe:.1f} mm vs mean pose {baseline:.1f} mm"
