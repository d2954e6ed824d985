"""Training throughput: the trainer against a bare PyTorch loop, and the data pipeline
against the model, for each model family at its paper config and its shipped config.

For every (model, config) it

1. draws ``--steps + --warmup`` batches from the config's data source (timed: the data
   pipeline's frames/s, one process, no DataLoader workers);
2. trains a fresh model on exactly those batches with `poseviz.training.Trainer` (the whole
   machinery: sampler, DataLoader, device moves, loss checks, LR schedule, logging with its
   per-window reduction, progress bar), and, step by step in between, another fresh model
   with a bare loop (``model(**inputs)``, the config's `CombinedLoss`, ``zero_grad /
   backward / [clip] / step``; SCoTL runs its ``step_loss`` steps). The bare step runs inside
   the dataset's ``__getitems__``, so the two loops alternate and see the same load on a
   shared machine; the trainer's time is its ``train.csv`` window time minus the bare steps.

Image models render their crops on first use and cache them: their data rate is shown for
the first (rendering) pass and for the cached passes of later epochs; the summary's
data/model ratio uses the steady (cached) rate.

Steps after the first log window (``--warmup``) are timed; ``--repeats`` runs keep the best
frames/s of each. Printed: frames/s of both loops, trainer overhead (the median over log
windows and repeats of ``1 - bare time / trainer time`` of the same window, which pairs
steps run under the same load; goal <= 5 %), data frames/s and data / model ratio (goal >= 5x). A frame is one input frame of
one clip (batch x clip length).

Paper configs use the registry's default (paper-size) model with the paper's optimiser and
losses but a small batch (``--paper-batch``), so that they run on a CPU at all; shipped
configs are ``models/<name>/config.yaml`` as written (CMU motion paths dropped here: they
change the data, not the speed).

    python3 benchmarks/training.py                        # every family, ~10-20 min on 2 cores
    python3 benchmarks/training.py --models videopose3d --steps 10 --repeats 2
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from poseviz.losses import build_loss  # noqa: E402
from poseviz.models import create_model  # noqa: E402
from poseviz.training.config import config_from_mapping  # noqa: E402
from poseviz.training.data import EpochBatchSampler, build_datasets, collate  # noqa: E402
from poseviz.training.optim import build_optimizer  # noqa: E402
from poseviz.training.trainer import Trainer, _training_steps  # noqa: E402

# Paper configs (model at its registry default size; optimiser and losses of its paper).
PAPER: dict[str, dict[str, Any]] = {
    "videopose3d": {
        "model": {"name": "videopose3d_t243"},
        "loss": {"mpjpe": 1.0},
        "optim": {"name": "adam", "lr": 1e-3},
    },
    "gla_gcn": {
        "model": {"name": "gla_gcn_t243"},
        "loss": {"gla_local": 1.0},
        "optim": {"name": "ranger", "lr": 0.01},
    },
    "repose": {
        "model": {"name": "repose"},
        "loss": "repose",
        "optim": {"name": "adamw", "lr": 5e-4, "weight_decay": 0.01},
    },
    "dgcnn": {
        "model": {"name": "dgcnn_lifting_net"},
        "optim": {"name": "rmsprop", "lr": 1e-3, "alpha": 0.9, "eps": 1e-8, "weight_decay": 1e-4},
    },
    "scotl": {
        "model": {"name": "scotl+dgcnn_lifting_net"},
        "optim": {"name": "adam", "lr": 1e-3},
    },
    "lifting_by_image": {
        "model": {"name": "lifting_by_image"},
        "optim": {"name": "adam", "lr": 1e-3},
    },
}


# Batch of the paper configs here (their papers use 128-1024, far beyond a CPU benchmark).
PAPER_BATCH = {"repose": 2, "lifting_by_image": 2}


def shipped(name: str) -> dict[str, Any]:
    raw = yaml.safe_load((REPO / "models" / name / "config.yaml").read_text())
    raw["data"] = {**raw.get("data", {}), "paths": []}
    return raw


def paper(name: str, batch: int) -> dict[str, Any]:
    batch = min(batch, PAPER_BATCH.get(name, batch))
    raw = copy.deepcopy(PAPER[name])
    raw["name"] = f"{name}-paper"
    flip = name != "lifting_by_image"
    raw["data"] = {
        "source": "demo",
        "batch_size": batch,
        "flip": flip,
        "options": {"views_per_sequence": 4},
    }
    return raw


class Replay(torch.utils.data.Dataset):
    """Hands the trainer the recorded batches in order (whatever indices it asks for) and,
    before handing out batch i, runs the bare loop's step i on it: the two loops alternate
    step by step, so both see the same load on a shared machine."""

    mirrors_itself = True  # the recorded batches are final: no flip by the trainer

    def __init__(self, batches: list[dict[str, Any]], batch_size: int, bare: BareRunner) -> None:
        self.batches, self.batch_size, self.bare = batches, batch_size, bare
        self.bare_seconds: list[float] = []

    def __len__(self) -> int:
        return len(self.batches) * self.batch_size

    def __getitem__(self, i: int) -> dict[str, Any]:  # only used for the data fingerprint
        return {k: v[0] for k, v in self.batches[0].items()}

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        batch = self.batches[len(self.bare_seconds) % len(self.batches)]
        self.bare_seconds.append(self.bare.step(batch))
        return batch


def frames(batch: dict[str, Any]) -> int:
    x = batch["keypoints_2d"]
    return int(x.shape[0] * x.shape[1])


def record_batches(config, model, n: int) -> tuple[list[dict[str, Any]], float, float | None]:
    """``n`` batches from the config's data source, the pipeline's frames/s, and for a
    dataset that caches its items (rendered crops) the frames/s of a second, cached pass."""
    train, _ = build_datasets(config.data, model=model, seed=0)
    sampler = EpochBatchSampler(len(train), config.data.batch_size, seed=0, drop_last=False)
    if hasattr(train, "set_epoch"):
        train.set_epoch(0)
    out, t0 = [], time.perf_counter()
    for idx in sampler:
        getter = getattr(train, "__getitems__", None)
        out.append(collate(getter(idx) if getter else [train[i] for i in idx]))
        if len(out) == n:
            break
    dt = time.perf_counter() - t0
    fps = sum(frames(b) for b in out) / dt
    cached = None
    if hasattr(train, "cache"):
        t0 = time.perf_counter()
        for k, idx in enumerate(sampler):
            if k == len(out):
                break
            collate([train[i] for i in idx])
        cached = sum(frames(b) for b in out) / (time.perf_counter() - t0)
    while len(out) < n:  # a tiny dataset: reuse
        out.append(out[len(out) % max(1, len(out))])
    return out, fps, cached


class BareRunner:
    """A plain PyTorch training step (fresh model, the config's loss and optimiser)."""

    def __init__(self, config) -> None:
        torch.manual_seed(0)
        self.model = create_model(config.model.name, **config.model.overrides)
        self.model.train()
        stages = config.loss_stages()
        spec = stages[0].weights if stages else (config.loss or _model_loss(self.model))
        self.criterion = build_loss(spec)
        self.steps = _training_steps(self.model)
        params = dict(self.model.named_parameters())
        if self.steps:
            self.opts = {
                s.name: build_optimizer(
                    [
                        {
                            "params": [
                                p
                                for n, p in params.items()
                                if any(n.startswith(t) for t in s.train)
                            ]
                        }
                    ],
                    config.optim,
                )
                for s in self.steps
            }
        else:
            self.opt = build_optimizer(self.model.named_parameters(), config.optim)
        self.clip = config.trainer.grad_clip

    def _clip(self, opt) -> None:
        if self.clip:
            torch.nn.utils.clip_grad_norm_(
                [p for g in opt.param_groups for p in g["params"]], self.clip
            )

    def step(self, batch: dict[str, Any]) -> float:
        """One training step; returns its wall-clock seconds."""
        t0 = time.perf_counter()
        if self.steps:
            for s in self.steps:
                for _ in range(s.repeat):
                    opt = self.opts[s.name]
                    opt.zero_grad(set_to_none=True)
                    self.model.step_loss(s.name, batch, criterion=self.criterion).total.backward()
                    self._clip(opt)
                    opt.step()
        else:
            out = self.model(**{k: batch[k] for k in self.model.inputs})
            loss = self.criterion(out, batch).total
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self._clip(self.opt)
            self.opt.step()
        return time.perf_counter() - t0


def _model_loss(model) -> Any:
    declared = getattr(model, "training_stages", None)
    return declared()[0]["weights"] if declared else "mpjpe"


def interleaved(
    raw: dict[str, Any], batches: list[dict[str, Any]], warmup: int
) -> tuple[float, float, float]:
    """``(bare, trainer)`` frames/s over the steps after the first log window: `Trainer` on
    the recorded batches, with the bare loop's steps run in between (see `Replay`); and the
    median over log windows of the paired overhead ``1 - bare time / trainer time``."""
    steps = len(batches)
    with tempfile.TemporaryDirectory() as tmp:
        raw = copy.deepcopy(raw)
        raw["trainer"] = {
            **raw.get("trainer", {}),
            "steps": steps,
            "epochs": None,
            "out": tmp,
            "log_every": warmup,
            "checkpoint_every": 10**9,
            "tensorboard": False,
            "progress": True,
            "seed": 0,
            "time_limit_min": None,
        }
        config = config_from_mapping(raw)
        batch_size = int(batches[0]["keypoints_2d"].shape[0])
        config.data.batch_size = batch_size
        replay = Replay(batches, batch_size, BareRunner(config))
        Trainer(config, datasets=(replay, None)).fit()
        with open(Path(tmp) / "train.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    timed = sum(frames(b) for b in batches[warmup:])
    windows = []  # (bare seconds, trainer seconds) of each log window after the first
    for k, r in enumerate(rows[1:], start=1):
        chunk = slice(warmup * k, warmup * (k + 1))
        wall = sum(frames(b) for b in batches[chunk]) / float(r["frames_per_s"])
        bare = sum(replay.bare_seconds[chunk])
        windows.append((bare, wall - bare))
    bare_total = sum(b for b, _ in windows)
    trainer_total = sum(t for _, t in windows)
    paired = float(np.median([1 - b / t for b, t in windows]))
    return timed / bare_total, timed / trainer_total, paired


def fixed_cost(steps: int = 300) -> tuple[float, float]:
    """Milliseconds per step of the trainer and of the bare loop on a model that costs
    almost nothing (martinez_baseline with 8 hidden units, batch 4 of one frame): the
    trainer's own per-step cost, measured where load noise is small in absolute terms."""
    raw = {
        "name": "fixed-cost",
        "model": {"name": "martinez_baseline", "hidden": 8, "dropout": 0.0},
        "data": {"source": "demo", "batch_size": 4, "flip": True, "options": {"length": 1}},
        "loss": {"mpjpe": 1.0},
        "optim": {"name": "adam", "lr": 1e-3},
    }
    config = config_from_mapping(copy.deepcopy(raw))
    model = create_model(config.model.name, **config.model.overrides)
    batches, _, _ = record_batches(config, model, steps)
    warmup = steps // 10
    bare, trainer, _ = interleaved(raw, batches, warmup)
    f = frames(batches[0])
    return 1000 * f / trainer, 1000 * f / bare


def measure(label: str, raw: dict[str, Any], args, *, steps: int) -> dict[str, Any]:
    config = config_from_mapping(copy.deepcopy(raw))
    model = create_model(config.model.name, **config.model.overrides)
    batches, data_fps, cached_fps = record_batches(config, model, steps + args.warmup)
    bare, trainer, paired = 0.0, 0.0, []
    for _ in range(args.repeats):
        b, t, o = interleaved(raw, batches, args.warmup)
        bare, trainer = max(bare, b), max(trainer, t)
        paired.append(o)
    row = {
        "config": label,
        "batch": config.data.batch_size,
        "clip": int(batches[0]["keypoints_2d"].shape[1]),
        "bare_fps": bare,
        "trainer_fps": trainer,
        "overhead": float(np.median(paired)),
        "data_fps": data_fps,
        "data_ratio": (cached_fps or data_fps) / bare,
    }
    cached = (
        f" (first pass; cached {cached_fps:.0f} frames/s = {cached_fps / bare:.1f}x)"
        if cached_fps
        else ""
    )
    print(
        f"{label:28s} B={row['batch']:4d} T={row['clip']:3d}  bare {bare:9.0f}  trainer "
        f"{trainer:9.0f} frames/s  overhead {100 * row['overhead']:5.1f} %  data "
        f"{data_fps:9.0f} frames/s = {data_fps / bare:6.1f}x the model{cached}",
        flush=True,
    )
    return row


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="*", default=list(PAPER), choices=list(PAPER))
    p.add_argument("--which", nargs="*", default=["paper", "shipped"], choices=["paper", "shipped"])
    p.add_argument("--steps", type=int, default=20, help="timed steps per loop")
    p.add_argument("--warmup", type=int, default=5, help="untimed first steps (one log window)")
    p.add_argument("--repeats", type=int, default=2, help="alternations of the two loops")
    p.add_argument("--paper-batch", type=int, default=8, help="batch size of the paper configs")
    p.add_argument("--paper-steps", type=int, default=10, help="timed steps of the paper configs")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.steps % args.warmup or args.paper_steps % args.warmup:
        p.error(
            "--steps and --paper-steps must be multiples of --warmup (the trainer logs every --warmup steps)"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; frames = batch x clip")
    t_ms, b_ms = fixed_cost()
    print(
        f"fixed cost per step on a near-free model: trainer {t_ms:.2f} ms, bare loop {b_ms:.2f} ms "
        f"(the trainer adds {t_ms - b_ms:.2f} ms per step)"
    )
    rows = []
    for name in args.models:
        if "paper" in args.which:
            rows.append(
                measure(
                    f"{name} (paper)", paper(name, args.paper_batch), args, steps=args.paper_steps
                )
            )
        if "shipped" in args.which:
            rows.append(measure(f"{name} (shipped)", shipped(name), args, steps=args.steps))
    worst = max(r["overhead"] for r in rows)
    least = min(r["data_ratio"] for r in rows)
    print(f"worst trainer overhead {100 * worst:.1f} % (goal <= 5 %); "
          f"lowest data/model ratio {least:.1f}x (goal >= 5x)")  # fmt: skip


if __name__ == "__main__":
    main()
