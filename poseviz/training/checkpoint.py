"""Training checkpoints: pickle-free, written atomically, checked when read.

A checkpoint is a folder ``<run>/checkpoints/step-000100/``::

    config.yaml         the run's resolved training config (so the folder is a model folder,
                        see `poseviz.models.pretrained`)
    model.safetensors   model weights (metadata ``poseviz_model``)
    state.safetensors   every tensor of the training state: optimiser moments, Lookahead
                        slow weights, torch RNG states
    state.json          everything else: step, epoch, position in the epoch, stage, schedule
                        state, the optimisers' JSON trees (tensors referenced by key), Python
                        and numpy RNG states, the data fingerprint, the model name, and the
                        size and SHA-256 of each file above

It is written into a hidden temporary folder and renamed into place, and
``checkpoints/latest`` (the folder name) is replaced atomically afterwards, so a crash at
any moment leaves the previous checkpoint intact. `read_checkpoint` verifies sizes and
hashes, so a truncated or modified file is reported as such; `load_into` checks the model
name and every tensor shape before touching the model or the optimiser.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from poseviz.models.pretrained import WEIGHTS_FILE, WeightsError, load_weights, weights_to_bytes
from poseviz.training.serialize import (
    atomic_write_text,
    file_sha256,
    join_state,
    split_state,
)

__all__ = [
    "FORMAT",
    "Checkpoint",
    "CheckpointError",
    "capture_rng",
    "find_checkpoint",
    "latest_checkpoint",
    "read_checkpoint",
    "restore_rng",
    "write_checkpoint",
]

FORMAT = "poseviz-checkpoint"
VERSION = 1
STATE_JSON = "state.json"
STATE_TENSORS = "state.safetensors"
CONFIG_FILE = "config.yaml"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (the message names the file and the reason)."""


def capture_rng() -> dict[str, Any]:
    """torch (CPU and CUDA), numpy and Python RNG states as plain data and tensors."""
    # the legacy global numpy RNG is captured because data code may still draw from it
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng`."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        (n["kind"], np.array(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def _file_record(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def write_checkpoint(
    root: str | Path,
    *,
    step: int,
    model: torch.nn.Module,
    model_name: str,
    config_yaml: str,
    state: dict[str, Any],
    keep: int | None = None,
    name: str | None = None,
) -> Path:
    """Write checkpoint ``root/step-<step>`` (or ``root/<name>``) atomically; returns it.

    Args:
        root: the run's ``checkpoints`` folder.
        step: optimiser steps done.
        model: the (unwrapped) model.
        model_name: its registry name (recorded and checked on load).
        config_yaml: the resolved config as YAML text.
        state: the rest of the training state (nested dicts of numbers, strings, tensors).
        keep: keep only this many ``step-*`` folders (oldest removed first).
        name: folder name (default ``step-{step:06d}``).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = name or f"step-{step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        (tmp / WEIGHTS_FILE).write_bytes(weights_to_bytes(model, {"poseviz_model": model_name}))
        tree, tensors = split_state(state, prefix="")
        (tmp / STATE_TENSORS).write_bytes(st_save(tensors, metadata={"format": FORMAT}))
        (tmp / CONFIG_FILE).write_text(config_yaml)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "model": model_name,
            "step": int(step),
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "files": {f: _file_record(tmp / f) for f in (WEIGHTS_FILE, STATE_TENSORS, CONFIG_FILE)},
            "state": tree,
        }
        (tmp / STATE_JSON).write_text(json.dumps(header, indent=1) + "\n")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        target = root / name
        if target.exists():  # re-written (e.g. a resumed run reaching the same step)
            trash = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=root))
            os.replace(target, trash / name)
            os.replace(tmp, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / "latest", name + "\n")
    if keep is not None:
        steps = sorted(p for p in root.glob("step-*") if p.is_dir())
        for old in steps[: max(0, len(steps) - keep)]:
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
    return root / name


@dataclass
class Checkpoint:
    """A checkpoint read and verified by `read_checkpoint`.

    Attributes:
        path: the folder.
        model_name: registry name of the model it was written for.
        step: optimiser steps done.
        state: the training state (tensors restored in place of their JSON references).
        config_yaml: the run config it was written with.
    """

    path: Path
    model_name: str
    step: int
    state: dict[str, Any]
    config_yaml: str

    def load_model(self, model: torch.nn.Module) -> None:
        """Load the weights into ``model`` (checks name, keys and shapes first)."""
        try:
            load_weights(model, self.path / WEIGHTS_FILE, expected_model=self.model_name)
        except WeightsError as err:
            raise CheckpointError(str(err)) from None


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder meant by ``path``: a checkpoint folder itself, a run's
    ``checkpoints`` folder or a run folder (then the one named in ``latest``)."""
    path = Path(path)
    if (path / STATE_JSON).is_file():
        return path
    for root in (path, path / "checkpoints"):
        latest = root / "latest"
        if latest.is_file():
            folder = root / latest.read_text().strip()
            if not folder.is_dir():
                raise CheckpointError(f"{latest} names {folder.name!r}, which does not exist")
            return folder
    raise CheckpointError(f"{path}: no checkpoint here (no {STATE_JSON} and no checkpoints/latest)")


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest checkpoint of a run folder, or None when it has none."""
    try:
        return find_checkpoint(Path(run_dir) / "checkpoints")
    except CheckpointError:
        return None


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint (see `find_checkpoint` for what ``path`` may be).

    Raises `CheckpointError` for a missing file, a size or SHA-256 that differs from the
    record (a truncated or modified file), an unknown format or unreadable tensors.
    """
    folder = find_checkpoint(path)
    try:
        header = json.loads((folder / STATE_JSON).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(
            f"{folder / STATE_JSON}: not readable JSON (truncated?): {err}"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{folder / STATE_JSON}: not a poseviz checkpoint (format field)")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"{folder / STATE_JSON}: checkpoint format version {header.get('version')!r}, "
            f"this poseviz reads version {VERSION}"
        )
    for name, record in header.get("files", {}).items():
        f = folder / name
        if not f.is_file():
            raise CheckpointError(f"{f}: missing (the checkpoint is incomplete)")
        size = f.stat().st_size
        if size != record["bytes"]:
            raise CheckpointError(
                f"{f}: {size} bytes, but the checkpoint recorded {record['bytes']} "
                "(truncated or modified)"
            )
        if file_sha256(f) != record["sha256"]:
            raise CheckpointError(f"{f}: SHA-256 differs from the checkpoint's record (corrupt)")
    try:
        tensors = st_load((folder / STATE_TENSORS).read_bytes())
    except (SafetensorError, ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{folder / STATE_TENSORS}: unreadable: {err}") from None
    try:
        state = join_state(header["state"], tensors)
    except (ValueError, KeyError) as err:
        raise CheckpointError(f"{folder}: inconsistent state: {err}") from None
    return Checkpoint(
        path=folder,
        model_name=str(header["model"]),
        step=int(header["step"]),
        state=state,
        config_yaml=(folder / CONFIG_FILE).read_text(),
    )
