"""Heatmaps to coordinates: the soft-argmax of integral regression (Sun et al., ECCV 2018).

Pixel convention: ``x`` is the column index and ``y`` the row index of a heatmap, pixel
centres sit at integer coordinates, so coordinates lie in ``[0, W - 1] x [0, H - 1]``.
"""

from __future__ import annotations

import torch

from poseviz.geometry._backend import as_tensor, to_numpy_if

__all__ = ["soft_argmax_2d"]


def soft_argmax_2d(heatmaps, *, beta: float = 1.0, softmax: bool = True):
    """Expected pixel position of each heatmap (differentiable "integral" argmax).

    With ``softmax=True`` each map is turned into a distribution by a softmax over its
    ``H * W`` pixels, ``p = softmax(beta * h)``; with ``softmax=False`` the maps must be
    non-negative and are divided by their sum. The result is ``sum_{y,x} p[y, x] * (x, y)``.

    Args:
        heatmaps: ``(..., H, W)`` scores (logits when ``softmax=True``), e.g. ``(B, K, H, W)``.
        beta: softmax inverse temperature (> 0); larger values approach the hard argmax.
        softmax: normalise with a softmax (True) or by the sum of non-negative maps (False).

    Returns:
        ``(..., 2)`` coordinates ``(x, y)`` in heatmap pixels, same type as ``heatmaps``
        (numpy in, numpy out); differentiable in torch.
    """
    numpy_out = not isinstance(heatmaps, torch.Tensor)
    h = as_tensor(heatmaps)
    if h.ndim < 2 or h.shape[-1] < 1 or h.shape[-2] < 1:
        raise ValueError(
            f"soft_argmax_2d: expected heatmaps of shape (..., H, W), got {tuple(h.shape)}"
        )
    if not (beta > 0 and float(beta) < float("inf")):
        raise ValueError(f"soft_argmax_2d: beta must be a positive finite number, got {beta!r}")
    H, W = h.shape[-2:]
    flat = h.flatten(-2)
    if softmax:
        p = torch.softmax(beta * flat, dim=-1)
    else:
        total = flat.sum(-1, keepdim=True)
        if bool((flat < 0).any()) or bool((total <= 0).any()):
            raise ValueError(
                "soft_argmax_2d: with softmax=False every heatmap must be non-negative with a "
                "positive sum"
            )
        p = flat / total
    p = p.unflatten(-1, (H, W))
    xs = torch.arange(W, dtype=p.dtype, device=p.device)
    ys = torch.arange(H, dtype=p.dtype, device=p.device)
    x = (p.sum(-2) * xs).sum(-1)
    y = (p.sum(-1) * ys).sum(-1)
    return to_numpy_if(torch.stack([x, y], dim=-1), numpy_out)
