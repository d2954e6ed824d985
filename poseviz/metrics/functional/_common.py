"""Input handling shared by the functional metrics: numpy/torch interop, validation with
clear messages, layouts and reductions. Private to ``poseviz.metrics``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from poseviz.skeleton import Skeleton, get_skeleton

REDUCTIONS = ("mean", "none")


def as_tensor(x: Any, name: str, fn: str, like: torch.Tensor | None = None) -> torch.Tensor:
    """``x`` as a floating tensor. Floating numpy arrays keep their precision (zero copy);
    other numpy/Python input becomes float64. ``like`` sets device and dtype."""
    if isinstance(x, torch.Tensor):
        t = x if x.is_floating_point() else x.double()
    else:
        try:
            arr = np.asarray(x)
            if arr.dtype not in (np.float32, np.float64):
                arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{fn}: {name} must be a numeric array, got {type(x).__name__}: {err}"
            ) from None
        t = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    if like is not None and (t.dtype != like.dtype or t.device != like.device):
        t = t.to(device=like.device, dtype=like.dtype)
    return t


def to_output(x: Any, numpy_out: bool) -> Any:
    """Convert tensors (also inside tuples/dicts) back to numpy when the input was numpy;
    0-d results become numpy scalars."""
    if not numpy_out:
        return x
    if isinstance(x, torch.Tensor):
        arr = x.detach().cpu().numpy()
        return arr[()] if arr.ndim == 0 else arr
    if isinstance(x, tuple):
        return (
            type(x)(*(to_output(v, True) for v in x))
            if hasattr(x, "_fields")
            else tuple(to_output(v, True) for v in x)
        )
    if isinstance(x, dict):
        return {k: to_output(v, True) for k, v in x.items()}
    return x


def check_finite(x: torch.Tensor, name: str, fn: str) -> None:
    """Raise ``ValueError`` naming the first NaN/inf entry of ``x``."""
    with torch.no_grad():
        # NaN and inf propagate through a sum, so one cheap reduction clears almost every
        # input; only a non-finite sum (or an overflow) pays for the elementwise check.
        if bool(torch.isfinite(x.sum())):
            return
        ok = torch.isfinite(x).all()
    if not bool(ok):
        bad = torch.nonzero(~torch.isfinite(x))[0].tolist()
        raise ValueError(f"{fn}: {name} contains NaN or inf (first at index {tuple(bad)})")


def check_reduction(reduction: str, fn: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def pose_pair(
    pred: Any,
    target: Any,
    fn: str,
    *,
    names: tuple[str, str] = ("pred", "target"),
    min_frames_axis: int | None = None,
    min_frames: int = 1,
    finite: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate a ``(..., J, 3)`` pair: same shape, at least one pose, finite values.

    ``min_frames_axis`` (negative, e.g. -3 for ``(..., T, J, 3)``) requires ``min_frames``
    entries along that axis (velocity needs 2 frames, acceleration 3).
    Returns ``(pred, target, numpy_out)`` as tensors of one dtype/device.
    """
    numpy_out = not isinstance(pred, torch.Tensor)
    p = as_tensor(pred, names[0], fn)
    t = as_tensor(target, names[1], fn, like=p)
    if p.ndim < 2 or p.shape[-1] != 3:
        raise ValueError(
            f"{fn}: expected {names[0]} of shape (..., J, 3) in metres, got {tuple(p.shape)}"
        )
    if t.shape != p.shape:
        raise ValueError(
            f"{fn}: {names[0]} and {names[1]} must have the same shape (..., J, 3), "
            f"got {tuple(p.shape)} and {tuple(t.shape)}"
        )
    if p.numel() == 0:
        raise ValueError(f"{fn}: empty input of shape {tuple(p.shape)} (no poses to evaluate)")
    if min_frames_axis is not None:
        if p.ndim < -min_frames_axis or p.shape[min_frames_axis] < min_frames:
            raise ValueError(
                f"{fn}: expected at least {min_frames} frames along the time axis of "
                f"(..., T, J, 3), got shape {tuple(p.shape)}"
            )
    if finite:
        check_finite(p, names[0], fn)
        check_finite(t, names[1], fn)
    return p, t, numpy_out


def resolve_layout(layout: str | Skeleton, num_joints: int, fn: str) -> Skeleton:
    """The `Skeleton` for ``layout``; its joint count must equal ``num_joints``."""
    skeleton = layout if isinstance(layout, Skeleton) else get_skeleton(layout)
    if skeleton.num_joints != num_joints:
        raise ValueError(
            f"{fn}: layout {skeleton.name!r} has {skeleton.num_joints} joints but the input has "
            f"{num_joints} (expected shape (..., {skeleton.num_joints}, 3))"
        )
    return skeleton


def resolve_root(root: int | None, num_joints: int, fn: str) -> int | None:
    if root is not None and not -num_joints <= root < num_joints:
        raise ValueError(f"{fn}: root joint {root} is out of range for {num_joints} joints")
    return root


def root_relative(x: torch.Tensor, root: int | None) -> torch.Tensor:
    """Subtract the ``root`` joint of each pose (``None``: unchanged)."""
    return x if root is None else x - x[..., root : root + 1, :]


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """``"mean"``: the mean of all entries (accumulated in float64, returned in the input
    dtype); ``"none"``: ``values`` unchanged."""
    if reduction == "none":
        return values
    return values.mean(dtype=torch.float64).to(values.dtype)


def chunked(
    fn: Callable[..., Any], inputs: Sequence[torch.Tensor], chunk: int, *, dim: int = 0
) -> Any:
    """Apply ``fn`` to slices of ``inputs`` along ``dim`` (``chunk`` at a time) and
    concatenate the outputs (tensors, or tuples/dicts of tensors). Keeps temporaries in
    cache for large batches; with one chunk it is a plain call."""
    n = inputs[0].shape[dim]
    if n <= chunk:
        return fn(*inputs)
    parts = [fn(*(x.narrow(dim, s, min(chunk, n - s)) for x in inputs)) for s in range(0, n, chunk)]
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(parts, dim)
    if isinstance(first, dict):
        return {k: torch.cat([p[k] for p in parts], dim) for k in first}
    return type(first)(torch.cat([p[i] for p in parts], dim) for i in range(len(first)))


ERROR_REDUCTIONS = ("mean", "joint", "pose", "none")


def check_error_reduction(reduction: str, fn: str) -> None:
    if reduction not in ERROR_REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {ERROR_REDUCTIONS}, got {reduction!r}")


def reduce_errors(errors: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce ``(..., J)`` per-joint values: ``"mean"`` -> scalar, ``"joint"`` -> ``(J,)``
    (mean over all poses), ``"pose"`` -> ``(...,)`` (mean over joints), ``"none"`` ->
    unchanged. Means accumulate in float64 and come back in the input dtype."""
    if reduction == "none":
        return errors
    if reduction == "pose":
        return errors.mean(-1)
    if reduction == "joint":
        return errors.reshape(-1, errors.shape[-1]).mean(0, dtype=torch.float64).to(errors.dtype)
    return errors.mean(dtype=torch.float64).to(errors.dtype)


def joint_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per joint of ``(..., J, 3)`` arrays -> ``(..., J)``. Sums the three
    coordinates as strided slices (several times faster on a CPU than reducing the trailing
    axis of size 3). Differentiable; the gradient at zero distance is set to 0."""
    d = (a - b).square()
    sq = d[..., 0] + d[..., 1] + d[..., 2]
    if not sq.requires_grad:
        return sq.sqrt()
    tiny = torch.finfo(sq.dtype).tiny
    return torch.where(sq > 0, sq.clamp_min(tiny).sqrt(), torch.zeros_like(sq))


CHUNK_POSES = 8192  # poses per chunk: keeps the temporaries in the CPU cache
