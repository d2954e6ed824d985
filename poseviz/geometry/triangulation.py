"""Multi-view triangulation (weighted DLT) and reprojection error."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from poseviz.geometry._backend import as_tensor, to_numpy_if
from poseviz.geometry.camera import project, undistort
from poseviz.structures import Camera

__all__ = ["reprojection_error", "triangulate"]


def _check_views(points_2d: torch.Tensor, cameras: Sequence[Camera], fn: str) -> None:
    if points_2d.ndim < 2 or points_2d.shape[-1] != 2:
        raise ValueError(
            f"{fn}: expected points_2d of shape (V, ..., 2) pixels, got {tuple(points_2d.shape)}"
        )
    if points_2d.shape[0] != len(cameras):
        raise ValueError(
            f"{fn}: points_2d has {points_2d.shape[0]} views but {len(cameras)} cameras were given"
        )


def triangulate(points_2d, cameras: Sequence[Camera], weights=None):
    """Triangulate points seen by V calibrated cameras with a weighted linear DLT.

    Each view contributes two equations in undistorted normalised coordinates, scaled by its
    weight; views whose 2D point is NaN get weight 0. Needs at least two views with
    non-zero weight per point (otherwise the result is NaN).

    Args:
        points_2d: ``(V, ..., 2)`` pixel coordinates, one slice per camera.
        cameras: the V `Camera` objects, in the same order.
        weights: optional ``(V, ...)`` non-negative per-view weights (e.g. confidences).

    Returns:
        ``(..., 3)`` world points in metres (numpy in, numpy out).
    """
    numpy_out = not isinstance(points_2d, torch.Tensor)
    x = as_tensor(points_2d)
    _check_views(x, cameras, "triangulate")
    V = x.shape[0]
    w = (
        torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
        if weights is None
        else as_tensor(weights, x)
    )
    if w.shape != x.shape[:-1]:
        raise ValueError(
            f"triangulate: expected weights of shape {tuple(x.shape[:-1])}, got {tuple(w.shape)}"
        )
    if (w < 0).any():
        raise ValueError("triangulate: weights must be non-negative")
    valid = torch.isfinite(x).all(-1) & (w > 0)
    w = torch.where(valid, w, torch.zeros_like(w))
    rows = []
    for v, cam in enumerate(cameras):
        xy = undistort(torch.nan_to_num(x[v]), cam)
        P = torch.cat([as_tensor(cam.R, x), as_tensor(cam.t, x)[:, None]], 1)  # (3, 4)
        rows.append((xy[..., 0:1] * P[2] - P[0]) * w[v][..., None])
        rows.append((xy[..., 1:2] * P[2] - P[1]) * w[v][..., None])
    A = torch.stack(rows, -2)  # (..., 2V, 4)
    # Scale each point's system so the SVD's precision does not depend on the weights' size.
    A = A / A.flatten(-2).norm(dim=-1).clamp_min(1e-300)[..., None, None]
    _, _, Vh = torch.linalg.svd(A)
    X = Vh[..., -1, :]
    out = X[..., :3] / X[..., 3:4]
    enough = valid.sum(0) >= 2 if V else torch.zeros(x.shape[1:-1], dtype=torch.bool)
    out = torch.where(enough[..., None], out, torch.full_like(out, float("nan")))
    return to_numpy_if(out, numpy_out)


def reprojection_error(points_3d, points_2d, cameras: Sequence[Camera]):
    """Pixel distance between projected ``(..., 3)`` world points and observed
    ``(V, ..., 2)`` pixels, per view: returns ``(V, ...)`` (NaN where unobserved)."""
    numpy_out = not isinstance(points_3d, torch.Tensor)
    X = as_tensor(points_3d)
    x = as_tensor(points_2d, X)
    _check_views(x, cameras, "reprojection_error")
    if x.shape[1:-1] != X.shape[:-1]:
        raise ValueError(
            f"reprojection_error: points_3d {tuple(X.shape)} and points_2d {tuple(x.shape)} disagree"
        )
    err = torch.stack([(project(X, cam) - x[v]).norm(dim=-1) for v, cam in enumerate(cameras)])
    return to_numpy_if(err, numpy_out)
