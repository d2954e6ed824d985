"""A 3D reference from calibrated views: weighted DLT that drops the views that disagree.

`triangulate_consistent` triangulates every point with `poseviz.geometry.triangulate`
(weights = detector confidence) from every subset of at least ``min_views`` views and keeps,
per point, the largest subset whose views all reproject within ``max_error_px`` (ties: the
lowest mean reprojection error). Dropping the worst view greedily fails when one bad view
pulls the linear solution so far that a good view looks worst; with a handful of cameras
trying every subset is cheap (2^V batched solves). A point with no consistent subset is NaN:
a reference is better missing than wrong.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from poseviz.geometry import reprojection_error, triangulate
from poseviz.structures import Camera

__all__ = ["triangulate_consistent"]


def triangulate_consistent(
    points_2d: np.ndarray,
    cameras: Sequence[Camera],
    weights: np.ndarray | None = None,
    *,
    max_error_px: float = 30.0,
    min_views: int = 2,
    min_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate ``(V, ..., 2)`` pixels seen by V cameras, dropping inconsistent views.

    Args:
        points_2d: ``(V, ..., 2)`` pixels (NaN = not seen).
        cameras: the V calibrated cameras.
        weights: ``(V, ...)`` non-negative weights (e.g. confidence); views at or below
            ``min_weight`` are not used.
        max_error_px: largest reprojection error (pixels) a used view may have.
        min_views: fewest views a point needs (at least 2).
        min_weight: views with weight at or below this are not used.

    Returns:
        ``(X, used, error)``: ``(..., 3)`` world points in metres (NaN where no consistent
        set of at least ``min_views`` views exists), ``(V, ...)`` bool views used, and
        ``(V, ...)`` reprojection errors in pixels of every view against ``X`` (NaN where
        ``X`` is NaN or the view has no 2D point).
    """
    x = np.asarray(points_2d, dtype=np.float64)
    V = len(cameras)
    if x.ndim < 2 or x.shape[0] != V or x.shape[-1] != 2:
        raise ValueError(
            f"triangulate_consistent: expected points_2d (V={V}, ..., 2), got {x.shape}"
        )
    if min_views < 2:
        raise ValueError(f"triangulate_consistent: min_views must be >= 2, got {min_views}")
    w = np.ones(x.shape[:-1]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x.shape[:-1]:
        raise ValueError(f"triangulate_consistent: expected weights {x.shape[:-1]}, got {w.shape}")
    valid = np.isfinite(x).all(-1) & (w > min_weight)
    # Every subset of views, largest first: per point keep the largest subset whose views
    # all reproject within max_error_px (ties: the lowest mean error). 2^V triangulations,
    # each batched over all points (11 for four cameras).
    best_n = np.zeros(x.shape[1:-1], dtype=np.int64)
    best_err = np.full(x.shape[1:-1], np.inf)
    X_best = np.full(x.shape[1:-1] + (3,), np.nan)
    used_best = np.zeros(x.shape[:-1], dtype=bool)
    subsets = [m for m in itertools.product([False, True], repeat=V) if sum(m) >= min_views]
    for mask in sorted(subsets, key=sum, reverse=True):
        m = np.asarray(mask).reshape((V,) + (1,) * (x.ndim - 2))
        used = valid & m
        n = used.sum(0)
        if not (n >= max(min_views, 1)).any():
            continue
        X = triangulate(x, cameras, np.where(used, w, 0.0))
        err = reprojection_error(np.nan_to_num(X), np.nan_to_num(x), cameras)
        err_used = np.where(used, err, np.nan)
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.where(used, err, -np.inf), axis=0)
            mean = np.nansum(err_used, 0) / np.maximum(n, 1)
        ok = (n == sum(mask)) & (n >= min_views) & np.isfinite(X).all(-1)
        ok &= worst <= max_error_px
        better = ok & ((n > best_n) | ((n == best_n) & (mean < best_err)))
        best_n = np.where(better, n, best_n)
        best_err = np.where(better, mean, best_err)
        X_best = np.where(better[..., None], X, X_best)
        used_best = np.where(better[None], used, used_best)
    err = reprojection_error(np.nan_to_num(X_best), np.nan_to_num(x), cameras)
    seen = np.isfinite(x).all(-1) & np.isfinite(X_best).all(-1)[None]
    return X_best, used_best, np.where(seen, err, np.nan)
