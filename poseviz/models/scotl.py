"""SCoTL-pose (seed ``002_5b68cd8bf437b001.txt``): a trainable graph loss-net for any pose-net.

The seed is an abstract only; this module follows it and the structured-energy-as-loss
(SEAL) recipe it cites. ``scotl+<name>`` wraps any registered lifting model ``<name>``
(the *pose-net*, ``model.pose_net``) together with a *loss-net* (``model.loss_net``,
`EnergyNet`): an energy ``E(x, y)`` of a 2D input ``x`` and a 3D pose ``y``, low for
plausible pairs. The loss-net is a graph network over the joints: each block has a
skeleton-adjacency graph convolution (local relations: separate weights for a joint and
its bone neighbours) and multi-head self-attention over all joints (global relations),
each with a residual; the mean over joints goes through an MLP to one scalar per pose,
averaged over the output frames.

**Inference.** ``forward`` calls the pose-net only and returns its `LiftOutput` unchanged:
the loss-net costs nothing at inference (same outputs, same parameters used, same FLOPs;
tests/models/test_scotl.py checks it). ``export_pose_net()`` gives the bare pose-net.

**Training contract (what a trainer runs, without model-specific code).**

- ``model.training_stages()`` -> `LossStage.to_dict`-style dicts, exactly as for other
  models: the pose-net's own stages (freeze prefixes moved under ``pose_net.``) or one
  ``{"mpjpe": 1.0}`` stage. A stage's `CombinedLoss` is the *task loss* below.
- ``model.training_steps()`` -> tuple of `TrainingStep` (``name``, ``train`` =
  parameter-name prefixes that step's optimiser updates, ``repeat``), read from
  ``config.steps`` (default: one loss-net step, then one pose-net step, per batch). The
  trainer builds one optimiser per step over ``model.named_parameters()`` whose names start
  with a ``train`` prefix, and for every batch runs each step ``repeat`` times, in order::

      for step in model.training_steps():
          for _ in range(step.repeat):
              optimisers[step.name].zero_grad()
              result = model.step_loss(step.name, batch, criterion=stage_loss)
              result.total.backward()
              optimisers[step.name].step()

- ``model.step_loss(name, batch, criterion=None)`` -> `StepLoss` (``total`` to
  backpropagate, detached ``parts`` to log, the pose-net ``output``). Gradients reach only
  the step's own parameters:

  * ``"loss_net"``: the pose-net predicts ``y_hat`` without gradients; the margin objective
    ``mean(relu(Delta(y_hat, y) + E(x, y) - E(x, y_hat))) + energy_l2 * mean(E^2)`` pushes the
    energy of the prediction above the energy of the truth by at least the task loss
    ``Delta = margin_scale * MPJPE(y_hat, y)`` (metres); the small L2 term keeps energies
    bounded (the margin only fixes differences).
  * ``"pose_net"``: ``task + energy_weight * mean(E(x, y_hat))`` with the loss-net's
    weights held fixed (``torch.func.functional_call`` with detached parameters); ``task``
    is ``criterion(output, batch).total`` when a stage loss is given, else MPJPE.

``batch`` follows `poseviz.data.batch`: the pose-net's ``inputs`` plus ``pose_3d``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from poseviz.models.layers.skeleton_graph import (
    as_skeleton,
    normalize_adjacency,
    skeleton_adjacency,
)
from poseviz.models.registry import (
    LiftingModel,
    LiftOutput,
    ModelSpec,
    config_from_dict,
    config_to_dict,
    get_model_spec,
    register_model,
    register_wrapper,
)

__all__ = [
    "STEP_NAMES",
    "EnergyNet",
    "SCoTLConfig",
    "SCoTLPose",
    "StepLoss",
    "TrainingStep",
    "per_sample_mpjpe",
]

STEP_NAMES = ("loss_net", "pose_net")


@dataclass(frozen=True)
class TrainingStep:
    """One optimisation step of an alternating schedule.

    Attributes:
        name: what `SCoTLPose.step_loss` computes (``"loss_net"`` or ``"pose_net"``).
        train: prefixes of ``model.named_parameters()`` names this step's optimiser updates.
        repeat: how many times the step runs per batch.
    """

    name: str
    train: tuple[str, ...]
    repeat: int = 1


class StepLoss(NamedTuple):
    """What `SCoTLPose.step_loss` returns: ``total`` (scalar to backpropagate), ``parts``
    (label -> detached scalar, for logging) and the pose-net's ``output``."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor]
    output: LiftOutput


def _default_steps() -> tuple[dict, ...]:
    return (
        {"name": "loss_net", "train": ["loss_net"], "repeat": 1},
        {"name": "pose_net", "train": ["pose_net"], "repeat": 1},
    )


@dataclass
class SCoTLConfig:
    """SCoTL-pose wrapper hyper-parameters (the abstract gives none; these are ours).

    Attributes:
        pose_net: registered lifting model to wrap.
        pose_net_config: overrides of the pose-net's registered config (empty: its default).
        skeleton: layout whose bones form the loss-net's graph.
        hidden, layers, heads: loss-net width, number of (graph conv + attention) blocks and
            attention heads.
        energy_weight: lambda of the pose-net step (``task + lambda * E``).
        margin_scale: ``Delta = margin_scale * MPJPE`` (metres) in the margin objective.
        energy_l2: weight of the energies' squared mean in the loss-net step.
        steps: the alternating schedule, dicts ``{"name", "train", "repeat"}``.
    """

    pose_net: str = "dgcnn_lifting_net"
    pose_net_config: dict = field(default_factory=dict)
    skeleton: str = "h36m17"
    hidden: int = 128
    layers: int = 3
    heads: int = 4
    energy_weight: float = 0.1
    margin_scale: float = 1.0
    energy_l2: float = 1e-3
    steps: tuple[dict, ...] = field(default_factory=_default_steps)

    def __post_init__(self) -> None:
        # plain YAML types inside the free-form fields, so a YAML round trip is exact
        self.pose_net_config = config_to_dict(dict(self.pose_net_config))
        self.steps = tuple(
            config_to_dict(dict(s)) if isinstance(s, Mapping) else s for s in self.steps
        )


def per_sample_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error of each sample, the task loss Delta of the margin:
    ``(B, T, J, 3), (B, T, J, 3) -> (B,)`` in the input unit (metres)."""
    return torch.linalg.vector_norm(pred - target, dim=-1).flatten(1).mean(1)


class _EnergyBlock(nn.Module):
    """Graph convolution over bones (local) then self-attention over joints (global), then a
    feed-forward layer; pre-norm residuals. ``(N, J, D) -> (N, J, D)``."""

    def __init__(self, dim: int, heads: int, adjacency: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("adjacency", adjacency.clone(), persistent=False)
        self.norm_graph = nn.LayerNorm(dim)
        self.self_weight = nn.Linear(dim, dim)
        self.neighbour_weight = nn.Linear(dim, dim, bias=False)
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.norm_graph(h)
        neighbours = torch.einsum("uv,nvd->nud", self.adjacency, x)
        h = h + F.gelu(self.self_weight(x) + self.neighbour_weight(neighbours))
        x = self.norm_attn(h)
        h = h + self.attn(x, x, x, need_weights=False)[0]
        return h + self.ffn(self.norm_ffn(h))


class EnergyNet(nn.Module):
    """SCoTL-pose's loss-net: ``forward(keypoints_2d (B, T, J, 2 or 3), pose_3d (B, T_out,
    J, 3))`` -> energy ``(B,)``, averaged over the ``T_out`` output frames. Each output
    frame is paired with its 2D frame: all T when ``T_out == T``, the centre frame
    ``T // 2`` when ``T_out == 1``."""

    def __init__(
        self, skeleton: str = "h36m17", *, hidden: int = 128, layers: int = 3, heads: int = 4
    ):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"EnergyNet: hidden {hidden} is not divisible by heads {heads}")
        if layers < 1:
            raise ValueError(f"EnergyNet: layers must be >= 1, got {layers}")
        skel = as_skeleton(skeleton)
        self.num_joints = skel.num_joints
        adjacency = normalize_adjacency(skeleton_adjacency(skel))
        self.embed = nn.Linear(5, hidden)
        self.joint_embed = nn.Parameter(torch.zeros(skel.num_joints, hidden))
        nn.init.trunc_normal_(self.joint_embed, std=0.02)
        self.blocks = nn.ModuleList(_EnergyBlock(hidden, heads, adjacency) for _ in range(layers))
        self.readout = nn.Sequential(
            nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1)
        )

    def forward(self, keypoints_2d: torch.Tensor, pose_3d: torch.Tensor) -> torch.Tensor:
        J = self.num_joints
        if (
            keypoints_2d.ndim != 4
            or keypoints_2d.shape[2] != J
            or keypoints_2d.shape[3] not in (2, 3)
        ):
            raise ValueError(
                f"EnergyNet: expected keypoints_2d of shape (B, T, {J}, 2 or 3), got "
                f"{tuple(keypoints_2d.shape)}"
            )
        B, T = keypoints_2d.shape[:2]
        if pose_3d.ndim != 4 or pose_3d.shape[0] != B or pose_3d.shape[2:] != (J, 3):
            raise ValueError(
                f"EnergyNet: expected pose_3d of shape ({B}, T_out, {J}, 3), got "
                f"{tuple(pose_3d.shape)}"
            )
        T_out = pose_3d.shape[1]
        if T_out == T:
            x = keypoints_2d[..., :2]
        elif T_out == 1:
            x = keypoints_2d[:, T // 2 : T // 2 + 1, :, :2]
        else:
            raise ValueError(
                f"EnergyNet: pose_3d has {T_out} frames; expected T = {T} or 1 (centre frame)"
            )
        nodes = torch.cat([x.to(pose_3d), pose_3d], -1).flatten(0, 1)  # (B * T_out, J, 5)
        h = self.embed(nodes) + self.joint_embed
        for block in self.blocks:
            h = block(h)
        energy = self.readout(h.mean(1)).view(B, T_out)
        return energy.mean(1)


class SCoTLPose(LiftingModel):
    """A registered pose-net trained with SCoTL-pose's loss-net (module docstring).

    ``forward(keypoints_2d, **inputs)`` is the pose-net's forward, unchanged.

    Attributes:
        training_only: parameter-name prefixes that ``forward`` never uses (the loss-net);
            they train through `step_loss`.
    """

    training_only: tuple[str, ...] = ("loss_net",)

    def __init__(self, config: SCoTLConfig) -> None:
        super().__init__(config)
        if config.pose_net.startswith("scotl+"):
            raise ValueError("SCoTLConfig.pose_net: cannot wrap a SCoTL model in another")
        spec = get_model_spec(config.pose_net)
        if spec.kind != "lifting":
            raise ValueError(
                f"SCoTLConfig.pose_net: {config.pose_net!r} is a {spec.kind!r} model; SCoTL "
                f"wraps lifting models"
            )
        pose_config = config_from_dict(
            type(spec.default_config),
            {**config_to_dict(spec.default_config), **config.pose_net_config},
            where=f"SCoTLConfig.pose_net_config ({config.pose_net})",
        )
        self.pose_net = spec.factory(pose_config)
        self.loss_net = EnergyNet(
            config.skeleton, hidden=config.hidden, layers=config.layers, heads=config.heads
        )
        if self.loss_net.num_joints != self.pose_net.num_joints:
            raise ValueError(
                f"SCoTLConfig: skeleton {config.skeleton!r} has {self.loss_net.num_joints} "
                f"joints but the pose-net predicts {self.pose_net.num_joints}"
            )
        for key in ("energy_weight", "margin_scale", "energy_l2"):
            if not getattr(config, key) >= 0:
                raise ValueError(f"SCoTLConfig.{key}: must be >= 0, got {getattr(config, key)}")
        self._steps = self._parse_steps(config.steps)

    # -- the pose-net's interface ------------------------------------------------------------
    @property
    def inputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.pose_net.inputs)

    @property
    def predicts(self) -> str:  # type: ignore[override]
        return self.pose_net.predicts

    @property
    def receptive_field(self) -> int:  # type: ignore[override]
        return self.pose_net.receptive_field

    @property
    def num_joints(self) -> int:
        return self.pose_net.num_joints

    def example_inputs(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]:
        """The pose-net's `example_inputs`."""
        return self.pose_net.example_inputs(*args, **kwargs)

    def forward(self, keypoints_2d: torch.Tensor, **inputs: Any) -> LiftOutput:
        return self.pose_net(keypoints_2d, **inputs)

    def export_pose_net(self) -> LiftingModel:
        """The wrapped pose-net alone (what to ship for inference)."""
        return self.pose_net

    # -- training ----------------------------------------------------------------------------
    def _parse_steps(self, steps: Any) -> tuple[TrainingStep, ...]:
        if not steps:
            raise ValueError("SCoTLConfig.steps: need at least one step")
        names = {n for n, _ in self.named_parameters()}
        out = []
        for i, step in enumerate(steps):
            where = f"SCoTLConfig.steps[{i}]"
            if not isinstance(step, Mapping) or set(step) - {"name", "train", "repeat"}:
                raise ValueError(
                    f"{where}: expected a mapping with keys name, train, repeat; got {step!r}"
                )
            name = step.get("name")
            if name not in STEP_NAMES:
                raise ValueError(f"{where}.name: expected one of {STEP_NAMES}, got {name!r}")
            train = step.get("train", [name])
            train = (train,) if isinstance(train, str) else tuple(train)
            for prefix in train:
                if not any(n == prefix or n.startswith(prefix + ".") for n in names):
                    raise ValueError(f"{where}.train: prefix {prefix!r} matches no parameter")
            repeat = step.get("repeat", 1)
            if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
                raise ValueError(f"{where}.repeat: expected a positive integer, got {repeat!r}")
            out.append(TrainingStep(name, train, repeat))
        return tuple(out)

    def training_steps(self) -> tuple[TrainingStep, ...]:
        """The alternating schedule run on every batch (module docstring)."""
        return self._steps

    def training_stages(self) -> tuple[dict[str, Any], ...]:
        """The pose-net's stages (freeze prefixes under ``pose_net.``), or one MPJPE stage;
        each stage's loss is the task loss of the pose-net step."""
        inner: Callable[[], Any] | None = getattr(self.pose_net, "training_stages", None)
        if inner is None:
            return ({"name": "scotl", "epochs": 80, "weights": {"mpjpe": 1.0}},)
        stages = []
        for stage in inner():
            stage = dict(stage)
            if stage.get("freeze"):
                stage["freeze"] = [f"pose_net.{p}" for p in stage["freeze"]]
            stages.append(stage)
        return tuple(stages)

    def energy(
        self, keypoints_2d: torch.Tensor, pose_3d: torch.Tensor, *, frozen: bool = False
    ) -> torch.Tensor:
        """``E(x, y)`` ``(B,)`` (see `EnergyNet`); with ``frozen`` no gradient reaches the
        loss-net's parameters (gradients still flow to ``pose_3d``)."""
        if not frozen:
            return self.loss_net(keypoints_2d, pose_3d)
        params = {n: p.detach() for n, p in self.loss_net.named_parameters()}
        params.update(dict(self.loss_net.named_buffers()))
        return functional_call(self.loss_net, params, (keypoints_2d, pose_3d))

    def _pose_inputs(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        missing = [k for k in (*self.inputs, "pose_3d") if k not in batch]
        if missing:
            raise ValueError(f"SCoTLPose.step_loss: batch lacks keys {missing}")
        return {k: batch[k] for k in self.inputs}

    def step_loss(
        self,
        name: str,
        batch: Mapping[str, Any],
        criterion: Callable[[Any, Mapping[str, Any]], Any] | None = None,
    ) -> StepLoss:
        """The objective of training step ``name`` on ``batch`` (module docstring).

        Args:
            name: ``"loss_net"`` or ``"pose_net"``.
            batch: dict with the pose-net's inputs and ``pose_3d`` ``(B, T_out, J, 3)``.
            criterion: the stage's task loss (e.g. a `CombinedLoss`), called as
                ``criterion(output, batch)`` and read through ``.total``; MPJPE when None.
        """
        inputs = self._pose_inputs(batch)
        target = batch["pose_3d"]
        x = batch["keypoints_2d"]
        c = self.config
        if name == "loss_net":
            with torch.no_grad():
                output = self.pose_net(**inputs)
            pred = output.pose_3d.detach()
            if pred.shape != target.shape:
                raise ValueError(
                    f"SCoTLPose.step_loss: prediction {tuple(pred.shape)} and batch['pose_3d'] "
                    f"{tuple(target.shape)} differ"
                )
            e_pred = self.energy(x, pred)
            e_true = self.energy(x, target.to(pred))
            delta = c.margin_scale * per_sample_mpjpe(pred, target.to(pred))
            margin = F.relu(delta + e_true - e_pred).mean()
            reg = (e_pred.square().mean() + e_true.square().mean()) / 2
            total = margin + c.energy_l2 * reg
            parts = {
                "margin": margin.detach(),
                "energy_pred": e_pred.mean().detach(),
                "energy_true": e_true.mean().detach(),
            }
            return StepLoss(total, parts, output)
        if name == "pose_net":
            output = self.pose_net(**inputs)
            if criterion is None:
                task = per_sample_mpjpe(output.pose_3d, target.to(output.pose_3d)).mean()
            else:
                task = criterion(output, batch).total
            energy = self.energy(x, output.pose_3d, frozen=True).mean()
            total = task + c.energy_weight * energy
            return StepLoss(total, {"task": task.detach(), "energy": energy.detach()}, output)
        raise ValueError(f"SCoTLPose.step_loss: unknown step {name!r}; steps are {STEP_NAMES}")


#: Loss-net size of the small test versions (`create_test_model`).
SMALL_LOSS_NET = {"hidden": 16, "layers": 1, "heads": 2}


def _scotl_spec(name: str, inner: ModelSpec) -> ModelSpec:
    if inner.kind != "lifting":
        raise ValueError(f"{name!r}: SCoTL wraps lifting models; {inner.name!r} is {inner.kind!r}")
    return ModelSpec(
        name=name,
        factory=SCoTLPose,
        default_config=SCoTLConfig(pose_net=inner.name),
        description=f"SCoTL-pose trainable loss around {inner.name}",
        test_overrides={"pose_net_config": dict(inner.test_overrides), **SMALL_LOSS_NET},
    )


register_wrapper("scotl", _scotl_spec)


@register_model(
    "scotl+dgcnn_lifting_net",
    config=SCoTLConfig(pose_net="dgcnn_lifting_net"),
    test_overrides={
        "pose_net_config": {"hidden": 32, "frames": 4, "dilation": 2, "branch_layers": 2},
        **SMALL_LOSS_NET,
    },
)
def scotl_dgcnn_lifting_net(config: SCoTLConfig) -> SCoTLPose:
    """DG-CNN Lifting-Net trained with SCoTL-pose's graph loss-net."""
    return SCoTLPose(config)
