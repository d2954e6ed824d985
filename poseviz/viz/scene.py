"""Static scene geometry for the skeleton views, built with PyVista: the ground grid and a
camera's frustum, as line sets the browser view draws once and the off-screen exporter
renders.

Display coordinates are metres with +y up (`poseviz.viz.analysis.display_rotation` maps a
sequence's world frame there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from poseviz.structures import Camera

__all__ = ["LineSet", "camera_frustum", "ground_grid", "merge_lines"]

GRID_COLOR = (95, 99, 110)
FRUSTUM_COLOR = (230, 200, 60)


@dataclass(frozen=True)
class LineSet:
    """Line segments: ``points`` ``(N, 3)`` float32 metres, ``lines`` ``(M, 2)`` int32 point
    indices, ``colors`` ``(N, 3)`` uint8 RGB per point."""

    points: np.ndarray
    lines: np.ndarray
    colors: np.ndarray

    @classmethod
    def empty(cls) -> LineSet:
        return cls(
            np.zeros((0, 3), np.float32), np.zeros((0, 2), np.int32), np.zeros((0, 3), np.uint8)
        )

    def to_polydata(self):  # -> pyvista.PolyData
        """The segments as a `pyvista.PolyData` with an ``"rgb"`` point array."""
        import pyvista as pv

        cells = np.hstack([np.full((len(self.lines), 1), 2), self.lines]).ravel()
        poly = pv.PolyData(self.points.astype(np.float64), lines=cells)
        poly.point_data["rgb"] = self.colors
        return poly


def _from_polydata(poly, color: tuple[int, int, int]) -> LineSet:
    lines = poly.lines.reshape(-1, 3)
    if len(lines) and not (lines[:, 0] == 2).all():
        raise ValueError("_from_polydata: expected two-point line cells only")
    points = np.asarray(poly.points, dtype=np.float32)
    colors = np.tile(np.array(color, dtype=np.uint8), (len(points), 1))
    return LineSet(points, lines[:, 1:].astype(np.int32), colors)


def merge_lines(*sets: LineSet) -> LineSet:
    """One `LineSet` holding all of ``sets``."""
    sets = tuple(s for s in sets if s is not None and len(s.points))
    if not sets:
        return LineSet.empty()
    offsets = np.cumsum([0] + [len(s.points) for s in sets[:-1]])
    return LineSet(
        np.concatenate([s.points for s in sets]).astype(np.float32),
        np.concatenate([s.lines + o for s, o in zip(sets, offsets, strict=True)]).astype(np.int32),
        np.concatenate([s.colors for s in sets]).astype(np.uint8),
    )


def ground_grid(
    center: np.ndarray, size: float, *, height: float = 0.0, cells: int = 10
) -> LineSet:
    """A square grid on the plane ``y = height`` (display coordinates, metres).

    Args:
        center: ``(3,)`` or ``(2,)``; the grid is centred on its x and z (``(x, z)`` for 2).
        size: side length in metres.
        height: the floor's y in metres.
        cells: cells per side.
    """
    import pyvista as pv

    c = np.asarray(center, dtype=np.float64).ravel()
    if c.shape not in ((2,), (3,)):
        raise ValueError(f"ground_grid: center must be (3,) or (2,), got {c.shape}")
    if not (np.isfinite(size) and size > 0) or int(cells) < 1:
        raise ValueError(f"ground_grid: need size > 0 and cells >= 1, got {size}, {cells}")
    x, z = (c[0], c[2]) if len(c) == 3 else (c[0], c[1])
    plane = pv.Plane(
        center=(x, height, z),
        direction=(0, 1, 0),
        i_size=size,
        j_size=size,
        i_resolution=int(cells),
        j_resolution=int(cells),
    )
    return _from_polydata(plane.extract_all_edges(), GRID_COLOR)


def camera_frustum(camera: Camera, to_display: np.ndarray, *, depth: float = 0.4) -> LineSet:
    """The pyramid from ``camera``'s centre to its image corners at ``depth`` metres along
    the optical axis, in display coordinates (``to_display`` is the ``(3, 3)`` world ->
    display rotation). Distortion is ignored (the frustum is a guide, not a measurement)."""
    import pyvista as pv

    R = np.asarray(to_display, dtype=np.float64)
    if R.shape != (3, 3):
        raise ValueError(f"camera_frustum: to_display must be (3, 3), got {R.shape}")
    w, h = camera.width, camera.height
    corners_px = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    rays = np.column_stack(
        [(corners_px[:, 0] - camera.cx) / camera.fx, (corners_px[:, 1] - camera.cy) / camera.fy]
    )
    cam_pts = np.column_stack([rays * depth, np.full(4, depth)])  # camera frame
    world = (cam_pts - camera.t) @ camera.R  # R^T (x - t)
    pts = np.vstack([camera.center, world]) @ R.T
    lines = [[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]]
    cells = np.hstack([np.full((len(lines), 1), 2), np.array(lines)]).ravel()
    return _from_polydata(pv.PolyData(pts, lines=cells), FRUSTUM_COLOR)
