"""Model weights on disk: safetensors files and model folders (no pickle anywhere).

A *model folder* (``models/<name>/`` in the repository, or a training checkpoint folder
``runs/<run>/checkpoints/step-000100/``) holds at least:

``config.yaml``
    a training config (`poseviz.training.config`); only its ``model`` section
    ``{name: <registered name>, <config field>: <override>, ...}`` and its ``plugins`` list
    (modules to import first) are read here.
``model.safetensors``
    the model's ``state_dict`` (parameters and buffers). The header metadata records
    ``{"poseviz_model": <name>}``; tensors that share storage are stored once and listed
    under ``"aliases"``.

`load_pretrained(path)` builds the model through `create_model` and loads the weights,
with clear errors for a missing, truncated or mismatched file.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from poseviz.models.registry import LiftingModel, create_model

__all__ = [
    "WEIGHTS_FILE",
    "WeightsError",
    "load_pretrained",
    "load_weights",
    "model_folder",
    "model_section",
    "read_weights",
    "weights_to_bytes",
]

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"


class WeightsError(ValueError):
    """A weights file or model folder that cannot be loaded (the message says why)."""


def weights_to_bytes(model: torch.nn.Module, metadata: dict[str, str] | None = None) -> bytes:
    """The model's ``state_dict`` as safetensors bytes; ``metadata`` (str -> str) goes in the
    header. Tensors sharing storage are written once (see the module docstring)."""
    state = model.state_dict()
    seen: dict[tuple[int, int, tuple[int, ...], tuple[int, ...]], str] = {}
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        t = tensor.detach()
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())
        if t.numel() and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = t.cpu().contiguous()
    meta = dict(metadata or {})
    if aliases:
        meta["aliases"] = json.dumps(aliases)
    return st_save(tensors, metadata=meta)


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``(state_dict, metadata)`` from a safetensors file; raises `WeightsError` for a
    missing, truncated or non-safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    data = path.read_bytes()
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise WeightsError(
            f"{path}: not a readable safetensors file (truncated or corrupt?): {err}"
        ) from None
    # header: 8-byte little-endian length, then JSON
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(data[8 : 8 + n]).get("__metadata__", {}) or {}
    for alias, source in json.loads(meta.get("aliases", "{}")).items():
        tensors[alias] = tensors[source]
    return tensors, meta


def load_weights(
    model: torch.nn.Module, path: str | Path, *, expected_model: str | None = None
) -> dict[str, str]:
    """Load a safetensors ``state_dict`` into ``model`` in place; returns the metadata.

    Raises `WeightsError` naming the file when the file was written for another model
    (``expected_model`` against the ``poseviz_model`` metadata), or when keys or shapes
    differ (the first few differences are listed).
    """
    tensors, meta = read_weights(path)
    written_for = meta.get("poseviz_model")
    if expected_model is not None and written_for and written_for != expected_model:
        raise WeightsError(f"{path}: weights are for model {written_for!r}, not {expected_model!r}")
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in tensors and tuple(tensors[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append(f"{len(wrong)} shape mismatch(es): " + "; ".join(wrong[:4]))
        if missing:
            parts.append(f"{len(missing)} missing key(s): {missing[:4]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {unexpected[:4]}")
        who = f" (written for {written_for!r})" if written_for else ""
        raise WeightsError(
            f"{path}: weights{who} do not fit {type(model).__name__}: " + "; ".join(parts)
        )
    model.load_state_dict(tensors, strict=True)
    return meta


def model_section(config: Any, *, where: str = "config") -> tuple[str, dict[str, Any], list[str]]:
    """``(name, overrides, plugins)`` of a training config mapping's ``model`` section."""
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise WeightsError(f"{where}: expected a training config with a 'model' section")
    model = dict(config["model"])
    name = model.pop("name", None)
    if not isinstance(name, str):
        raise WeightsError(f"{where}: model.name: expected the registered model's name")
    plugins = config.get("plugins") or []
    if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
        raise WeightsError(f"{where}: plugins: expected a list of module names")
    return name, model, plugins


def model_folder(path: str | Path) -> Path:
    """The model folder ``path`` means: the folder itself (or the folder of a
    ``model.safetensors`` given directly) when it holds weights, else the latest checkpoint of
    a training run folder (``checkpoints/latest`` names it)."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    if not folder.is_dir():
        raise FileNotFoundError(f"{path}: no such model folder or weights file")
    if (folder / WEIGHTS_FILE).is_file():
        return folder
    latest = folder / "checkpoints" / "latest"
    if latest.is_file():
        return folder / "checkpoints" / latest.read_text().strip()
    raise WeightsError(
        f"{folder}: not a model folder (no {WEIGHTS_FILE}, and no checkpoints/latest of a run)"
    )


def load_pretrained(path: str | Path, *, map_location: str | torch.device = "cpu") -> LiftingModel:
    """Build and load the model of a model folder (see `model_folder`), in eval mode.

    ``path`` is the folder, its ``model.safetensors``, or a training run folder.
    """
    folder = model_folder(path)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise WeightsError(f"{folder}: not a model folder (no {CONFIG_FILE})")
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as err:
        raise WeightsError(f"{config_path}: not valid YAML: {err}") from None
    name, overrides, plugins = model_section(config, where=str(config_path))
    for module in plugins:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise WeightsError(f"{config_path}: cannot import plugin {module!r}: {err}") from None
    try:
        model = create_model(name, **overrides)
    except (ValueError, TypeError) as err:
        raise WeightsError(f"{config_path}: cannot build model {name!r}: {err}") from None
    load_weights(model, folder / WEIGHTS_FILE, expected_model=name)
    return model.to(map_location).eval()
