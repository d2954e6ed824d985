"""A synchronised grid of skeleton views: ground truth plus any number of predictions, one
frame counter, one set of playback controls, one colour mode, linkable cameras."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import panel as pn
import param

from poseviz.viz.analysis import SequenceAnalysis
from poseviz.viz.colors import COLOR_MODES
from poseviz.viz.playback import PlaybackControls
from poseviz.viz.scene import camera_frustum
from poseviz.viz.skeleton_view import (
    RENDERERS,
    SkeletonView,
    ViewCamera,
    default_camera,
    ground_for,
)

__all__ = ["SkeletonGrid"]

_IDS = itertools.count()
MODE_LABELS = {
    "side": "left / right",
    "error": "per-joint error",
    "sensitive": "PSIM+ sensitive joints",
    "occlusion": "occlusion label",
    "occlusion_prob": "predicted occlusion",
    "confidence": "detector confidence",
}


class SkeletonGrid(pn.viewable.Viewer):
    """Ground truth and every model of a `SequenceAnalysis` side by side.

    Params:
        analysis: the `SequenceAnalysis` to show (assign a new one to switch sequence or
            models; the frame is kept where it still exists).
        frame: the frame every view shows.
        color_mode: joint colours of every view (`poseviz.viz.colors.COLOR_MODES`); a view
            without the data for it shows left/right colours.
        link_cameras: all views share one camera.
        show_reference: draw the ground truth as a grey ghost in the prediction views.
        show_frustum: draw the analysed camera's frustum.
        columns: views per row.
        renderer: the views' drawing backend (`poseviz.viz.skeleton_view.RENDERERS`).
    """

    analysis = param.ClassSelector(class_=SequenceAnalysis)
    frame = param.Integer(default=0, bounds=(0, None))
    color_mode = param.Selector(default="error", objects=list(COLOR_MODES))
    link_cameras = param.Boolean(default=True)
    show_reference = param.Boolean(default=True)
    show_frustum = param.Boolean(default=False)
    columns = param.Integer(default=2, bounds=(1, 8))
    view_height = param.Integer(default=300, bounds=(100, None))
    renderer = param.Selector(default="canvas", objects=list(RENDERERS))

    def __init__(self, analysis: SequenceAnalysis, **params: Any) -> None:
        super().__init__(analysis=analysis, **params)
        self.group = f"poseviz-grid-{next(_IDS)}"
        self.controls = PlaybackControls(
            group=self.group, sizing_mode="stretch_width", height=40, margin=(5, 10)
        )
        self.controls.param.watch(self._on_controls_frame, "frame")
        self._grid = pn.GridBox(ncols=self.columns, sizing_mode="stretch_width")
        self.views: list[SkeletonView] = []
        self._rebuild()

    # -- building -------------------------------------------------------------------------
    @property
    def view_names(self) -> list[str]:
        """Titles of the views: ``"ground truth"`` then the model ids."""
        return [v.title for v in self.views]

    def view(self, name: str) -> SkeletonView:
        """The view titled ``name``."""
        for v in self.views:
            if v.title == name:
                return v
        raise KeyError(f"no view {name!r}; views: {self.view_names}")

    def _rebuild(self) -> None:
        a = self.analysis
        T = a.num_frames
        self.param.frame.bounds = (0, T - 1)
        frame = min(self.frame, T - 1)
        camera = self._shared_camera()
        frustum = camera_frustum(a.camera, a.to_display) if self.show_frustum else None
        ground = ground_for(
            np.concatenate([a.gt_display, *(r.display for r in a.models.values())], axis=1)
        )
        common = dict(
            frame=frame,
            group=self.group,
            height=self.view_height,
            extra_lines=frustum,
            ground_lines=ground,
            color_mode=self.color_mode,
            confidence=a.confidence,
            occluded=a.occluded,
            renderer=self.renderer,
        )
        views = [
            SkeletonView(
                joints=a.gt_display,
                title="ground truth",
                view_camera=camera if self.link_cameras else _copy(camera),
                **common,
            )
        ]
        for name, res in a.models.items():
            views.append(
                SkeletonView(
                    joints=res.display,
                    reference=a.gt_display if self.show_reference else None,
                    title=name,
                    view_camera=camera if self.link_cameras else _copy(camera),
                    error_mm=res.error_mm,
                    sensitive=res.psim.sensitive_mask,
                    occlusion_prob=res.occlusion_prob,
                    **common,
                )
            )
        self.views = views
        self._grid.objects = views
        with param.discard_events(self):
            self.frame = frame
        self.controls.param.update(num_frames=T, fps=a.fps)  # first: it sets frame's bounds
        self.controls.frame = frame

    def _shared_camera(self) -> ViewCamera:
        if self.views and self.link_cameras:
            return self.views[0].view_camera
        return default_camera(self.analysis.gt_display)

    # -- reactions ------------------------------------------------------------------------
    def _on_controls_frame(self, event: param.parameterized.Event) -> None:
        self.frame = event.new

    @param.depends("frame", watch=True)
    def _frame_changed(self) -> None:
        for v in self.views:
            v.frame = self.frame
        self.controls.frame = self.frame

    @param.depends("color_mode", watch=True)
    def _mode_changed(self) -> None:
        for v in self.views:
            v.color_mode = self.color_mode

    @param.depends("analysis", "show_reference", "show_frustum", "renderer", watch=True)
    def _analysis_changed(self) -> None:
        self._rebuild()

    @param.depends("link_cameras", watch=True)
    def _link_changed(self) -> None:
        if self.link_cameras:
            shared = self.views[0].view_camera
            for v in self.views[1:]:
                v.view_camera = shared
        else:
            for v in self.views[1:]:
                v.view_camera = _copy(v.view_camera)

    @param.depends("columns", watch=True)
    def _columns_changed(self) -> None:
        self._grid.ncols = self.columns

    def widgets(self) -> pn.viewable.Viewable:
        """The grid's options as widgets."""
        return pn.Row(
            pn.widgets.Select.from_param(
                self.param.color_mode,
                options={MODE_LABELS[m]: m for m in COLOR_MODES},
                label="joint colours",
                width=200,
            ),
            pn.widgets.Checkbox.from_param(self.param.link_cameras, label="link cameras"),
            pn.widgets.Checkbox.from_param(self.param.show_reference, label="ground-truth ghost"),
            pn.widgets.Checkbox.from_param(self.param.show_frustum, label="camera frustum"),
            align="center",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.widgets(), self._grid, self.controls, sizing_mode="stretch_width")


def _copy(camera: ViewCamera) -> ViewCamera:
    return ViewCamera(**camera.to_dict())
