"""Batched similarity (Procrustes) and scale-only alignment of point sets."""

from __future__ import annotations

import torch

from poseviz.geometry._backend import as_tensor, to_numpy_if

__all__ = ["procrustes_align", "scale_align"]


def _check_pair(pred: torch.Tensor, target: torch.Tensor, fn: str) -> None:
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(
            f"{fn}: expected pred and target of the same shape (..., J, 3), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def procrustes_align(pred, target, *, scale: bool = True, return_transform: bool = False):
    """Align each pose in ``pred`` to ``target`` by the similarity transform that minimises
    the squared error: rotation (reflections excluded), uniform scale and translation.

    The same solution as VideoPose3D's ``p_mpjpe`` (SVD of the centred cross-covariance,
    with the sign of the last singular vector flipped when it would give a reflection).

    Args:
        pred, target: ``(..., J, 3)`` in metres; batch dimensions are aligned independently.
        scale: estimate the scale (similarity); ``False`` gives a rigid alignment.
        return_transform: also return ``(s, R, t)`` with shapes ``(...,)``, ``(..., 3, 3)``,
            ``(..., 3)`` such that ``aligned = s * pred @ R + t``.

    Returns:
        ``(..., J, 3)`` aligned ``pred`` (numpy in, numpy out); differentiable in torch.
    """
    numpy_out = not isinstance(pred, torch.Tensor)
    Y = as_tensor(pred)
    X = as_tensor(target, Y)
    _check_pair(Y, X, "procrustes_align")
    mu_x, mu_y = X.mean(-2, keepdim=True), Y.mean(-2, keepdim=True)
    X0, Y0 = X - mu_x, Y - mu_y
    norm_x = X0.flatten(-2).norm(dim=-1).clamp_min(1e-12)[..., None, None]
    norm_y = Y0.flatten(-2).norm(dim=-1).clamp_min(1e-12)[..., None, None]
    X0, Y0 = X0 / norm_x, Y0 / norm_y
    H = X0.transpose(-1, -2) @ Y0
    U, s, Vh = torch.linalg.svd(H)
    V = Vh.transpose(-1, -2)
    # Exclude reflections: flip the last singular direction when det(V U^T) < 0.
    sign = torch.sign(torch.linalg.det(V @ U.transpose(-1, -2)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    flip = torch.cat([torch.ones_like(s[..., :2]), sign[..., None]], -1)
    V = V * flip[..., None, :]
    R = V @ U.transpose(-1, -2)
    if scale:
        a = (s * flip).sum(-1)[..., None, None] * norm_x / norm_y
    else:
        a = torch.ones_like(norm_x)
    t = mu_x - a * mu_y @ R
    aligned = a * Y @ R + t
    if not return_transform:
        return to_numpy_if(aligned, numpy_out)
    return to_numpy_if((aligned, (a[..., 0, 0], R, t[..., 0, :])), numpy_out)


def scale_align(pred, target):
    """Scale each ``(..., J, 3)`` pose in ``pred`` by the least-squares factor
    ``<pred, target> / <pred, pred>`` (the N-MPJPE alignment of Rhodin et al. 2018)."""
    numpy_out = not isinstance(pred, torch.Tensor)
    Y = as_tensor(pred)
    X = as_tensor(target, Y)
    _check_pair(Y, X, "scale_align")
    num = (Y * X).sum((-1, -2), keepdim=True)
    den = (Y * Y).sum((-1, -2), keepdim=True).clamp_min(1e-12)
    return to_numpy_if(Y * (num / den), numpy_out)
