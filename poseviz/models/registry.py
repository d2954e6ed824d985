"""Model registry and the common lifting interface (timm-style).

Every model family lives in its own module, defines a config dataclass and registers small
factory functions::

    @register_model("videopose3d_t243", config=VideoPose3DConfig(...))
    def videopose3d_t243(config: VideoPose3DConfig) -> VideoPose3D:
        return VideoPose3D(config)

and users only call ``create_model(name, **overrides)``. Overrides replace config fields
(``create_model("videopose3d_t243", channels=256)``) and are validated against the dataclass.

**Small test configs.** The registry-parametrised tests (``tests/models/``) build every
registered model at a small size, so pass ``test_overrides`` when registering: config fields
that make the model tiny (few channels, short clips, no dropout) while keeping its structure::

    @register_model(
        "videopose3d_t243",
        config=VideoPose3DConfig(filter_widths=(3, 3, 3, 3, 3)),
        test_overrides={"channels": 16, "filter_widths": (3, 3), "dropout": 0.0},
    )

`create_test_model(name)` builds that version. The tests feed it
`LiftingModel.example_inputs`, which makes random inputs for every name in the model's
``inputs`` (``keypoints_2d`` ``(B, T, J, C)``, ``occlusion`` ``(B, T, J)``, ``image``
``(B, 3, H, W)`` with H = W = ``config.image_size`` or 64); a model whose inputs need
something else overrides ``example_inputs``. The tests check output shapes, finite values,
gradients for every parameter (through ``pose_3d`` and every floating-point tensor in
``aux``), the YAML round trip of the config, repeatable eval outputs, a tiny overfit and
``ValueError`` for malformed keypoints.

**Kinds.** Most models are *lifting* models (`LiftingModel`, returning `LiftOutput` with 3D).
A model that predicts something else registers with another ``kind``: DG-CNN's Feature-Net
is ``kind="image_2d"`` (image -> 2D heatmaps + occlusion, `poseviz.models.dgcnn`).
``list_models()`` lists lifting models only (what lifting-model tests and the compare app
iterate over); ``list_models(kind="image_2d")`` or ``list_models(kind=None)`` show the others.
`create_model` builds any kind. Every model, whatever its kind, has ``inputs`` (batch keys
it reads) and accepts them as keyword arguments: ``model(**{k: batch[k] for k in
model.inputs})``.

**Wrappers.** A name ``"<prefix>+<model>"`` resolves through the wrapper registered for
``prefix`` (`register_wrapper`), e.g. ``create_model("scotl+videopose3d_t243")`` wraps any
registered lifting model in SCoTL-pose's training (`poseviz.models.scotl`). Such names work
in `create_model` and `get_model_spec` without being listed; a wrapper module may also
`register_model` a few of them explicitly so that they are listed (and tested). A wrapper
whose own parameters only train (SCoTL's loss-net) names their prefixes in the model's
``training_only`` attribute; the registry tests check those through the model's training
steps instead of through ``forward``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import torch
import yaml
from torch import nn

__all__ = [
    "LiftOutput",
    "LiftingModel",
    "ModelSpec",
    "config_from_dict",
    "config_from_yaml",
    "config_to_dict",
    "config_to_yaml",
    "create_model",
    "create_test_model",
    "get_model_spec",
    "list_models",
    "register_model",
    "register_wrapper",
]


@dataclass
class LiftOutput:
    """What every lifting model returns.

    Attributes:
        pose_3d: ``(B, T_out, J, 3)`` root-relative 3D in metres (camera frame). ``T_out`` is
            T for sequence-to-sequence models and 1 for centre-frame models.
        aux: auxiliary outputs, e.g. ``"occlusion_logits"`` ``(B, T, J)``,
            ``"attention"`` ``(B, T, J, H, W)``, ``"intermediate"`` list of poses.
    """

    pose_3d: torch.Tensor
    aux: dict[str, Any] = field(default_factory=dict)


class LiftingModel(nn.Module):
    """Base class of all lifting models.

    Subclasses set the class attributes below (or override them as properties when they
    depend on the config), keep their config in ``self.config`` and implement ``forward``.

    Attributes:
        receptive_field: input frames one output frame depends on (1 for single-frame).
        inputs: which inputs ``forward`` uses, a subset of ``{"keypoints_2d", "occlusion",
            "image"}``.
        predicts: ``"sequence"`` (T_out = T) or ``"centre"`` (T_out = 1, the centre frame).
        num_joints: J the model was built for.
    """

    receptive_field: int = 1
    inputs: ClassVar[tuple[str, ...]] = ("keypoints_2d",)
    predicts: Literal["sequence", "centre"] = "sequence"

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @property
    def num_joints(self) -> int:
        return int(getattr(self.config, "num_joints", 17))

    def check_keypoints(
        self, keypoints_2d: torch.Tensor, channels: tuple[int, ...] = (2, 3)
    ) -> None:
        """Raise ``ValueError`` unless ``keypoints_2d`` is a floating-point ``(B, T, J, C)``
        tensor with this J and a C in ``channels``, on the device of the model's parameters."""
        J = self.num_joints
        if (
            keypoints_2d.ndim != 4
            or keypoints_2d.shape[2] != J
            or keypoints_2d.shape[3] not in channels
        ):
            want = " or ".join(str(c) for c in channels)
            raise ValueError(
                f"{type(self).__name__}: expected keypoints_2d of shape (B, T, {J}, {want}), "
                f"got {tuple(keypoints_2d.shape)}"
            )
        if not keypoints_2d.is_floating_point():
            raise ValueError(
                f"{type(self).__name__}: keypoints_2d must be a floating-point tensor, "
                f"got {keypoints_2d.dtype}"
            )
        param = next(iter(self.parameters()), None)
        if param is not None and param.device != keypoints_2d.device:
            raise ValueError(
                f"{type(self).__name__}: keypoints_2d is on {keypoints_2d.device} but the "
                f"model is on {param.device}; move one of them (model.to(device))"
            )

    def example_inputs(
        self,
        batch_size: int = 1,
        num_frames: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        """Random inputs of the right shapes for ``self(**inputs)``, on the model's device.

        ``keypoints_2d`` ``(B, T, J, C)`` in [-1, 1] (C = ``config.in_channels`` or 2; a third
        channel is a confidence in [0, 1]), plus ``occlusion`` ``(B, T, J)`` in {0, 1} and
        ``image`` ``(B, 3, H, W)`` in [0, 1] (H = W = ``config.image_size`` or 64) when the
        model lists them in ``inputs``. T defaults to the receptive field. Used by the
        registry tests and to count MACs; override it when a model needs other inputs.
        """
        T = int(num_frames if num_frames is not None else self.receptive_field)
        J, C = self.num_joints, int(getattr(self.config, "in_channels", 2))
        param = next(iter(self.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator).to(device)

        kp = rand(batch_size, T, J, C) * 2 - 1
        if C == 3:
            kp[..., 2] = (kp[..., 2] + 1) / 2
        out = {"keypoints_2d": kp}
        if "occlusion" in self.inputs:
            out["occlusion"] = (rand(batch_size, T, J) < 0.3).float()
        if "image" in self.inputs:
            size = int(getattr(self.config, "image_size", 64))
            out["image"] = rand(batch_size, 3, size, size)
        return out

    def forward(
        self, keypoints_2d: torch.Tensor, **inputs: torch.Tensor
    ) -> LiftOutput:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: factory, default config, one-line description, the config
    overrides that make its small test version, and its kind (see the module docstring)."""

    name: str
    factory: Callable[[Any], LiftingModel]
    default_config: Any
    description: str = ""
    test_overrides: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    kind: str = "lifting"


_REGISTRY: dict[str, ModelSpec] = {}
_WRAPPERS: dict[str, Callable[[str, ModelSpec], ModelSpec]] = {}


def register_model(
    name: str,
    *,
    config: Any,
    description: str = "",
    test_overrides: Mapping[str, Any] | None = None,
    kind: str = "lifting",
) -> Callable:
    """Decorator registering ``factory(config) -> LiftingModel`` under ``name`` with its
    default ``config`` (a dataclass instance) and the ``test_overrides`` (config fields) of
    its small test version. ``kind`` is ``"lifting"`` for lifting models (`LiftingModel`) or
    another label, e.g. ``"image_2d"``, for models that do not return 3D."""
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"register_model({name!r}): config must be a dataclass instance")
    overrides = MappingProxyType(dict(test_overrides or {}))
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(config)})
    if unknown:
        raise ValueError(f"register_model({name!r}): test_overrides has unknown fields {unknown}")

    def decorator(factory: Callable[[Any], LiftingModel]) -> Callable[[Any], LiftingModel]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        doc = description or (factory.__doc__ or "").strip().splitlines()[0:1]
        _REGISTRY[name] = ModelSpec(
            name,
            factory,
            config,
            doc if isinstance(doc, str) else "".join(doc),
            overrides,
            kind,
        )
        return factory

    return decorator


def register_wrapper(prefix: str, make_spec: Callable[[str, ModelSpec], ModelSpec]) -> None:
    """Resolve names ``"<prefix>+<model>"``: ``make_spec(name, inner_spec)`` returns the
    wrapped model's `ModelSpec` (``inner_spec`` is the spec of ``<model>``)."""
    if not prefix or "+" in prefix:
        raise ValueError(f"register_wrapper: bad prefix {prefix!r}")
    if prefix in _WRAPPERS:
        raise ValueError(f"wrapper {prefix!r} is already registered")
    _WRAPPERS[prefix] = make_spec


def _ensure_families_loaded() -> None:
    # Importing the package imports every family module, which registers its models.
    import poseviz.models  # noqa: F401


def list_models(kind: str | None = "lifting") -> list[str]:
    """Names of the registered models of ``kind`` (all kinds when None), sorted."""
    _ensure_families_loaded()
    return sorted(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


def get_model_spec(name: str) -> ModelSpec:
    _ensure_families_loaded()
    if name not in _REGISTRY and "+" in name:
        prefix, inner = name.split("+", 1)
        if prefix in _WRAPPERS:
            return _WRAPPERS[prefix](name, get_model_spec(inner))
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; registered models: {sorted(_REGISTRY)}"
        ) from None


def create_model(name: str, **overrides: Any) -> LiftingModel:
    """Build a registered model, replacing default config fields by ``overrides``."""
    spec = get_model_spec(name)
    config = config_from_dict(
        type(spec.default_config), {**config_to_dict(spec.default_config), **overrides}
    )
    return spec.factory(config)


def create_test_model(name: str, **overrides: Any) -> LiftingModel:
    """The small test version of a registered model: its ``test_overrides``, then
    ``overrides``."""
    return create_model(name, **{**get_model_spec(name).test_overrides, **overrides})


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain YAML-friendly data (tuples become lists)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(config)


def config_from_dict(cls: type, data: dict[str, Any], *, where: str = "") -> Any:
    """Build config dataclass ``cls`` from ``data``, with clear errors for unknown keys and
    wrong types. Nested dataclass fields are built recursively; lists become tuples where
    the default is a tuple."""
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys: {sorted(fields)}")
    defaults = (
        cls()
        if all(
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            for f in fields.values()
        )
        else None
    )
    kwargs = {}
    for key, value in data.items():
        default = getattr(defaults, key, None) if defaults is not None else None
        if dataclasses.is_dataclass(default):
            value = config_from_dict(type(default), value, where=f"{where}.{key}")
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        elif default is not None and not isinstance(value, type(default)):
            if (
                isinstance(default, float)
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                value = float(value)
            elif not (isinstance(default, tuple) and isinstance(value, tuple)):
                raise ValueError(
                    f"{where}.{key}: expected {type(default).__name__}, got {type(value).__name__} ({value!r})"
                )
        kwargs[key] = value
    return cls(**kwargs)


def config_to_yaml(config: Any) -> str:
    """A config dataclass as YAML text (`config_from_yaml` reads it back)."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def config_from_yaml(cls: type, text: str) -> Any:
    """Config dataclass ``cls`` from YAML text, validated like `config_from_dict`."""
    return config_from_dict(cls, yaml.safe_load(text) or {})
