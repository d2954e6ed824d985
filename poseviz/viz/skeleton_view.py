"""The 3D skeleton view: a sequence player in the browser.

`SkeletonView` sends the whole sequence to the browser once (positions and joint colours of
every frame as float32/uint8 arrays); a frame change then costs O(J) in the browser whatever
the sequence length (``_skeleton_canvas.js``). A plain ``pn.pane.VTK`` re-serialises the
scene on every change (0.6-1.1 s per update), which is fine for static scenes only.

Two drawing backends (``renderer``): ``"canvas"`` (default), a 2D canvas with a
perspective camera and depth-sorted bones and joints, and ``"vtk"``, the vtk.js that Panel
bundles (WebGL). Without a GPU, as in headless, remote or virtual-machine browsers, WebGL
runs in a software rasteriser and every canvas is read back for compositing; four vtk.js
views then update several times slower than four 2D canvases (``benchmarks/app.py``
measures both in the same run). The static scene (ground grid, frustum) is built with
PyVista either way, and exports render off screen with PyVista.

Coordinates are display coordinates: metres, +y up (`poseviz.viz.analysis` maps world and
camera frames there). Views that share a `ViewCamera` follow each other's camera; views
with the same ``group`` follow the frames of that group's `PlaybackControls` in the
browser, without a round trip to the server.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import param
from panel.custom import JSComponent

from poseviz.skeleton import get_skeleton
from poseviz.viz.colors import COLOR_MODES, GREY, joint_colors
from poseviz.viz.scene import LineSet, ground_grid, merge_lines

__all__ = [
    "RENDERERS",
    "SkeletonCanvas",
    "SkeletonView",
    "ViewCamera",
    "default_camera",
    "ground_for",
]

BACKGROUND = (28, 30, 36)
# "canvas": a 2D canvas (fast without a GPU); "vtk": Panel's bundled vtk.js on WebGL.
RENDERERS = ("canvas", "vtk")
_IDS = itertools.count()


class ViewCamera(param.Parameterized):
    """A 3D view's camera (display coordinates, metres). Views holding the same instance
    move together."""

    position = param.List(default=[0.0, 1.0, 4.0], item_type=float)
    focal_point = param.List(default=[0.0, 1.0, 0.0], item_type=float)
    view_up = param.List(default=[0.0, 1.0, 0.0], item_type=float)
    view_angle = param.Number(default=30.0, bounds=(1, 179))

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": list(self.position),
            "focal_point": list(self.focal_point),
            "view_up": list(self.view_up),
            "view_angle": float(self.view_angle),
        }

    def set_from(self, state: dict[str, Any]) -> None:
        """Update from a ``{"position", "focal_point", "view_up", "view_angle"}`` dict."""
        values = {
            k: [float(v) for v in state[k]]
            for k in ("position", "focal_point", "view_up")
            if k in state
        }
        if "view_angle" in state:
            values["view_angle"] = float(state["view_angle"])
        self.param.update(**values)


def default_camera(joints: np.ndarray, *, azimuth_deg: float = 25.0) -> ViewCamera:
    """A camera that frames ``joints`` ``(T, J, 3)`` (display coordinates, metres) from the
    front-right, slightly above, the whole motion in view."""
    pts = np.asarray(joints, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(1)]
    if not len(pts):
        return ViewCamera()
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 1.0)
    dist = radius / np.sin(np.radians(15.0)) * 0.9  # the motion's bounding sphere in view
    a = np.radians(azimuth_deg)
    direction = np.array([np.sin(a), 0.3, np.cos(a)])
    direction /= np.linalg.norm(direction)
    return ViewCamera(
        position=[float(v) for v in center + dist * direction],
        focal_point=[float(v) for v in center],
        view_up=[0.0, 1.0, 0.0],
    )


def ground_for(points: np.ndarray) -> LineSet:
    """A ground grid under ``points`` ``(N, 3)`` (display coordinates, metres): at their
    lowest y, centred on them, 1 m wider than their extent on each side, 0.5 m cells."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(1)]
    if not len(pts):
        return LineSet.empty()
    lo, hi = pts.min(0), pts.max(0)
    size = float(np.ceil(max(hi[0] - lo[0], hi[2] - lo[2]) + 2.0))
    return ground_grid((lo + hi) / 2, size, height=float(lo[1]), cells=int(size * 2))


class SkeletonCanvas(JSComponent):
    """The browser side of `SkeletonView` (one vtk.js render window). Arrays are flat:
    ``positions`` ``(L * T * J * 3,)`` float32, ``colors`` the same length in uint8,
    ``positions_shape`` ``[L, T, J]``."""

    positions = param.Array(default=np.zeros(0, np.float32))
    positions_shape = param.List(default=[0, 0, 0])
    colors = param.Array(default=np.zeros(0, np.uint8))
    edges = param.List(default=[])
    layer_style = param.List(default=[])
    scene_points = param.Array(default=np.zeros(0, np.float32))
    scene_lines = param.List(default=[])
    scene_colors = param.Array(default=np.zeros(0, np.uint8))
    frame = param.Integer(default=0)
    group = param.String(default="")
    link = param.String(default="")
    camera = param.Dict(default={})
    title = param.String(default="")
    background = param.List(default=list(BACKGROUND))
    view_id = param.String(default="")
    renderer = param.Selector(
        default="canvas",
        objects=list(RENDERERS),
        doc="'vtk' needs Panel's vtk.js on the page: pn.extension('vtk')",
    )

    _esm = Path(__file__).parent / "_skeleton_canvas.js"


class SkeletonView(pn.viewable.Viewer):
    """One skeleton sequence in 3D, coloured by ``color_mode``, with a ground grid.

    Args (params):
        joints: ``(T, J, 3)`` display coordinates in metres (+y up).
        reference: optional ``(T, J, 3)`` drawn as a thin grey ghost (e.g. ground truth).
        skeleton: layout name of ``joints`` (bones and left/right from it).
        frame: the frame shown (ignored in the browser while ``group`` is set: the group's
            playback controls drive the view there).
        color_mode: one of `poseviz.viz.colors.COLOR_MODES`; the arrays it needs:
            ``error_mm``, ``sensitive``, ``occluded``, ``occlusion_prob``, ``confidence``,
            each ``(T, J)``. A mode without its array falls back to ``"side"`` and lists
            itself in ``unavailable_modes``.
        extra_lines: static `LineSet` drawn with the ground (e.g. a camera frustum).
        ground_lines: the ground grid to draw when ``ground`` is on (default: one fitted
            to this view's joints; a grid of views passes one grid to all).
        view_camera: the `ViewCamera`; assign another view's to link the two.
    """

    joints = param.Array(default=None)
    reference = param.Array(default=None)
    skeleton = param.String(default="h36m17")
    frame = param.Integer(default=0, bounds=(0, None))
    title = param.String(default="")
    color_mode = param.Selector(default="side", objects=list(COLOR_MODES))
    error_mm = param.Array(default=None)
    sensitive = param.Array(default=None)
    occluded = param.Array(default=None)
    occlusion_prob = param.Array(default=None)
    confidence = param.Array(default=None)
    error_max_mm = param.Number(default=150.0, bounds=(1, None))
    ground = param.Boolean(default=True)
    extra_lines = param.ClassSelector(class_=LineSet, default=None, allow_None=True)
    ground_lines = param.ClassSelector(class_=LineSet, default=None, allow_None=True)
    view_camera = param.ClassSelector(class_=ViewCamera, default=None)
    group = param.String(default="")
    height = param.Integer(default=320)
    joint_radius = param.Number(default=0.03, bounds=(0, None))
    renderer = param.Selector(default="canvas", objects=list(RENDERERS))

    def __init__(self, **params: Any) -> None:
        if params.get("joints") is None:
            raise ValueError("SkeletonView: joints (T, J, 3) are required")
        if params.get("view_camera") is None:
            pts = [np.asarray(params["joints"], dtype=np.float64).reshape(-1, 3)]
            if params.get("reference") is not None:
                pts.append(np.asarray(params["reference"], dtype=np.float64).reshape(-1, 3))
            params["view_camera"] = default_camera(np.concatenate(pts)[None])
        self._camera_watcher = None
        super().__init__(**params)
        self._check_joints()
        self._canvas = SkeletonCanvas(
            height=self.height,
            sizing_mode="stretch_width",
            min_width=160,
            view_id=f"skeleton-view-{next(_IDS)}",
            title=self.title,
            group=self.group,
            frame=self.frame,
            renderer=self.renderer,
        )
        self._canvas.param.watch(self._on_canvas_camera, "camera")
        self._send_layers()
        self._send_scene()
        self._bind_camera()

    # -- state ----------------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def canvas(self) -> SkeletonCanvas:
        """The browser component (one per view)."""
        return self._canvas

    @property
    def available_modes(self) -> list[str]:
        """Colour modes whose data this view has."""
        have = {
            "error": self.error_mm,
            "sensitive": self.sensitive,
            "occlusion": self.occluded,
            "occlusion_prob": self.occlusion_prob,
            "confidence": self.confidence,
        }
        return ["side", *[m for m, v in have.items() if v is not None]]

    @property
    def unavailable_modes(self) -> list[str]:
        return [m for m in COLOR_MODES if m not in self.available_modes]

    @property
    def effective_mode(self) -> str:
        """The mode actually drawn (``"side"`` when ``color_mode`` lacks its data)."""
        return self.color_mode if self.color_mode in self.available_modes else "side"

    @property
    def joint_colors(self) -> np.ndarray:
        """``(T, J, 3)`` uint8 colours of the skeleton for the current mode."""
        return joint_colors(
            self.effective_mode,
            self.num_frames,
            skeleton=self.skeleton,
            error_mm=self.error_mm,
            sensitive=self.sensitive,
            occluded=self.occluded,
            occlusion_prob=self.occlusion_prob,
            confidence=self.confidence,
            error_max_mm=self.error_max_mm,
        )

    @property
    def shown_colors(self) -> np.ndarray:
        """``(J, 3)`` uint8 colours of the frame on show (what the browser draws)."""
        T = self.num_frames
        return self._colors_flat.reshape(-1, T, self.joints.shape[1], 3)[0, min(self.frame, T - 1)]

    def _check_joints(self) -> None:
        j = np.asarray(self.joints)
        skel = get_skeleton(self.skeleton)
        if j.ndim != 3 or j.shape[1:] != (skel.num_joints, 3):
            raise ValueError(
                f"SkeletonView.joints: expected (T, {skel.num_joints}, 3) for layout "
                f"{self.skeleton!r}, got {j.shape}"
            )
        if self.reference is not None and np.shape(self.reference) != j.shape:
            raise ValueError(
                f"SkeletonView.reference: expected the joints' shape {j.shape}, got "
                f"{np.shape(self.reference)}"
            )
        self.param.frame.bounds = (0, max(len(j) - 1, 0))

    def _all_points(self) -> np.ndarray:
        if self.reference is None:
            return self.joints
        return np.concatenate([self.joints, self.reference], axis=1)

    # -- pushing to the browser -----------------------------------------------------------
    def _layers(self) -> list[np.ndarray]:
        return [self.joints] + ([] if self.reference is None else [self.reference])

    def _colors(self) -> np.ndarray:
        T, J = self.joints.shape[:2]
        cols = [self.joint_colors]
        if self.reference is not None:
            cols.append(np.broadcast_to(np.array(GREY, np.uint8), (T, J, 3)))
        return np.ascontiguousarray(np.stack(cols).reshape(-1))

    def _send_layers(self) -> None:
        layers = self._layers()
        positions = np.nan_to_num(np.stack(layers).astype(np.float32), nan=0.0)
        skel = get_skeleton(self.skeleton)
        edges = [int(v) for j, p in enumerate(skel.parents) if p >= 0 for v in (p, j)]
        style = [{"radius": self.joint_radius, "line_width": 4, "opacity": 1.0}]
        if self.reference is not None:
            style.insert(0, style[0])
            style[1] = {"radius": 0, "line_width": 2, "opacity": 0.55}
        self._colors_flat = self._colors()
        self._canvas.param.update(
            positions=positions.reshape(-1),
            positions_shape=list(positions.shape[:3]),
            colors=self._colors_flat,
            edges=edges,
            layer_style=style,
        )

    def _send_scene(self) -> None:
        lines = [self.extra_lines]
        if self.ground and self.ground_lines is not None:
            lines.append(self.ground_lines)
        elif self.ground:
            pts = self._all_points().reshape(-1, 3)
            pts = pts[np.isfinite(pts).all(1)]
            if len(pts):
                lines.append(ground_for(pts))
        scene = merge_lines(*lines)
        self._scene = scene
        self._canvas.param.update(
            scene_points=scene.points.reshape(-1),
            scene_lines=[int(v) for v in scene.lines.reshape(-1)],
            scene_colors=scene.colors.reshape(-1),
        )

    @property
    def scene(self) -> LineSet:
        """The static lines drawn with the skeleton (ground grid and ``extra_lines``)."""
        return self._scene

    def _bind_camera(self) -> None:
        if self._camera_watcher is not None:
            self._camera_watcher[0].param.unwatch(self._camera_watcher[1])
        cam = self.view_camera
        watcher = cam.param.watch(self._on_view_camera, list(cam.to_dict()))
        self._camera_watcher = (cam, watcher)
        self._canvas.param.update(link=cam.name, camera=cam.to_dict())

    def _on_view_camera(self, *_: Any) -> None:
        self._canvas.camera = self.view_camera.to_dict()

    def _on_canvas_camera(self, event: param.parameterized.Event) -> None:
        if event.new and "position" in event.new:
            self.view_camera.set_from(event.new)

    @param.depends("view_camera", watch=True)
    def _camera_changed(self) -> None:
        self._bind_camera()

    @param.depends("frame", watch=True)
    def _frame_changed(self) -> None:
        if not self.group:  # grouped views take frames from their controls in the browser
            self._canvas.frame = self.frame

    @param.depends("group", watch=True)
    def _group_changed(self) -> None:
        self._canvas.param.update(group=self.group, frame=self.frame)

    @param.depends("renderer", watch=True)
    def _renderer_changed(self) -> None:
        self._canvas.renderer = self.renderer

    @param.depends("title", watch=True)
    def _title_changed(self) -> None:
        self._canvas.title = self.title

    @param.depends(
        "color_mode",
        "error_mm",
        "sensitive",
        "occluded",
        "occlusion_prob",
        "confidence",
        "error_max_mm",
        watch=True,
    )
    def _colors_changed(self) -> None:
        self._colors_flat = self._colors()
        self._canvas.colors = self._colors_flat

    @param.depends("joints", "reference", "skeleton", "joint_radius", watch=True)
    def _joints_changed(self) -> None:
        self._check_joints()
        self._send_layers()
        self._send_scene()

    @param.depends("ground", "extra_lines", "ground_lines", watch=True)
    def _scene_changed(self) -> None:
        self._send_scene()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._canvas
