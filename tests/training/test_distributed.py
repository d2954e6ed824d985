"""``poseviz train`` under ``torchrun --nproc_per_node 2`` (gloo on CPU) matches one process."""

import csv
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO


def _losses(run):
    with open(run / "train.csv", newline="") as f:
        return [(int(r["step"]), float(r["loss"])) for r in csv.DictReader(f)]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tiny_lifter", "tiny_energy"])  # DDP wrapper; alternating steps
def test_two_process_torchrun_matches_one_process(tmp_path, make_config, model):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    runs = {}
    for procs in (1, 2):
        raw = make_config(
            trainer={"steps": 12, "log_every": 4, "threads": 1, "out": str(tmp_path / f"p{procs}")},
            data={"source": "tests.training.tiny:make_datasets", "batch_size": 16},
            model={"name": model},
        )
        config = tmp_path / f"p{procs}.yaml"
        config.write_text(yaml.safe_dump(raw))
        launch = [sys.executable, "-m", "poseviz.cli"]
        if procs > 1:
            launch = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                      f"--nproc_per_node={procs}", "-m", "poseviz.cli"]  # fmt: skip
        out = subprocess.run(
            [*launch, "train", str(config)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        runs[procs] = tmp_path / f"p{procs}"
    one, two = _losses(runs[1]), _losses(runs[2])
    assert [s for s, _ in one] == [s for s, _ in two] == [4, 8, 12]
    for (_, a), (_, b) in zip(one, two, strict=True):
        assert b == pytest.approx(a, rel=1e-4)  # same samples per step, averaged gradients
    with open(runs[2] / "val.csv", newline="") as f:
        v2 = float(list(csv.DictReader(f))[-1]["mpjpe_mm"])
    with open(runs[1] / "val.csv", newline="") as f:
        v1 = float(list(csv.DictReader(f))[-1]["mpjpe_mm"])
    assert v2 == pytest.approx(v1, rel=1e-4)
    assert (runs[2] / "model.safetensors").is_file()
    assert not list(runs[2].glob("*.tmp"))
