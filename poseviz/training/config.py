"""Training configs: one dataclass tree that reads and writes YAML.

A config file (``models/<name>/config.yaml`` is one) has these sections; every key is
optional except ``model.name``::

    name: videopose3d_demo          # run name (default run folder runs/<name>)
    plugins: []                     # modules imported first (they may register models, data)
    model:                          # registry name + overrides of its config dataclass
      name: videopose3d_t27
      channels: 256
    data:                           # DataConfig: source, clips, augmentation, batch size
      source: demo
      batch_size: 64
    loss: {mpjpe: 1.0, repose_spatial: 20.0}   # build_loss spec or preset (default: mpjpe,
                                                # or the model's own `default_loss`)
    stages:                         # optional multi-stage schedule (LossStage records)
      - {name: global+local, epochs: 40, weights: gla_gcn_stage1}
      - {name: local, epochs: 40, weights: gla_gcn_stage2, freeze: [encoder]}
    optim: {name: ranger, lr: 0.01}             # OptimConfig
    schedule: {kind: exponential, gamma: 0.99}  # ScheduleConfig (per-epoch learning rate)
    trainer: {epochs: 80, grad_clip: 1.0}       # TrainerConfig

Unknown keys and wrong types raise ``ValueError`` naming the dotted path
(``config.optim.lrr: unknown key; did you mean 'lr'?``). YAML 1.1 reads ``5e-4`` as a string;
numeric strings are accepted where a number is expected.

Command-line overrides ``--set optim.lr=5e-4`` are applied to the raw mapping before it is
checked (`apply_overrides`); the value is parsed as YAML (``--set data.flip=false``,
``--set stages.0.epochs=3``). The trainer records them in the run folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from poseviz.losses import LossStage, build_loss
from poseviz.models.registry import config_to_dict, get_model_spec

__all__ = [
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "TrainerConfig",
    "apply_overrides",
    "config_from_mapping",
    "config_to_mapping",
    "load_config",
    "parse_override",
    "save_config",
]


@dataclass
class ModelConfig:
    """Which registered model to train: ``name`` and overrides of its config dataclass
    (written flat beside ``name`` in YAML: ``model: {name: gla_gcn_t27, dropout: 0.1}``)."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where training pairs come from and how they are batched.

    Attributes:
        source: ``"demo"`` (the DeepMimic demo dataset with virtual cameras), ``"motion"``
            (``paths`` read by `poseviz.data.load`, plus the demo clips when
            ``include_demo``), or ``"package.module:function"`` returning
            ``(train_dataset, val_dataset_or_None)`` (see `poseviz.training.data`).
        paths: motion files or folders for ``"motion"``; ``$VARS`` and ``~`` are expanded,
            so ``${POSEVIZ_SHARED_DATA}/cmu_bvh_acrnn`` works on any machine.
        include_demo: with ``"motion"``, also use the demo dataset's training clips.
        batch_size: global batch size (split across DDP ranks).
        val_batch_size: batch size of validation (default: ``batch_size``).
        num_workers: DataLoader worker processes (0: load in the training process).
        flip: left/right flip augmentation of half of each batch (x mirrored, joints
            swapped), applied by the trainer.
        options: keyword options of the source (clip stride, cameras per sequence, bone
            length scaling, 2D noise, ...), passed through as given.
    """

    source: str = "demo"
    paths: tuple[str, ...] = ()
    include_demo: bool = True
    batch_size: int = 64
    val_batch_size: int | None = None
    num_workers: int = 0
    flip: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    """The optimiser (torch.optim), with each paper's settings expressible.

    ``name`` is ``adam``, ``adamw``, ``rmsprop``, ``radam``, ``sgd`` or ``ranger``
    (RAdam + Lookahead k=6, alpha=0.5, GLA-GCN's optimiser). ``lookahead_k > 0`` wraps any
    of them in `Lookahead`. ``groups`` maps a parameter-name prefix (or an alternating
    step's name) to overrides of ``lr`` / ``weight_decay`` for those parameters.
    """

    name: Literal["adam", "adamw", "rmsprop", "radam", "sgd", "ranger"] = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    alpha: float = 0.99
    momentum: float = 0.0
    lookahead_k: int = 0
    lookahead_alpha: float = 0.5
    groups: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, in epochs (see `poseviz.training.optim.LRSchedule`).

    ``kind``: ``constant``; ``exponential`` (x ``gamma`` every epoch, RePOSE 0.99);
    ``step`` (x ``gamma`` every ``step_epochs``, Lifting by Image 0.9 / 4); ``cosine``
    (to ``min_lr`` at the last epoch); ``plateau`` (x ``factor`` when the validation loss
    has not improved by ``threshold`` (relative) for ``patience`` epochs, torch's
    ReduceLROnPlateau rules). ``warmup_epochs`` ramps the rate linearly per step from
    ``lr / steps`` to ``lr`` first (DG-CNN: 5, then plateau).
    """

    kind: Literal["constant", "exponential", "step", "cosine", "plateau"] = "constant"
    warmup_epochs: float = 0.0
    gamma: float = 0.99
    step_epochs: int = 1
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    cooldown: int = 0
    min_lr: float = 0.0


@dataclass
class TrainerConfig:
    """Loop options.

    Attributes:
        epochs, steps: training length; give at most one (default: the stages' length, or
            one epoch). Steps count optimiser steps of the main (pose) optimiser.
        seed: seeds model init, data order, augmentation and dropout.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
        amp: mixed precision (bfloat16 autocast) on CUDA; ignored on CPU.
        grad_clip: clip the gradient's global norm to this (None: no clipping).
        checkpoint_every: write a checkpoint every N steps (and always at the end).
        keep_checkpoints: how many step checkpoints to keep (the final one always stays).
        val_every: validate every N epochs (0: never; the plateau schedule then reads the
            epoch's mean training loss).
        log_every: CSV / TensorBoard row every N steps.
        out: run folder (default ``runs/<name>``).
        progress: tqdm progress bar with loss and frames/s.
        tensorboard: write TensorBoard events when the ``tensorboard`` package is installed.
        sync_batchnorm: convert BatchNorm to SyncBatchNorm under DDP.
        threads: CPU threads of torch's intra-op pool (None: torch's default). On a small
            shared CPU, 1 thread per process is often much faster for small models.
        time_limit_min: stop after this many minutes of training (checked every
            ``log_every`` steps; then validated and saved like a finished run); None: no
            limit. Shipped configs use it to fit a time budget on any machine.
    """

    epochs: int | None = None
    steps: int | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    grad_clip: float | None = None
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    val_every: int = 1
    log_every: int = 20
    out: str | None = None
    progress: bool = True
    tensorboard: bool = True
    sync_batchnorm: bool = False
    threads: int | None = None
    time_limit_min: float | None = None


@dataclass
class TrainConfig:
    """A whole training run (see the module docstring for the YAML form)."""

    model: ModelConfig
    name: str = "run"
    plugins: tuple[str, ...] = ()
    data: DataConfig = field(default_factory=DataConfig)
    loss: str | dict[str, Any] | None = None
    stages: tuple[dict[str, Any], ...] = ()
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    @property
    def run_dir(self) -> Path:
        """The run folder: ``trainer.out`` or ``runs/<name>``."""
        return Path(self.trainer.out or Path("runs") / self.name)

    def loss_stages(self) -> tuple[LossStage, ...]:
        """The ``stages`` as `LossStage` records (empty when the config has none)."""
        out = []
        for i, stage in enumerate(self.stages):
            try:
                out.append(LossStage.from_dict(stage))
            except ValueError as err:
                raise ValueError(f"config.stages[{i}]: {err}") from None
        return tuple(out)


# --------------------------------------------------------------------------- parsing


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if tp is Any:
        return "anything"
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "a list"
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp):
        return "a mapping"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against annotation ``tp`` (and converted: lists to tuples, ints
    and numeric strings to floats)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ValueError(f"{where}: expected one of {list(typing.get_args(tp))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            with contextlib.suppress(ValueError):
                return _coerce(value, option, where)
        raise ValueError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is not None:
            raise ValueError(f"{where}: expected null, got {value!r}")
        return None
    if dataclasses.is_dataclass(tp):
        return _from_mapping(tp, value, where)
    if origin is tuple or tp is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__} ({value!r})")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ValueError(f"{where}: expected a list of {len(args)} items, got {len(value)}")
        return tuple(
            _coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(value).__name__} ({value!r})")
        args = typing.get_args(tp) or (str, Any)
        return {
            _coerce(k, args[0], f"{where} key"): _coerce(v, args[1], f"{where}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{where}: expected an integer, got {type(value).__name__} ({value!r})"
            )
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where}: expected a number, got {type(value).__name__} ({value!r})")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {type(value).__name__} ({value!r})")
        return value
    raise TypeError(f"{where}: unsupported annotation {tp!r}")  # a bug in this module


def _from_mapping(cls: type, data: Any, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__} ({data!r})")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"{where}.{key}: unknown key{hint} (valid keys: {', '.join(sorted(fields))})"
            )
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: missing required key {name!r}")
    return cls(**kwargs)


def _model_from_mapping(data: Any, where: str) -> ModelConfig:
    if not isinstance(data, Mapping) or "name" not in data:
        raise ValueError(
            f"{where}: expected a mapping with the registered model's 'name' and overrides of "
            f"its config, e.g. {{name: videopose3d_t27, channels: 256}}; got {data!r}"
        )
    name = data["name"]
    if not isinstance(name, str):
        raise ValueError(f"{where}.name: expected a string, got {name!r}")
    overrides = {k: v for k, v in data.items() if k != "name"}
    spec = get_model_spec(name)  # clear error for unknown names
    defaults = config_to_dict(spec.default_config)
    hints = typing.get_type_hints(type(spec.default_config))
    checked = {}
    for key, value in overrides.items():
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"{where}.{key}: unknown option of model {name!r}{hint} "
                f"(valid: {', '.join(sorted(defaults))})"
            )
        try:
            checked[key] = _coerce(value, hints.get(key, Any), f"{where}.{key}")
        except TypeError:  # an annotation this parser does not know: the registry checks it
            checked[key] = value
        if isinstance(checked[key], tuple):  # the registry's config_from_dict wants lists
            checked[key] = list(checked[key])
    return ModelConfig(name=name, overrides=checked)


def _import_plugins(plugins: Any, where: str) -> tuple[str, ...]:
    plugins = _coerce(plugins, tuple[str, ...], where)
    for i, module in enumerate(plugins):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ValueError(
                f"{where}[{i}]: cannot import plugin module {module!r}: {err}"
            ) from None
    return plugins


def config_from_mapping(data: Mapping[str, Any], *, where: str = "config") -> TrainConfig:
    """A checked `TrainConfig` from a plain mapping (parsed YAML). Plugins are imported
    first so that the models and data sources they register are known."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping at the top level, got {type(data).__name__}")
    data = dict(data)
    plugins = _import_plugins(data.pop("plugins", ()), f"{where}.plugins")
    if "model" not in data:
        raise ValueError(f"{where}: missing required section 'model' (e.g. model: {{name: ...}})")
    model = _model_from_mapping(data.pop("model"), f"{where}.model")
    config = _from_mapping(TrainConfig, {**data, "model": {"name": model.name}}, where)
    config.model = model
    config.plugins = plugins
    if config.loss is not None:
        try:
            build_loss(config.loss)
        except ValueError as err:
            raise ValueError(f"{where}.loss: {err}") from None
    config.loss_stages()  # validates
    t = config.trainer
    if t.epochs is not None and t.steps is not None:
        raise ValueError(f"{where}.trainer: give at most one of epochs and steps")
    for key in ("epochs", "steps"):
        value = getattr(t, key)
        if value is not None and value < 1:
            raise ValueError(f"{where}.trainer.{key}: must be >= 1, got {value}")
    for key in ("checkpoint_every", "log_every"):
        if getattr(t, key) < 1:
            raise ValueError(f"{where}.trainer.{key}: must be >= 1, got {getattr(t, key)}")
    if config.data.batch_size < 1:
        raise ValueError(f"{where}.data.batch_size: must be >= 1, got {config.data.batch_size}")
    if config.optim.lr <= 0:
        raise ValueError(f"{where}.optim.lr: must be > 0, got {config.optim.lr}")
    return config


def config_to_mapping(config: TrainConfig) -> dict[str, Any]:
    """Plain YAML-friendly mapping; `config_from_mapping` reads it back."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {k: plain(x) for k, x in v.items()}
        return v

    out = plain(config)
    out["model"] = {"name": config.model.name, **plain(config.model.overrides)}
    order = ["name", "plugins", "model", "data", "loss", "stages", "optim", "schedule", "trainer"]
    return {k: out[k] for k in order}


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"optim.lr=5e-4"`` -> ``(["optim", "lr"], "5e-4")``; the value is parsed as YAML."""
    if "=" not in item:
        raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. optim.lr=5e-4")
    key, _, text = item.partition("=")
    path = key.strip().split(".")
    if not all(path):
        raise ValueError(f"--set {item!r}: bad key {key!r}")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as err:
        raise ValueError(f"--set {item!r}: value is not valid YAML: {err}") from None
    return path, value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of the raw config mapping with ``--set KEY=VALUE`` items applied (missing
    intermediate mappings are created; integer keys index lists). Setting
    ``trainer.steps`` removes ``trainer.epochs`` and the other way round."""
    import copy

    out = copy.deepcopy(dict(data))
    for item in overrides:
        path, value = parse_override(item)
        # the run's length is one choice: setting steps replaces epochs and vice versa
        if path[:1] == ["trainer"] and len(path) == 2 and path[1] in ("steps", "epochs"):
            other = "epochs" if path[1] == "steps" else "steps"
            if isinstance(out.get("trainer"), dict):
                out["trainer"].pop(other, None)
        node: Any = out
        for depth, key in enumerate(path[:-1]):
            where = ".".join(path[: depth + 1])
            if isinstance(node, list):
                node = node[_list_index(key, node, item, ".".join(path[:depth]))]
            elif isinstance(node, dict):
                if node.get(key) is None:
                    node[key] = {}
                node = node[key]
            else:
                raise ValueError(f"--set {item!r}: {where} is not a mapping or list")
            if not isinstance(node, dict | list):
                raise ValueError(
                    f"--set {item!r}: {where} is a {type(node).__name__}, not a section"
                )
        last = path[-1]
        if isinstance(node, list):
            node[_list_index(last, node, item, ".".join(path[:-1]))] = value
        else:
            node[last] = value
    return out


def _list_index(key: str, node: list, item: str, where: str) -> int:
    try:
        i = int(key)
        node[i]
    except (ValueError, IndexError):
        raise ValueError(
            f"--set {item!r}: {where}: expected an index below {len(node)}, got {key!r}"
        ) from None
    return i


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a YAML config file, apply ``--set`` overrides, check it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    try:
        return config_from_mapping(apply_overrides(data, overrides))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def save_config(config: TrainConfig, path: str | Path) -> Path:
    """Write ``config`` as YAML (atomically)."""
    from poseviz.training.serialize import atomic_write_text

    text = yaml.safe_dump(config_to_mapping(config), sort_keys=False)
    return atomic_write_text(path, text)
