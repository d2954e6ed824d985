"""numpy/torch interop: each geometry op is written once in torch; numpy in gives numpy out."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def as_tensor(x: Any, like: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` as a floating tensor (float64 for numpy and Python input), on ``like``'s device."""
    if isinstance(x, torch.Tensor):
        t = x if x.is_floating_point() else x.double()
    else:
        arr = np.asarray(x, dtype=np.float64)
        t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype if like.is_floating_point() else t.dtype)
    return t


def to_numpy_if(result: Any, numpy_out: bool) -> Any:
    if not numpy_out:
        return result
    if isinstance(result, torch.Tensor):
        return result.detach().cpu().numpy()
    if isinstance(result, tuple):
        return tuple(to_numpy_if(r, True) for r in result)
    if isinstance(result, dict):
        return {k: to_numpy_if(v, True) for k, v in result.items()}
    return result


def numpy_compat(fn: Callable) -> Callable:
    """Run ``fn`` on tensors; if its first argument is not a tensor, return numpy."""

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        numpy_out = not isinstance(x, torch.Tensor)
        return to_numpy_if(fn(as_tensor(x), *args, **kwargs), numpy_out)

    return wrapper


def check_last(x: torch.Tensor, size: int, name: str, fn: str) -> None:
    if x.ndim < 1 or x.shape[-1] != size:
        raise ValueError(f"{fn}: expected {name} of shape (..., {size}), got {tuple(x.shape)}")
