"""Exports rendered off screen with PyVista (EGL/Mesa, no display): a PNG of the current
frame of one view or a whole grid, an MP4 or GIF of a frame range, and the metrics as CSV
(`poseviz.viz.metrics_table.tables_to_csv`).

The off-screen picture uses what the browser view shows: the same joints, colours, ground
grid and frustum lines, and the view's `ViewCamera`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from poseviz.skeleton import get_skeleton
from poseviz.viz.skeleton_view import BACKGROUND, SkeletonView

__all__ = ["ViewRenderer", "render_grid", "render_view", "save_image", "save_video"]

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


class ViewRenderer:
    """An off-screen PyVista scene of one `SkeletonView`; `render(frame)` returns the
    picture ``(H, W, 3)`` uint8 RGB. Frames update the points in place, so a range renders
    quickly. Call `close` when done."""

    def __init__(self, view: SkeletonView, size: tuple[int, int] = (640, 480)) -> None:
        import pyvista as pv

        self.view = view
        self.size = size
        self._pl = pv.Plotter(off_screen=True, window_size=list(size))
        self._pl.set_background([c / 255 for c in BACKGROUND])
        skel = get_skeleton(view.skeleton)
        self._bones = np.array([[p, j] for j, p in enumerate(skel.parents) if p >= 0])
        cells = np.hstack([np.full((len(self._bones), 1), 2), self._bones]).ravel()
        self._layers = []
        layers = [(view.joints, view.joint_colors, 1.0, True)]
        if view.reference is not None:
            grey = np.full(view.reference.shape, 190, np.uint8)
            layers.insert(0, (view.reference, grey, 0.55, False))
        for joints, colors, opacity, spheres in layers:
            poly = pv.PolyData(np.asarray(joints[0], np.float64), lines=cells)
            poly.point_data["rgb"] = colors[0]
            self._pl.add_mesh(
                poly, scalars="rgb", rgb=True, line_width=4 if spheres else 2, opacity=opacity
            )
            if spheres and view.joint_radius > 0:
                self._pl.add_mesh(
                    poly,
                    scalars="rgb",
                    rgb=True,
                    style="points",
                    point_size=max(4, int(view.joint_radius * 300)),
                    render_points_as_spheres=True,
                )
            self._layers.append((poly, joints, colors))
        if len(view.scene.points):
            self._pl.add_mesh(view.scene.to_polydata(), scalars="rgb", rgb=True, line_width=1)
        cam = view.view_camera
        self._pl.camera.position = cam.position
        self._pl.camera.focal_point = cam.focal_point
        self._pl.camera.up = cam.view_up
        self._pl.camera.view_angle = cam.view_angle
        self._pl.reset_camera_clipping_range()

    def render(self, frame: int | None = None) -> np.ndarray:
        """The view at ``frame`` (default: the view's current frame)."""
        f = self.view.frame if frame is None else int(frame)
        f = max(0, min(self.view.num_frames - 1, f))
        for poly, joints, colors in self._layers:
            poly.points = np.asarray(joints[f], np.float64)
            poly.point_data["rgb"] = colors[f]
        self._pl.render()
        img = self._pl.screenshot(return_img=True)
        title = self.view.title
        if title:
            cv2.putText(
                img, title, (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (235, 235, 235), 1, cv2.LINE_AA
            )
        return np.ascontiguousarray(img[..., :3])

    def close(self) -> None:
        self._pl.close()


def render_view(view: SkeletonView, frame: int | None = None, size=(640, 480)) -> np.ndarray:
    """One view at ``frame``, ``(H, W, 3)`` uint8 RGB (``size`` = width, height)."""
    r = ViewRenderer(view, size)
    try:
        return r.render(frame)
    finally:
        r.close()


def _tile(images: Sequence[np.ndarray], columns: int) -> np.ndarray:
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    out = np.zeros((rows * h, columns * w, 3), np.uint8)
    out[:] = BACKGROUND
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return out


def render_grid(
    views: Sequence[SkeletonView], frame: int | None = None, *, columns: int = 2, size=(480, 360)
) -> np.ndarray:
    """Every view at ``frame`` tiled ``columns`` wide, ``(H, W, 3)`` uint8 RGB."""
    if not views:
        raise ValueError("render_grid: no views")
    return _tile([render_view(v, frame, size) for v in views], min(columns, len(views)))


def save_image(image: np.ndarray, path: str | Path | None = None) -> bytes:
    """PNG bytes of ``image`` ``(H, W, 3)`` uint8 RGB, also written to ``path`` if given."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("save_image: OpenCV could not encode the PNG")
    data = buf.tobytes()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def save_video(
    views: Sequence[SkeletonView],
    path: str | Path,
    start: int = 0,
    stop: int | None = None,
    *,
    fps: float = 25.0,
    step: int = 1,
    columns: int = 2,
    size=(480, 360),
    progress=None,
) -> Path:
    """Render frames ``[start, stop)`` (every ``step``-th) of ``views`` tiled ``columns``
    wide to ``path``: ``.mp4`` (OpenCV, mp4v) or ``.gif`` (Pillow). ``progress(fraction)``
    is called after each frame. Returns the path."""
    path = Path(path)
    if not views:
        raise ValueError("save_video: no views")
    T = views[0].num_frames
    stop = T if stop is None else min(int(stop), T)
    if not 0 <= start < stop:
        raise ValueError(f"save_video: need 0 <= start < stop <= {T}, got {start}, {stop}")
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"save_video: {path}: expected a .mp4 or .gif file name")
    renderers = [ViewRenderer(v, size) for v in views]
    frames = range(start, stop, max(1, int(step)))
    cols = min(columns, len(views))
    try:
        if path.suffix.lower() == ".mp4":
            first = _tile([r.render(start) for r in renderers], cols)
            h, w = first.shape[:2]
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if not writer.isOpened():
                raise ValueError(f"save_video: OpenCV cannot write {path}")
            try:
                for i, f in enumerate(frames):
                    img = first if i == 0 else _tile([r.render(f) for r in renderers], cols)
                    writer.write(np.ascontiguousarray(img[..., ::-1]))
                    if progress:
                        progress((i + 1) / len(frames))
            finally:
                writer.release()
        else:
            from PIL import Image

            pics = []
            for i, f in enumerate(frames):
                pics.append(Image.fromarray(_tile([r.render(f) for r in renderers], cols)))
                if progress:
                    progress((i + 1) / len(frames))
            buf = io.BytesIO()
            pics[0].save(
                buf,
                format="GIF",
                save_all=True,
                append_images=pics[1:],
                duration=1000 / fps,
                loop=0,
            )
            path.write_bytes(buf.getvalue())
    finally:
        for r in renderers:
            r.close()
    return path
