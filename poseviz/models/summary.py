"""Model size and cost: parameter counts, multiply-accumulates (MACs) of one forward pass,
and a `ModelSummary` of a registered model (what ``poseviz models info`` prints).

MACs are FLOPs / 2 as `torch.utils.flop_counter.FlopCounterMode` counts them: matrix
products, convolutions and attention; element-wise operations, normalisation and softmax are
not counted (papers that use ``thop``/``ptflops`` usually leave attention's matrix products
out as well, so their figures can be lower). Counting runs on the ``meta`` device, so even the
largest model costs no memory and no arithmetic.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from poseviz.models.registry import (
    LiftingModel,
    config_to_dict,
    create_model,
    get_model_spec,
)

__all__ = ["ModelSummary", "count_macs", "count_parameters", "summarize"]


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (buffers such as batch-norm statistics and
    fixed adjacency matrices are not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _to_meta(value: Any) -> Any:
    return torch.empty_like(value, device="meta") if isinstance(value, torch.Tensor) else value


def _count(
    model: LiftingModel, inputs: Mapping[str, Any], forward_kwargs: Mapping[str, Any], *, meta: bool
) -> tuple[int, Any]:
    """(MACs, output) of one eval-mode forward pass, on meta copies of the weights and inputs
    when ``meta`` (no memory, no arithmetic) or on the real ones."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            if meta:
                state = {
                    name: _to_meta(t)
                    for name, t in itertools.chain(
                        model.named_parameters(remove_duplicate=False),
                        model.named_buffers(remove_duplicate=False),
                    )
                }
                kwargs = {**{k: _to_meta(v) for k, v in inputs.items()}, **forward_kwargs}
                out = functional_call(model, state, args=(), kwargs=kwargs)
            else:
                out = model(**inputs, **forward_kwargs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2, out


def count_macs(
    model: LiftingModel, inputs: Mapping[str, Any] | None = None, **forward_kwargs: Any
) -> int:
    """MACs of ``model(**inputs, **forward_kwargs)`` in eval mode.

    Args:
        model: any lifting model (left unchanged, on whatever device it is).
        inputs: keyword inputs of ``forward``, e.g. ``{"keypoints_2d": (B, T, J, C)}``; only
            their shapes matter. Default: ``model.example_inputs()`` (batch 1, one
            receptive field of frames).

    Returns:
        FLOPs / 2 of one forward pass as counted by ``FlopCounterMode``, run on the meta
        device; a model that cannot run there is run for real (then attention computed by
        CPU ``scaled_dot_product_attention`` kernels is not counted).
    """
    if inputs is None:
        inputs = model.example_inputs()
    try:
        return _count(model, inputs, forward_kwargs, meta=True)[0]
    except (NotImplementedError, RuntimeError):
        return _count(model, inputs, forward_kwargs, meta=False)[0]


def _primary_output(out: Any) -> torch.Tensor:
    """``pose_3d`` of a lifting model's output; ``keypoints_2d`` of a 2D image model's."""
    return out.pose_3d if hasattr(out, "pose_3d") else out.keypoints_2d


@dataclass(frozen=True)
class ModelSummary:
    """What a registered model is and costs.

    Attributes:
        name, description: registry name and one-line description.
        parameters: parameter elements.
        macs: multiply-accumulates of one forward pass on ``input_shapes``.
        input_shapes: name -> shape of the default input (batch 1, one receptive field).
        output_shape: shape of ``pose_3d`` for that input (``keypoints_2d`` for 2D models).
        receptive_field: input frames one output frame depends on.
        inputs: the inputs ``forward`` uses.
        predicts: ``"sequence"`` or ``"centre"``.
        config: the config as plain data.
    """

    name: str
    description: str
    parameters: int
    macs: int
    input_shapes: dict[str, tuple[int, ...]]
    output_shape: tuple[int, ...]
    receptive_field: int
    inputs: tuple[str, ...]
    predicts: str
    config: dict[str, Any] = field(default_factory=dict)


def summarize(name: str, *, num_frames: int | None = None, **overrides: Any) -> ModelSummary:
    """`ModelSummary` of registered model ``name`` (with config ``overrides``), its MACs
    counted on a batch of 1 clip of ``num_frames`` frames (default: the receptive field).
    The model is built on the ``meta`` device, so this is fast for any size."""
    spec = get_model_spec(name)
    try:
        with torch.device("meta"):
            model = create_model(name, **overrides)
            inputs = model.example_inputs(1, num_frames)
        macs, out = _count(model, inputs, {}, meta=True)
    except (NotImplementedError, RuntimeError):  # a model that cannot run on meta tensors
        model = create_model(name, **overrides)
        inputs = model.example_inputs(1, num_frames)
        macs, out = _count(model, inputs, {}, meta=False)
    return ModelSummary(
        name=name,
        description=spec.description,
        parameters=count_parameters(model),
        macs=macs,
        input_shapes={k: tuple(v.shape) for k, v in inputs.items()},
        output_shape=tuple(_primary_output(out).shape),
        receptive_field=int(model.receptive_field),
        inputs=tuple(model.inputs),
        predicts=str(model.predicts),
        config=config_to_dict(model.config),
    )
