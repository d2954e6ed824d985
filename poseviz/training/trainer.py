"""The training loop: any registered model with any combination of losses, from a config.

``Trainer(config).fit(resume=...)`` builds the model (`create_model`), the data
(`poseviz.training.data`), the losses (`build_loss`, or `LossStage` schedules), the
optimiser and schedule (`poseviz.training.optim`), then trains for ``trainer.epochs`` or
``trainer.steps`` with checkpoints, logs and a progress bar. The same code runs in one
process or under ``torchrun --nproc_per_node N`` (DistributedDataParallel; each rank takes
``batch_size / N`` of every global batch, gradients are averaged, metrics summed over
ranks, only rank 0 writes).

What a model may declare so that the trainer runs it without model-specific code (all
optional, duck-typed; the contract `poseviz.models.scotl` documents):

``inputs``
    the batch keys it reads; it is called as ``model(**{k: batch[k] for k in inputs})``.
``training_stages()``
    its default schedule as `LossStage.to_dict` dicts, used when the config gives neither
    ``loss`` nor ``stages`` (e.g. Lifting by Image's two stages, Stage 1 frozen in Stage 2).
``training_steps()`` and ``step_loss(name, batch, criterion=...)``
    an alternating schedule (SCoTL-pose's loss-net step, then its pose-net step): records
    with ``name``, ``train`` (parameter-name prefixes that step's own optimiser updates;
    ``optim.groups[name]`` overrides its ``lr`` / ``weight_decay``) and ``repeat``. For every
    batch each step runs ``repeat`` times: zero its gradients, ``step_loss(...).total``
    backward, step its optimiser. ``criterion`` is the current stage's `CombinedLoss`.
    Without DDP's wrapper (each step makes its own forward) the gradients of each step are
    averaged over ranks by hand.

Every loss value is checked: a NaN or infinite loss stops training with
`TrainingDiverged` naming the step, the epoch, the stage and the offending terms.

Exact resume. Checkpoints hold the weights, every optimiser and the schedule, the position
(epoch, batch in the epoch, stage), the torch / numpy / Python RNG states and the epoch's
running loss; the data order is a function of ``(seed, epoch)``, the trainer's flips of
``(seed, step)``, and DataLoaders draw their worker seeds from their own generators, so N
steps + ``--resume`` N steps equals 2N steps bit for bit on CPU (one process).

Devices. CUDA when available (``trainer.device``): bfloat16 autocast for the forward pass
(losses in float32; ``trainer.amp``), pinned host memory and non-blocking copies. Frozen
stage modules are kept in eval mode (BatchNorm statistics stay put). ``trainer.threads``
sets torch's CPU threads, ``trainer.time_limit_min`` a wall-clock budget.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset

import poseviz
from poseviz.losses import CombinedLoss, LossStage, build_loss, mpjpe_loss, stage_at
from poseviz.models.registry import LiftingModel, LiftOutput, create_model
from poseviz.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    capture_rng,
    latest_checkpoint,
    read_checkpoint,
    restore_rng,
    write_checkpoint,
)
from poseviz.training.config import TrainConfig, config_to_mapping
from poseviz.training.data import (
    EpochBatchSampler,
    build_datasets,
    collate,
    data_fingerprint,
    derive_seed,
    flip_batch,
    flip_mask,
)
from poseviz.training.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    init_distributed,
    shutdown_distributed,
)
from poseviz.training.logs import RunLogger
from poseviz.training.optim import LRSchedule, build_optimizer
from poseviz.training.serialize import atomic_write_json, atomic_write_text

__all__ = ["TrainResult", "Trainer", "TrainingDiverged", "train"]

# Config keys a resumed run may change (length, logging, I/O); anything else must match.
RESUMABLE_CHANGES = {
    "trainer.epochs",
    "trainer.steps",
    "trainer.progress",
    "trainer.log_every",
    "trainer.checkpoint_every",
    "trainer.keep_checkpoints",
    "trainer.tensorboard",
    "trainer.device",
    "trainer.threads",
    "trainer.time_limit_min",
    "trainer.out",
    "data.num_workers",
}


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite (the message names the step and the terms)."""


@dataclass
class TrainResult:
    """What `Trainer.fit` returns.

    Attributes:
        run_dir: the run folder.
        step, epoch: optimiser steps and whole epochs done.
        checkpoint: the last checkpoint written.
        train_loss: mean loss of the last logging window.
        val: the last validation's metrics (``loss``, ``mpjpe_mm``), empty when none ran.
        interrupted: stopped by Ctrl-C (a checkpoint was written first).
        time_limited: stopped by ``trainer.time_limit_min`` (saved like a finished run).
        seconds: wall-clock seconds of the training loop in this call.
    """

    run_dir: Path
    step: int
    epoch: int
    checkpoint: Path | None
    train_loss: float
    val: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    time_limited: bool = False
    seconds: float = 0.0


@dataclass(frozen=True)
class _Step:
    name: str
    train: tuple[str, ...]
    repeat: int = 1


def _training_steps(model: nn.Module) -> list[_Step]:
    """The model's alternating schedule (``training_steps()``), or none."""
    declare = getattr(model, "training_steps", None)
    if declare is None:
        return []
    if not callable(getattr(model, "step_loss", None)):
        raise ValueError(
            f"{type(model).__name__} declares training_steps() but has no step_loss(name, batch, criterion)"
        )
    out = []
    for i, raw in enumerate(declare() if callable(declare) else declare):
        get = raw.get if isinstance(raw, Mapping) else lambda k, d=None, r=raw: getattr(r, k, d)
        name, train, repeat = get("name"), get("train"), get("repeat", 1)
        if not isinstance(name, str) or train is None:
            raise ValueError(
                f"{type(model).__name__}.training_steps()[{i}]: expected name, train, repeat; got {raw!r}"
            )
        train = (train,) if isinstance(train, str) else tuple(train)
        out.append(_Step(name, train, int(repeat)))
    return out


def _owned(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _float32_output(out: Any) -> Any:
    """Model outputs in float32 (losses run outside autocast)."""
    if not isinstance(out, LiftOutput):
        return out

    def cast(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != torch.float32:
            return v.float()
        if isinstance(v, list):
            return [cast(x) for x in v]
        return v

    return LiftOutput(cast(out.pose_3d), {k: cast(v) for k, v in out.aux.items()})


def _config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            out += _config_diff(a.get(k), b.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if a == b else [prefix]


class Trainer:
    """Train ``config`` (see the module docstring).

    Args:
        config: the run.
        overrides: the ``--set`` items that produced ``config`` (recorded in the run folder).
        model: use this model instead of ``create_model(config.model...)`` (its registry
            name is still ``config.model.name``).
        datasets: ``(train, val)`` instead of the config's data source.
        argv: the command line, recorded in ``run.json``.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        overrides: Sequence[str] = (),
        model: LiftingModel | None = None,
        datasets: tuple[Dataset, Dataset | None] | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.config = config
        self.overrides = list(overrides)
        self._given_model = model
        self._given_datasets = datasets
        self.argv = list(argv) if argv is not None else list(sys.argv)
        self.run_dir = config.run_dir
        self._stop = False
        self._single_loss = False

    # ------------------------------------------------------------------ set-up
    def _device(self, info: DistInfo) -> torch.device:
        want = self.config.trainer.device
        if want == "auto":
            want = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(want)
        if device.type == "cuda":
            if not torch.cuda.is_available():
                raise ValueError(f"trainer.device {want!r}: CUDA is not available here")
            if device.index is None:
                device = torch.device("cuda", info.local_rank if info.enabled else 0)
            torch.cuda.set_device(device)
        return device

    def _stages(self, model: nn.Module) -> tuple[LossStage, ...]:
        """``config.stages``; else one stage of ``config.loss``; else the model's
        ``training_stages()``; else MPJPE."""
        stages = self.config.loss_stages()
        if stages:
            return stages
        declared = getattr(model, "training_stages", None)
        if declared is not None and self.config.loss is None:
            declared = declared() if callable(declared) else declared
            out = []
            for i, s in enumerate(declared):
                try:
                    out.append(s if isinstance(s, LossStage) else LossStage.from_dict(s))
                except ValueError as err:
                    raise ValueError(
                        f"{type(model).__name__}.training_stages()[{i}]: {err}"
                    ) from None
            if out:
                return tuple(out)
        self._single_loss = True  # one stage whose length is the run's
        return (LossStage("main", self.config.loss or "mpjpe", steps=1),)

    def _length(self, spe: int) -> int:
        """Total optimiser steps: ``trainer.steps``, ``trainer.epochs``, the stages' total
        length, or one epoch."""
        t = self.config.trainer
        if t.steps is not None:
            return t.steps
        if t.epochs is not None:
            return t.epochs * spe
        if not self._single_loss:
            total = sum(s.length for s in self.stages)
            return total * spe if self.stages[0].unit == "epochs" else total
        return spe

    def _stage_index(self, epoch: int, step: int) -> int:
        if len(self.stages) == 1:
            return 0
        unit = self.stages[0].unit
        total = sum(s.length for s in self.stages)
        at = epoch if unit == "epochs" else step
        return stage_at(self.stages, **{unit[:-1]: min(at, total - 1)})[0]

    # ------------------------------------------------------------------ the run
    def fit(self, *, resume: bool = False) -> TrainResult:
        """Train to the configured length (continuing the run folder's latest checkpoint
        when ``resume``); returns a `TrainResult`."""
        want = self.config.trainer.device
        cuda = want.startswith("cuda") or (want == "auto" and torch.cuda.is_available())
        info = init_distributed(torch.device("cuda" if cuda else "cpu"))
        device = self._device(info)
        self.info, self.device = info, device
        try:
            return self._fit(resume=resume)
        finally:
            shutdown_distributed()

    def _fit(self, *, resume: bool) -> TrainResult:
        cfg, tcfg, info, device = self.config, self.config.trainer, self.info, self.device
        if tcfg.threads:
            torch.set_num_threads(tcfg.threads)
        torch.manual_seed(tcfg.seed)
        random.seed(tcfg.seed)
        np.random.seed(tcfg.seed % (2**32))  # noqa: NPY002  (for data code using the global RNG)

        # model
        model = self._given_model or create_model(cfg.model.name, **cfg.model.overrides)
        if not isinstance(model, nn.Module):
            raise ValueError(f"model {cfg.model.name!r}: the factory did not return an nn.Module")
        model.to(device)
        if info.enabled and tcfg.sync_batchnorm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model
        self.stages = self._stages(model)

        # data
        train_ds, val_ds = self._given_datasets or build_datasets(
            cfg.data, model=model, seed=tcfg.seed
        )
        self.train_ds, self.val_ds = train_ds, val_ds
        sampler = EpochBatchSampler(
            len(train_ds),
            cfg.data.batch_size,
            seed=tcfg.seed,
            rank=info.rank,
            world_size=info.world_size,
        )
        spe = sampler.batches_per_epoch
        self.total_steps = self._length(spe)
        fingerprint = data_fingerprint(cfg.data, train_ds, val_ds)

        # optimisers: one ("main"), or one per alternating step
        self.steps = _training_steps(model)
        self.optimizers: dict[str, Any] = {}
        if not self.steps:
            self.optimizers["main"] = build_optimizer(model.named_parameters(), cfg.optim)
        for st in self.steps:
            named = [(n, p) for n, p in model.named_parameters() if _owned(n, st.train)]
            if not named:
                raise ValueError(
                    f"{type(model).__name__}.training_steps: step {st.name!r} trains no "
                    f"parameter (prefixes {list(st.train)})"
                )
            group = {
                "params": [p for _, p in named],
                "name": st.name,
                **cfg.optim.groups.get(st.name, {}),
            }
            self.optimizers[st.name] = build_optimizer([group], cfg.optim)
        self.optimizer = next(iter(self.optimizers.values()))
        total_epochs = self.total_steps / spe
        self.schedule = LRSchedule(
            cfg.schedule,
            list(self.optimizers.values()),
            steps_per_epoch=spe,
            total_epochs=total_epochs,
        )

        # where to start
        self._acc = _Window(device)
        step, epoch, batch_in_epoch = 0, 0, 0
        ckpt: Checkpoint | None = None
        if resume:
            found = latest_checkpoint(self.run_dir)
            if found is None:
                raise CheckpointError(
                    f"--resume: {self.run_dir} has no checkpoint to resume (start without --resume)"
                )
            ckpt = read_checkpoint(found)
            step, epoch, batch_in_epoch = self._restore(ckpt, fingerprint)
        elif latest_checkpoint(self.run_dir) is not None:
            raise ValueError(
                f"{self.run_dir} already holds checkpoints of an earlier run: pass --resume to "
                "continue it, or choose another trainer.out / name"
            )
        barrier(info)

        if info.is_main:
            self._record_run(resume=ckpt is not None, from_step=step)
        self.checkpoints = self.run_dir / "checkpoints"
        self._last_ckpt: Path | None = ckpt.path if ckpt else None
        self.fingerprint = fingerprint
        self.logger = None

        loader_kw = dict(
            num_workers=cfg.data.num_workers,
            pin_memory=device.type == "cuda",
            collate_fn=collate,
        )
        self._stage_idx = -1
        self._ddp: nn.Module | None = None
        from tqdm.auto import tqdm

        bar = tqdm(
            total=self.total_steps,
            initial=step,
            unit="step",
            disable=not (tcfg.progress and info.is_main),
            dynamic_ncols=True,
            desc=cfg.name,
        )
        acc = self._acc
        val: dict[str, float] = {}
        old_handler = self._install_sigint()
        t_start, time_up = time.monotonic(), False
        self._sync_stage(epoch, step)
        try:
            while step < self.total_steps and not self._stop and not time_up:
                sampler.set_epoch(epoch, start=batch_in_epoch)
                if hasattr(train_ds, "set_epoch"):
                    train_ds.set_epoch(epoch)
                loader = DataLoader(
                    train_ds,
                    batch_sampler=sampler,
                    generator=torch.Generator().manual_seed(derive_seed(tcfg.seed, epoch, 7)),
                    **loader_kw,
                )
                for batch in loader:
                    self._sync_stage(epoch, step)
                    self.schedule.apply()
                    total, parts, frames = self._train_step(batch, step, epoch)
                    self.schedule.end_step()
                    step += 1
                    batch_in_epoch += 1
                    acc.add(total, parts, frames)
                    bar.update(1)
                    if step % tcfg.log_every == 0 or step == self.total_steps:
                        row = self._log_train(
                            acc, step, epoch, resume_step=ckpt.step if ckpt else None
                        )
                        bar.set_postfix(loss=f"{row['loss']:.4g}", fps=f"{row['frames_per_s']:.0f}")
                        if self._out_of_time(t_start):
                            time_up = True
                    if step % tcfg.checkpoint_every == 0 and step < self.total_steps:
                        self._checkpoint(step, epoch, batch_in_epoch)
                    if step >= self.total_steps or self._stop or time_up:
                        break
                if batch_in_epoch >= spe:  # epoch complete
                    metric = None
                    if (
                        self.val_ds is not None
                        and tcfg.val_every
                        and (epoch + 1) % tcfg.val_every == 0
                    ):
                        t_val = time.perf_counter()
                        val = self.validate(step, epoch)
                        acc.exclude(time.perf_counter() - t_val)  # not training time
                        metric = val.get("loss", val.get("mpjpe_mm"))
                    if metric is None or not math.isfinite(metric):
                        metric = acc.epoch_mean(self.info)
                    acc.new_epoch()
                    self.schedule.end_epoch(metric)
                    epoch += 1
                    batch_in_epoch = 0
            if self._stop:
                last = self._checkpoint(step, epoch, batch_in_epoch)
            else:
                if self.val_ds is not None and (not val or val.get("step") != step):
                    val = self.validate(step, epoch)
                last = self._checkpoint(step, epoch, batch_in_epoch, final=True)
        finally:
            bar.close()
            self._restore_sigint(old_handler)
            if self.logger is not None:
                self.logger.close()
        seconds = time.monotonic() - t_start
        if self.info.is_main:
            self._finish_record(step=step, seconds=seconds, time_up=time_up)
        return TrainResult(
            run_dir=self.run_dir,
            step=step,
            epoch=epoch,
            checkpoint=last,
            train_loss=acc.last_loss,
            val={k: v for k, v in val.items() if k != "step"},
            interrupted=self._stop,
            time_limited=time_up,
            seconds=seconds,
        )

    # ------------------------------------------------------------------ pieces
    def _out_of_time(self, t_start: float) -> bool:
        """Past ``trainer.time_limit_min`` (all ranks agree: the flag is reduced)."""
        limit = self.config.trainer.time_limit_min
        if limit is None:
            return False
        over = float(time.monotonic() - t_start > 60.0 * limit)
        flag = all_reduce_sum(torch.tensor([over], device=self.device), self.info)
        return bool(flag.item() > 0)

    def _install_sigint(self) -> Any:
        if self.info.enabled or threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            if self._stop:  # second Ctrl-C: stop now
                raise KeyboardInterrupt
            self._stop = True

        return signal.signal(signal.SIGINT, handler)

    @staticmethod
    def _restore_sigint(old: Any) -> None:
        if old is not None:
            signal.signal(signal.SIGINT, old)

    def _record_run(self, *, resume: bool, from_step: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        record_path = self.run_dir / "run.json"
        record = json.loads(record_path.read_text()) if resume and record_path.is_file() else {}
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": self.argv,
            "overrides": self.overrides,
            "from_step": from_step,
            "world_size": self.info.world_size,
            "device": str(self.device),
            "poseviz": poseviz.__version__,
            "torch": torch.__version__,
        }
        record.setdefault("runs", []).append(entry)
        atomic_write_json(record_path, record)
        atomic_write_text(self.run_dir / "config.yaml", self._config_yaml())

    def _finish_record(self, *, step: int, seconds: float, time_up: bool) -> None:
        """Add how this call ended to the last ``run.json`` entry."""
        path = self.run_dir / "run.json"
        record = json.loads(path.read_text())
        stopped = "interrupted" if self._stop else "time limit" if time_up else "finished"
        record["runs"][-1].update(
            {"to_step": step, "seconds": round(seconds, 1), "stopped": stopped}
        )
        atomic_write_json(path, record)

    def _config_yaml(self) -> str:
        return yaml.safe_dump(config_to_mapping(self.config), sort_keys=False)

    def _restore(self, ckpt: Checkpoint, fingerprint: str) -> tuple[int, int, int]:
        saved = yaml.safe_load(ckpt.config_yaml)
        diff = [
            k
            for k in _config_diff(saved, config_to_mapping(self.config))
            if k not in RESUMABLE_CHANGES
        ]
        if diff:
            raise CheckpointError(
                f"{ckpt.path}: the config differs from the checkpoint's in {diff}; only "
                f"{sorted(RESUMABLE_CHANGES)} may change when resuming"
            )
        if ckpt.model_name != self.config.model.name:
            raise CheckpointError(
                f"{ckpt.path}: checkpoint of model {ckpt.model_name!r}, the config trains "
                f"{self.config.model.name!r}"
            )
        ckpt.load_model(self.model)
        state = ckpt.state
        if state.get("data_fingerprint") != fingerprint:
            raise CheckpointError(
                f"{ckpt.path}: the training data differ from the checkpoint's (fingerprint "
                f"{state.get('data_fingerprint')} vs {fingerprint}); resume on the same data"
            )
        opts = state["optimizers"]
        if set(opts) != set(self.optimizers):
            raise CheckpointError(
                f"{ckpt.path}: optimisers {sorted(opts)}, expected {sorted(self.optimizers)}"
            )
        try:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(opts[name])
            self.schedule.load_state_dict(state["schedule"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(
                f"{ckpt.path}: optimiser or schedule state does not fit: {err}"
            ) from None
        self._acc.load_state_dict(state["epoch_loss"])
        restore_rng(state["rng"])
        return ckpt.step, int(state["epoch"]), int(state["batch_in_epoch"])

    def _checkpoint(
        self, step: int, epoch: int, batch_in_epoch: int, *, final: bool = False
    ) -> Path | None:
        path = None
        if self.info.is_main:
            state = {
                "epoch": epoch,
                "batch_in_epoch": batch_in_epoch,
                "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
                "schedule": self.schedule.state_dict(),
                "rng": capture_rng(),
                "data_fingerprint": self.fingerprint,
                "world_size": self.info.world_size,
                "total_steps": self.total_steps,
                "epoch_loss": self._acc.state_dict(),
            }
            path = write_checkpoint(
                self.checkpoints,
                step=step,
                model=self.model,
                model_name=self.config.model.name,
                config_yaml=self._config_yaml(),
                state=state,
                keep=self.config.trainer.keep_checkpoints,
            )
            if final:  # the run folder itself becomes a model folder
                from poseviz.models.pretrained import WEIGHTS_FILE

                (self.run_dir / WEIGHTS_FILE).write_bytes((path / WEIGHTS_FILE).read_bytes())
        barrier(self.info)
        self._last_ckpt = path
        return path

    def _sync_stage(self, epoch: int, step: int) -> None:
        idx = self._stage_index(epoch, step)
        if idx == self._stage_idx:
            return
        self._stage_idx = idx
        stage = self.stages[idx]
        self.criterion: CombinedLoss = build_loss(stage.weights).to(self.device)
        frozen = {n for n, _ in stage.frozen_parameters(self.model)}
        for n, p in self.model.named_parameters():
            p.requires_grad_(n not in frozen)
        self._frozen_modules = [
            m for prefix in stage.freeze for m in [self._module_or_none(prefix)] if m is not None
        ]
        self._set_train_mode()
        if self.info.enabled and not self.steps:
            from torch.nn.parallel import DistributedDataParallel as DDP

            trainable = any(p.requires_grad for p in self.model.parameters())
            if not trainable:
                raise ValueError(f"stage {stage.name!r} freezes every parameter")
            self._ddp = DDP(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
            )

    def _module_or_none(self, prefix: str) -> nn.Module | None:
        try:
            return self.model.get_submodule(prefix)
        except AttributeError:
            return None

    def _set_train_mode(self) -> None:
        self.model.train()
        for m in getattr(self, "_frozen_modules", []):
            m.eval()  # frozen stages keep their BatchNorm statistics and skip dropout

    def _inputs(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        names = getattr(self.model, "inputs", ("keypoints_2d",))
        missing = [k for k in names if k not in batch]
        if missing:
            raise ValueError(
                f"model {self.config.model.name!r} reads {list(names)} but the batch has no "
                f"{missing} (batch keys: {sorted(batch)}); configure the data source to provide them"
            )
        return {k: batch[k] for k in names}

    def _to_device(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        nb = self.device.type == "cuda"
        return {
            k: v.to(self.device, non_blocking=nb) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }

    def _autocast(self) -> Any:
        if self.device.type == "cuda" and self.config.trainer.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def forward(self, batch: Mapping[str, Any], *, train: bool = True) -> LiftOutput:
        """The model's output on a device batch (DDP-wrapped in training), in float32."""
        net = self._ddp if (train and self._ddp is not None) else self.model
        with self._autocast():
            out = net(**self._inputs(batch))
        return _float32_output(out)

    def _diverged(
        self, what: str, step: int, epoch: int, parts: Mapping[str, torch.Tensor]
    ) -> TrainingDiverged:
        shown = ", ".join(f"{k}={float(v):.4g}" for k, v in parts.items())
        stage = self.stages[self._stage_idx].name
        return TrainingDiverged(
            f"{what} became {('NaN' if any(math.isnan(float(v)) for v in parts.values()) else 'infinite')} "
            f"at step {step + 1} (epoch {epoch}, stage {stage!r}): {shown}. Lower optim.lr, set "
            f"trainer.grad_clip, or check the data; the last checkpoint is {self._last_ckpt}"
        )

    def _train_step(
        self, batch: Mapping[str, Any], step: int, epoch: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
        cfg = self.config
        batch = self._to_device(batch)
        if cfg.data.flip and not getattr(self.train_ds, "mirrors_itself", False):
            mask = flip_mask(
                cfg.trainer.seed,
                step,
                cfg.data.batch_size,
                rank=self.info.rank,
                world_size=self.info.world_size,
            )
            batch = flip_batch(batch, mask)
        if self.steps:
            total, parts = self._alternating_step(batch, step, epoch)
        else:
            out = self.forward(batch)
            result = self.criterion(out, batch)
            total, parts = result.total, dict(result.parts)
            if not bool(torch.isfinite(total)):
                raise self._diverged("the loss", step, epoch, {"total": total.detach(), **parts})
            self._update(self.optimizer, total, sync=False)
        x = batch["keypoints_2d"] if "keypoints_2d" in batch else batch["pose_3d"]
        return total.detach(), parts, int(x.shape[0] * x.shape[1])

    def _update(self, opt: Any, loss: torch.Tensor, *, sync: bool) -> None:
        """Backward, (average over ranks by hand,) clip, step."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if sync and self.info.enabled:
            for p in params:
                torch.distributed.all_reduce(p.grad)
                p.grad /= self.info.world_size
        clip = self.config.trainer.grad_clip
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()

    def _alternating_step(
        self, batch: Mapping[str, Any], step: int, epoch: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One batch of the model's ``training_steps()``; the logged loss is the sum of the
        steps' objectives, each also logged under its name (and its parts as name.part)."""
        parts: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=self.device)
        for st in self.steps:
            for _ in range(st.repeat):
                with self._autocast():
                    res = self.model.step_loss(st.name, batch, criterion=self.criterion)
                value = res.total.float()
                if not bool(torch.isfinite(value)):
                    shown = {
                        st.name: value.detach(),
                        **{f"{st.name}.{k}": v for k, v in res.parts.items()},
                    }
                    raise self._diverged(f"the {st.name!r} step's loss", step, epoch, shown)
                self._update(self.optimizers[st.name], value, sync=True)
            parts[st.name] = value.detach()
            parts.update({f"{st.name}.{k}": v.float() for k, v in res.parts.items()})
            total = total + value.detach()
        return total, parts

    def _log_train(
        self, acc: _Window, step: int, epoch: int, *, resume_step: int | None
    ) -> dict[str, Any]:
        means, frames_per_s = acc.flush(self.info)
        row = {
            "step": step,
            "epoch": epoch,
            "stage": self.stages[self._stage_idx].name,
            "lr": self.optimizer.param_groups[0]["lr"],
            **means,
            "frames_per_s": frames_per_s,
        }
        if self.info.is_main:
            self._ensure_logger(list(means), resume_step)
            self.logger.log("train", row)  # type: ignore[union-attr]
        return row

    def _ensure_logger(self, loss_columns: list[str], resume_step: int | None) -> None:
        if self.logger is not None:
            return
        labels = []
        for s in self.stages if not self.steps else ():  # alternating steps log their own parts
            labels += [k for k in s.weights if k not in labels]
        labels += [k for k in loss_columns if k not in labels and k != "loss"]
        self.logger = RunLogger(
            self.run_dir,
            train_columns=["step", "epoch", "stage", "lr", "loss", *labels, "frames_per_s"],
            val_columns=["step", "epoch", "stage", "loss", "mpjpe_mm", *labels],
            resume_step=resume_step,
            tensorboard=self.config.trainer.tensorboard,
        )

    @torch.no_grad()
    def validate(self, step: int, epoch: int) -> dict[str, float]:
        """Mean loss, per-term losses and MPJPE (mm) over the validation set (summed over
        ranks); logs a ``val.csv`` row. Terms the model cannot produce in eval mode are
        skipped (the loss is then NaN and the schedule reads MPJPE)."""
        assert self.val_ds is not None
        cfg = self.config
        sampler = EpochBatchSampler(
            len(self.val_ds),
            cfg.data.val_batch_size or cfg.data.batch_size,
            shuffle=False,
            drop_last=False,
            rank=self.info.rank,
            world_size=self.info.world_size,
        )
        loader = DataLoader(
            self.val_ds,
            batch_sampler=sampler,
            num_workers=cfg.data.num_workers,
            pin_memory=self.device.type == "cuda",
            collate_fn=collate,
            # DataLoader draws its worker seed from this generator, not the global RNG,
            # so validating does not change training (a resumed run stays exact).
            generator=torch.Generator().manual_seed(derive_seed(cfg.trainer.seed, step, 11)),
        )
        self.model.eval()
        labels = list(self.criterion.weights)
        sums = torch.zeros(3 + len(labels), dtype=torch.float64, device=self.device)
        for batch in loader:
            batch = self._to_device(batch)
            out = self.forward(batch, train=False)
            n = batch["pose_3d"].shape[0]
            err = mpjpe_loss(out.pose_3d, batch["pose_3d"]).double() * 1000.0
            try:
                res = self.criterion(out, batch)
                loss = res.total.double()
                terms = [res.parts[k].double() for k in labels]
            except ValueError:
                loss = torch.tensor(math.nan, dtype=torch.float64, device=self.device)
                terms = [loss] * len(labels)
            sums += torch.stack(
                [
                    loss * n,
                    err * n,
                    torch.tensor(float(n), dtype=torch.float64, device=self.device),
                    *[t * n for t in terms],
                ]
            )
        self._set_train_mode()
        sums = all_reduce_sum(sums, self.info).tolist()
        n = max(sums[2], 1.0)
        result = {"loss": sums[0] / n, "mpjpe_mm": sums[1] / n}
        result.update({k: v / n for k, v in zip(labels, sums[3:], strict=True)})
        if self.info.is_main:
            self._ensure_logger([], None)
            self.logger.log(  # type: ignore[union-attr]
                "val",
                {
                    "step": step,
                    "epoch": epoch,
                    "stage": self.stages[self._stage_idx].name,
                    **result,
                },
            )
        result["step"] = step
        return result


class _Window:
    """Running sums of the loss terms between log rows and over the epoch (kept on the
    device: no synchronisation per step)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.keys: list[str] = []
        self.sums: torch.Tensor | None = None
        self.count = 0
        self.frames = 0
        self.t0 = time.perf_counter()
        self.last_loss = math.nan
        self.epoch_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.epoch_count = 0

    def add(self, total: torch.Tensor, parts: Mapping[str, torch.Tensor], frames: int) -> None:
        keys = ["loss", *parts]
        values = torch.stack([total.float(), *[v.float() for v in parts.values()]])
        if self.sums is None or keys != self.keys:  # first step, or a new stage's terms
            self.keys, self.sums, self.count = keys, torch.zeros_like(values), 0
        self.sums = self.sums + values
        self.count += 1
        self.frames += frames
        self.epoch_sum = self.epoch_sum + total.double()
        self.epoch_count += 1

    def exclude(self, seconds: float) -> None:
        """Leave ``seconds`` (a validation) out of the window's frames/s."""
        self.t0 += seconds

    def flush(self, info: DistInfo) -> tuple[dict[str, float], float]:
        """Means over the window (and over ranks) and the frames per second of all ranks."""
        assert self.sums is not None
        extra = torch.tensor([float(self.frames)], dtype=torch.float64, device=self.sums.device)
        reduced = all_reduce_sum(torch.cat([self.sums.double(), extra]), info).tolist()
        n = max(self.count, 1) * info.world_size
        means = {k: v / n for k, v in zip(self.keys, reduced[:-1], strict=True)}
        now = time.perf_counter()
        fps = reduced[-1] / max(now - self.t0, 1e-9)
        self.last_loss = means["loss"]
        self.sums = torch.zeros_like(self.sums)
        self.count, self.frames, self.t0 = 0, 0, now
        return means, fps

    def epoch_mean(self, info: DistInfo) -> float | None:
        """Mean training loss of the epoch so far (over ranks)."""
        if not self.epoch_count:
            return None
        return float(all_reduce_sum(self.epoch_sum, info)) / (self.epoch_count * info.world_size)

    def new_epoch(self) -> None:
        self.epoch_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self.epoch_count = 0

    def state_dict(self) -> dict[str, Any]:
        return {"epoch_sum": self.epoch_sum.cpu(), "epoch_count": self.epoch_count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch_sum = state["epoch_sum"].to(self.device, torch.float64)
        self.epoch_count = int(state["epoch_count"])


def train(
    config: TrainConfig, *, overrides: Sequence[str] = (), resume: bool = False
) -> TrainResult:
    """Train ``config`` (what ``poseviz train`` runs)."""
    return Trainer(config, overrides=overrides).fit(resume=resume)
