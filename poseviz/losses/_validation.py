"""Input checks and reductions shared by every loss (clear ``ValueError``s at the boundary)."""

from __future__ import annotations

from typing import Literal

import torch

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` to per-item loss values (already checked by `check_reduction`)."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_tensor(x: object, name: str, fn: str) -> torch.Tensor:
    """``x`` must be a floating-point tensor."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{fn}: {name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_finite(x: torch.Tensor, name: str, fn: str) -> None:
    """Raise when ``x`` holds NaN or inf, naming the first bad index."""
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        first = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        raise ValueError(
            f"{fn}: {name} contains NaN or inf (first at index {first}); drop or mask missing "
            f"joints before computing the loss"
        )


def check_pair(
    pred: object,
    target: object,
    fn: str,
    *,
    layout: str = "(..., J, 3)",
    channels: int | None = 3,
    min_ndim: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a prediction/target pair and return them with ``target`` cast to ``pred``'s dtype.

    Both must be floating tensors of the same shape with at least ``min_ndim`` dims and
    (when ``channels`` is given) ``channels`` entries in the last axis, on the same device;
    ``target`` must be finite. ``layout`` is the shape shown in error messages.
    """
    pred = check_tensor(pred, "pred", fn)
    target = check_tensor(target, "target", fn)
    if (
        pred.shape != target.shape
        or pred.ndim < min_ndim
        or (channels is not None and pred.shape[-1] != channels)
    ):
        raise ValueError(
            f"{fn}: expected pred and target of the same shape {layout}, got pred "
            f"{_shape_text(tuple(pred.shape))} and target {_shape_text(tuple(target.shape))}"
        )
    if pred.device != target.device:
        raise ValueError(
            f"{fn}: pred is on {pred.device} but target is on {target.device}; move both to one "
            f"device"
        )
    check_finite(target, "target", fn)
    return pred, target.to(pred.dtype)


def check_weight(value: float, name: str, fn: str) -> float:
    """A finite, non-negative scalar weight."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: {name} must be a number, got {value!r}") from None
    if not (value >= 0 and value < float("inf")):
        raise ValueError(f"{fn}: {name} must be finite and >= 0, got {value}")
    return value
