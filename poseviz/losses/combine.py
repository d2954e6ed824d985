"""Combining losses by name, and multi-stage schedules as data the trainer reads.

Every loss of this package is registered under a short name with the place its two inputs
come from. A *reference* is ``"output.<field>"`` (an attribute or key of the model's
`LiftOutput`, e.g. ``output.pose_3d``), ``"output.aux.<key>"`` (an auxiliary output) or
``"batch.<key>"`` (a key of the training batch dict, see the brief's batch contract)::

    name              pred                         target                       equation
    mpjpe             output.pose_3d               batch.pose_3d                RePOSE eq. 1
    weighted_mpjpe    output.pose_3d               batch.pose_3d                (joint_weights=...)
    velocity          output.pose_3d               batch.pose_3d                MPJVE
    integral_2d       output.aux.heatmaps          batch.keypoints_2d_heatmap   DG-CNN eq. 6
    focal_occlusion   output.aux.occlusion_logits  batch.occlusion              DG-CNN eq. 7
    limb_joint        output.pose_3d               batch.pose_3d                DG-CNN eq. 11
    psim_similarity   output.pose_3d               batch.pose_3d                1 - PSIM+ (eq. 12)
    repose_spatial    output.pose_3d               batch.pose_3d                RePOSE eq. 2
    repose_temporal   output.pose_3d               batch.pose_3d                RePOSE eq. 3
    mse_pose          output.pose_3d               batch.pose_3d                LbI eq. 3
    gla_global        output.aux.sequence_3d       batch.pose_3d_sequence       GLA-GCN eq. 4
    gla_local         output.pose_3d               batch.pose_3d                GLA-GCN eq. 8

(`list_losses()` gives the current list.) Keys beyond the brief's batch contract, which
the data pipeline or the model must provide for the losses that read them:
``batch.keypoints_2d_heatmap`` ``(B, K, 2)`` ground-truth 2D in heatmap pixels,
``batch.pose_3d_sequence`` ``(B, T, J, 3)`` the whole clip's 3D for a centre-frame model,
``output.aux.heatmaps`` ``(B, K, H, W)`` and ``output.aux.sequence_3d`` ``(B, T, J, 3)``.
Any reference can be re-pointed per term (below). ``repose_temporal`` on a centre-frame
output (``T_out = 1``) has no frame pairs and is 0: point it at a sequence output.

A training config combines any of them with any model in one line::

    criterion = build_loss({"mpjpe": 1.0, "repose_spatial": 20.0, "repose_temporal": 20.0})
    result = criterion(model(batch["keypoints_2d"]), batch)
    result.total.backward()          # sum of weight * loss
    log(result.parts)                # unweighted, detached value of each term

``build_loss`` takes ``{name: weight}``, a preset name (`PRESETS`: ``"repose"``,
``"dgcnn_feature_net"``, ...), or per-term mappings for options and re-wiring::

    build_loss({
        "mpjpe": 1.0,
        "weighted_mpjpe": {"weight": 0.5, "joint_weights": [1.0] * 17},
        "coarse": {"loss": "mse_pose", "weight": 0.3, "pred": "output.aux.coarse_3d"},
    })

where ``loss`` (default: the dict key) names the registered loss, ``pred``/``target``
override the references, and every other key is passed to the loss module's constructor.

Stages (GLA-GCN's global-then-local training, Lifting by Image's progressive training) are
`LossStage` records: a name, a length in epochs or steps, the loss spec above, and the
parameter-name prefixes to freeze. `LossStage.to_dict`/`from_dict` round-trip through
YAML; `stage_at(stages, epoch=e)` says which stage an epoch (or step) belongs to.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import torch
from torch import nn

from poseviz.losses.dgcnn import (
    FocalOcclusionLoss,
    Integral2DLoss,
    LimbJointLoss,
    PSIMSimilarityLoss,
)
from poseviz.losses.gla_gcn import GlobalSequenceLoss, LocalPoseLoss
from poseviz.losses.lifting_by_image import MSEPoseLoss
from poseviz.losses.position import MPJPELoss, VelocityLoss, WeightedMPJPELoss
from poseviz.losses.relational_depth import SpatialDepthLoss, TemporalDepthLoss

__all__ = [
    "PRESETS",
    "CombinedLoss",
    "LossResult",
    "LossSpec",
    "LossStage",
    "build_loss",
    "get_loss",
    "get_loss_spec",
    "gla_gcn_stages",
    "lifting_by_image_stages",
    "list_losses",
    "register_loss",
    "stage_at",
]


@dataclass(frozen=True)
class LossSpec:
    """A registered loss: its module factory and where its ``(pred, target)`` come from."""

    name: str
    factory: Callable[..., nn.Module]
    pred: str
    target: str
    description: str = ""


_REGISTRY: dict[str, LossSpec] = {}


def _check_reference(ref: object, what: str) -> str:
    if not isinstance(ref, str):
        raise ValueError(f"{what}: expected a reference string, got {ref!r}")
    parts = ref.split(".")
    ok = (
        (parts[0] == "batch" and len(parts) == 2)
        or (parts[0] == "output" and len(parts) == 2 and parts[1] != "aux")
        or (parts[0] == "output" and len(parts) == 3 and parts[1] == "aux")
    )
    if not ok or not all(parts):
        raise ValueError(
            f"{what}: expected 'output.<field>', 'output.aux.<key>' or 'batch.<key>', got {ref!r}"
        )
    return ref


def register_loss(
    name: str, *, pred: str = "output.pose_3d", target: str = "batch.pose_3d", description: str = ""
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator registering a module factory (usually the loss class) under ``name``."""
    _check_reference(pred, f"register_loss({name!r}) pred")
    _check_reference(target, f"register_loss({name!r}) target")

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"register_loss: a loss named {name!r} is already registered")
        _REGISTRY[name] = LossSpec(name, factory, pred, target, description)
        return factory

    return decorate


def list_losses() -> list[str]:
    """Names of the registered losses."""
    return sorted(_REGISTRY)


def get_loss_spec(name: str) -> LossSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; registered losses: {list_losses()}") from None


def get_loss(name: str, **kwargs: Any) -> nn.Module:
    """The registered loss ``name`` as a module, ``kwargs`` going to its constructor."""
    spec = get_loss_spec(name)
    try:
        inspect.signature(spec.factory).bind(**kwargs)
    except TypeError as err:
        params = [p for p in inspect.signature(spec.factory).parameters if p != "self"]
        raise ValueError(
            f"loss {name!r}: bad options {sorted(kwargs)} ({err}); it accepts {params}"
        ) from None
    return spec.factory(**kwargs)


for _name, _cls, _pred, _target, _desc in [
    ("mpjpe", MPJPELoss, "output.pose_3d", "batch.pose_3d", "MPJPE (RePOSE eq. 1), metres"),
    ("weighted_mpjpe", WeightedMPJPELoss, "output.pose_3d", "batch.pose_3d", "per-joint weighted MPJPE"),
    ("velocity", VelocityLoss, "output.pose_3d", "batch.pose_3d", "MPJVE, metres/frame"),
    ("integral_2d", Integral2DLoss, "output.aux.heatmaps", "batch.keypoints_2d_heatmap", "DG-CNN eq. 6"),
    ("focal_occlusion", FocalOcclusionLoss, "output.aux.occlusion_logits", "batch.occlusion", "DG-CNN eq. 7"),
    ("limb_joint", LimbJointLoss, "output.pose_3d", "batch.pose_3d", "DG-CNN eq. 11"),
    ("psim_similarity", PSIMSimilarityLoss, "output.pose_3d", "batch.pose_3d", "1 - PSIM+ (DG-CNN eq. 12 L_sim)"),
    ("repose_spatial", SpatialDepthLoss, "output.pose_3d", "batch.pose_3d", "RePOSE eq. 2"),
    ("repose_temporal", TemporalDepthLoss, "output.pose_3d", "batch.pose_3d", "RePOSE eq. 3"),
    ("mse_pose", MSEPoseLoss, "output.pose_3d", "batch.pose_3d", "Lifting by Image eq. 3"),
    ("gla_global", GlobalSequenceLoss, "output.aux.sequence_3d", "batch.pose_3d_sequence", "GLA-GCN eq. 4"),
    ("gla_local", LocalPoseLoss, "output.pose_3d", "batch.pose_3d", "GLA-GCN eq. 8"),
]:  # fmt: skip
    register_loss(_name, pred=_pred, target=_target, description=_desc)(_cls)


#: Each paper's combination, usable as ``build_loss("repose")`` or as a starting dict.
PRESETS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "mpjpe": {"mpjpe": 1.0},
        # RePOSE eq. 4, lambda_S = lambda_T = 20 (§4.2)
        "repose": {"mpjpe": 1.0, "repose_spatial": 20.0, "repose_temporal": 20.0},
        # DG-CNN eq. 8, w_2D = 0.999, w_OC = 0.001 (§5.2)
        "dgcnn_feature_net": {"integral_2d": 0.999, "focal_occlusion": 0.001},
        # DG-CNN eq. 12, w_3D = 0.1, w_sim = 0.9 (§5.2)
        "dgcnn_lifting_net": {"limb_joint": 0.1, "psim_similarity": 0.9},
        # Lifting by Image eq. 3 (both stages)
        "lifting_by_image": {"mse_pose": 1.0},
        # GLA-GCN §3.2: stage 1 L_global + L_local, stage 2 L_local
        "gla_gcn_stage1": {"gla_global": 1.0, "gla_local": 1.0},
        "gla_gcn_stage2": {"gla_local": 1.0},
    }
)


class LossResult(NamedTuple):
    """What `CombinedLoss` returns: ``total`` (scalar to backpropagate, the weighted sum) and
    ``parts`` (term label -> detached unweighted scalar, for logging)."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor]


@dataclass(frozen=True)
class _Term:
    label: str
    loss: str
    weight: float
    pred: str
    target: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> float | dict[str, Any]:
        """The term as `build_loss` reads it: the bare weight when nothing else is set."""
        out: dict[str, Any] = {"weight": self.weight}
        spec = _REGISTRY[self.loss]
        if self.loss != self.label:
            out["loss"] = self.loss
        if self.pred != spec.pred:
            out["pred"] = self.pred
        if self.target != spec.target:
            out["target"] = self.target
        out.update(self.options)
        return out if len(out) > 1 else self.weight


def _parse_weight(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: weight must be a number, got {value!r}")
    value = float(value)
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"{what}: weight must be finite and >= 0, got {value}")
    return value


def _parse_terms(spec: str | Mapping[str, Any], what: str = "build_loss") -> list[_Term]:
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"{what}: unknown preset {spec!r}; presets: {sorted(PRESETS)}")
        spec = PRESETS[spec]
    if not isinstance(spec, Mapping) or not spec:
        raise ValueError(
            f"{what}: expected a preset name or a non-empty mapping of loss name -> weight "
            f"(or -> options), got {spec!r}"
        )
    terms = []
    for label, value in spec.items():
        where = f"{what}[{label!r}]"
        if not isinstance(label, str) or not label:
            raise ValueError(f"{what}: term labels must be non-empty strings, got {label!r}")
        if isinstance(value, Mapping):
            opts = dict(value)
            if "weight" not in opts:
                raise ValueError(f"{where}: missing 'weight'")
            weight = _parse_weight(opts.pop("weight"), where)
            loss = opts.pop("loss", label)
        else:
            weight, loss, opts = _parse_weight(value, where), label, {}
        reg = get_loss_spec(loss)
        pred = _check_reference(opts.pop("pred", reg.pred), f"{where} pred")
        target = _check_reference(opts.pop("target", reg.target), f"{where} target")
        terms.append(_Term(label, loss, weight, pred, target, MappingProxyType(opts)))
    return terms


def _resolve(ref: str, output: Any, batch: Mapping[str, Any], label: str) -> torch.Tensor:
    parts = ref.split(".")
    if parts[0] == "batch":
        if not isinstance(batch, Mapping) or parts[1] not in batch:
            keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ValueError(f"loss term {label!r} needs batch[{parts[1]!r}]; the batch has {keys}")
        return batch[parts[1]]
    if parts[1] == "aux":
        aux = output.get("aux", {}) if isinstance(output, Mapping) else getattr(output, "aux", {})
        if parts[2] not in aux:
            raise ValueError(
                f"loss term {label!r} needs the model's auxiliary output {parts[2]!r} "
                f"({ref}); the model returned aux keys {sorted(aux)}"
            )
        return aux[parts[2]]
    if isinstance(output, Mapping):
        if parts[1] not in output:
            raise ValueError(
                f"loss term {label!r} needs output[{parts[1]!r}]; got {sorted(output)}"
            )
        return output[parts[1]]
    if not hasattr(output, parts[1]):
        raise ValueError(
            f"loss term {label!r} needs output.{parts[1]}; {type(output).__name__} has no such field"
        )
    return getattr(output, parts[1])


class CombinedLoss(nn.Module):
    """A weighted sum of registered losses, wired to model outputs and batch keys.

    Build it with `build_loss`. ``forward(output, batch)`` takes the model's `LiftOutput`
    (or a dict with the same fields) and the training batch dict and returns a `LossResult`.
    """

    def __init__(self, terms: Sequence[_Term]) -> None:
        super().__init__()
        self.terms = tuple(terms)
        self.losses = nn.ModuleDict(
            {t.label: get_loss(t.loss, **dict(t.options)) for t in self.terms}
        )

    @property
    def weights(self) -> dict[str, float]:
        """Term label -> weight."""
        return {t.label: t.weight for t in self.terms}

    def to_dict(self) -> dict[str, Any]:
        """The spec `build_loss` reads back (plain types, YAML-friendly)."""
        return {t.label: t.to_dict() for t in self.terms}

    def extra_repr(self) -> str:
        return " + ".join(f"{t.weight:g} * {t.label}" for t in self.terms)

    def forward(self, output: Any, batch: Mapping[str, Any]) -> LossResult:
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for t in self.terms:
            pred = _resolve(t.pred, output, batch, t.label)
            target = _resolve(t.target, output, batch, t.label)
            try:
                value = self.losses[t.label](pred, target)
            except ValueError as err:
                raise ValueError(f"loss term {t.label!r} ({t.pred} vs {t.target}): {err}") from None
            parts[t.label] = value.detach()
            total = t.weight * value if total is None else total + t.weight * value
        assert total is not None  # terms are never empty
        return LossResult(total, parts)


def build_loss(spec: str | Mapping[str, Any]) -> CombinedLoss:
    """A `CombinedLoss` from a preset name or a mapping (see the module docstring).

    Examples:
        >>> build_loss({"mpjpe": 1.0, "repose_spatial": 20.0, "repose_temporal": 20.0})
        >>> build_loss("dgcnn_feature_net")
    """
    return CombinedLoss(_parse_terms(spec))


@dataclass(frozen=True)
class LossStage:
    """One stage of a training schedule, as the trainer reads it.

    Attributes:
        name: label shown in logs, e.g. ``"global+local"``.
        weights: the `build_loss` spec of this stage (loss name -> weight, or -> options).
        epochs, steps: the stage's length; give exactly one (positive integer).
        freeze: prefixes of ``model.named_parameters()`` names that do not train in this stage
            (``"stage1"`` freezes ``stage1.*``); `frozen_parameters` resolves them.
    """

    name: str
    weights: Mapping[str, Any]
    epochs: int | None = None
    steps: int | None = None
    freeze: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        what = f"LossStage {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"LossStage: name must be a non-empty string, got {self.name!r}")
        if (self.epochs is None) == (self.steps is None):
            raise ValueError(f"{what}: give exactly one of epochs or steps")
        for key in ("epochs", "steps"):
            value = getattr(self, key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{what}: {key} must be a positive integer, got {value!r}")
        terms = _parse_terms(self.weights, what)  # validates names, weights and references
        object.__setattr__(self, "weights", MappingProxyType({t.label: t.to_dict() for t in terms}))
        freeze = (self.freeze,) if isinstance(self.freeze, str) else tuple(self.freeze)
        if not all(isinstance(p, str) and p for p in freeze):
            raise ValueError(f"{what}: freeze must be parameter-name prefixes, got {self.freeze!r}")
        object.__setattr__(self, "freeze", freeze)

    @property
    def length(self) -> int:
        """The stage's length in its unit (epochs or steps)."""
        return int(self.epochs if self.epochs is not None else self.steps)  # type: ignore[arg-type]

    @property
    def unit(self) -> str:
        return "epochs" if self.epochs is not None else "steps"

    def build(self) -> CombinedLoss:
        """This stage's `CombinedLoss`."""
        return build_loss(self.weights)

    def frozen_parameters(self, model: nn.Module) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` pairs of ``model`` matched by ``freeze``; a prefix matching
        nothing raises, so a renamed module cannot silently train."""
        named = list(model.named_parameters())
        out = []
        for prefix in self.freeze:
            hits = [(n, p) for n, p in named if n == prefix or n.startswith(prefix + ".")]
            if not hits:
                roots = sorted({n.split(".")[0] for n, _ in named})
                raise ValueError(
                    f"LossStage {self.name!r}: freeze prefix {prefix!r} matches no parameter; "
                    f"top-level modules are {roots}"
                )
            out.extend(hits)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for YAML (`from_dict` reads it back)."""
        out: dict[str, Any] = {"name": self.name, self.unit: self.length}
        out["weights"] = {
            k: v if isinstance(v, float) else dict(v) for k, v in self.weights.items()
        }
        if self.freeze:
            out["freeze"] = list(self.freeze)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LossStage:
        if not isinstance(data, Mapping):
            raise ValueError(f"LossStage.from_dict: expected a mapping, got {type(data).__name__}")
        allowed = {"name", "weights", "epochs", "steps", "freeze"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(
                f"LossStage.from_dict: unknown keys {sorted(unknown)}; allowed {sorted(allowed)}"
            )
        missing = {"name", "weights"} - set(data)
        if missing:
            raise ValueError(f"LossStage.from_dict: missing keys {sorted(missing)}")
        return cls(
            name=data["name"],
            weights=data["weights"],
            epochs=data.get("epochs"),
            steps=data.get("steps"),
            freeze=tuple(data.get("freeze", ())),
        )


def stage_at(
    stages: Iterable[LossStage], *, epoch: int | None = None, step: int | None = None
) -> tuple[int, LossStage]:
    """Index and stage that a 0-based ``epoch`` (or ``step``) falls in; stages run in order
    and must all count the same unit."""
    stages = tuple(stages)
    if not stages:
        raise ValueError("stage_at: no stages given")
    if (epoch is None) == (step is None):
        raise ValueError("stage_at: give exactly one of epoch or step")
    unit, at = ("epochs", epoch) if epoch is not None else ("steps", step)
    if {s.unit for s in stages} != {unit}:
        raise ValueError(
            f"stage_at: asked by {unit[:-1]} but the stages count {sorted({s.unit for s in stages})}"
        )
    if at < 0:
        raise ValueError(f"stage_at: {unit[:-1]} must be >= 0, got {at}")
    end = 0
    for i, stage in enumerate(stages):
        end += stage.length
        if at < end:
            return i, stage
    raise ValueError(f"stage_at: {unit[:-1]} {at} is past the end of the schedule ({end} {unit})")


def gla_gcn_stages(stage1_epochs: int, stage2_epochs: int) -> tuple[LossStage, LossStage]:
    """GLA-GCN's two-stage schedule (seed 003 §3.2): first ``L_global + L_local`` (eqs. 4, 8),
    then ``L_local`` alone. The paper trains 80 epochs on Human3.6M (§4.2) but does not state
    the split, so both lengths are required."""
    return (
        LossStage("global+local", dict(PRESETS["gla_gcn_stage1"]), epochs=stage1_epochs),
        LossStage("local", dict(PRESETS["gla_gcn_stage2"]), epochs=stage2_epochs),
    )


def lifting_by_image_stages(
    stage1_epochs: int, stage2_epochs: int, *, stage1_modules: Sequence[str] = ("stage1",)
) -> tuple[LossStage, LossStage]:
    """Lifting by Image's progressive training (seed 004 §3): Stage 1 "Broad Query" and
    Stage 2 "Focused Exploration", both on the MSE pose loss (eq. 3); Stage 2 freezes the
    weights trained in Stage 1 (``stage1_modules``: their parameter-name prefixes in the
    model). The paper gives no stage lengths, so both are required."""
    return (
        LossStage("broad query", dict(PRESETS["lifting_by_image"]), epochs=stage1_epochs),
        LossStage(
            "focused exploration",
            dict(PRESETS["lifting_by_image"]),
            epochs=stage2_epochs,
            freeze=tuple(stage1_modules),
        ),
    )
