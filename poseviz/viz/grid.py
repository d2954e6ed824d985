"""A synchronised grid of skeleton views: ground truth plus any number of predictions, one
frame counter, one set of playback controls, one colour mode, linkable cameras.

Without 3D ground truth (a video in the wild) the grid shows the predictions alone, drops
the ground-truth ghost and the colour modes that need ground truth (per-joint error, PSIM+
sensitive joints), and says so."""

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
GROUND_TRUTH_MODES = ("error", "sensitive")  # colour modes that compare with ground truth
NO_GROUND_TRUTH_NOTE = (
    "No 3D ground truth: the views show the models' predictions only; per-joint error and "
    "PSIM+ colours need ground truth and are off."
)


class SkeletonGrid(pn.viewable.Viewer):
    """Ground truth and every model of a `SequenceAnalysis` side by side.

    Params:
        analysis: the `SequenceAnalysis` to show (assign a new one to switch sequence or
            models; the frame is kept where it still exists). Without ground truth only the
            models are shown.
        frame: the frame every view shows.
        color_mode: joint colours of every view (`poseviz.viz.colors.COLOR_MODES`); a view
            without the data for it shows left/right colours. Without ground truth an
            error mode gives way to detector confidence (else occlusion, else left/right)
            and comes back with the next analysis that has ground truth.
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
        self._note = pn.pane.Alert(
            NO_GROUND_TRUTH_NOTE, alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        self._mode_select = pn.widgets.Select.from_param(
            self.param.color_mode, options=self._mode_options(), label="joint colours", width=200
        )
        self._wanted_mode = self.color_mode
        self._switching = False
        self._framed_gt: bool | None = None
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

    @property
    def available_modes(self) -> list[str]:
        """Colour modes with data in at least one view of the current analysis."""
        a = self.analysis
        have = {"side"}
        if a.has_ground_truth and a.models:
            have.update(GROUND_TRUTH_MODES)
        if a.occluded is not None:
            have.add("occlusion")
        if a.confidence is not None:
            have.add("confidence")
        if any(r.occlusion_prob is not None for r in a.models.values()):
            have.add("occlusion_prob")
        return [m for m in COLOR_MODES if m in have]

    def _mode_options(self) -> dict[str, str]:
        gt = self.analysis.has_ground_truth
        return {MODE_LABELS[m]: m for m in COLOR_MODES if gt or m not in GROUND_TRUTH_MODES}

    def _fit_mode(self) -> None:
        """Without ground truth an error mode gives way (see ``color_mode``); the mode the
        user chose comes back when ground truth does."""
        a = self.analysis
        self._note.visible = not a.has_ground_truth
        mode = self._wanted_mode
        if not a.has_ground_truth and mode in GROUND_TRUTH_MODES:
            fallback = [m for m in ("confidence", "occlusion") if m in self.available_modes]
            mode = fallback[0] if fallback else "side"
        self._switching = True
        try:  # widen the choices, set the mode, then narrow them: the value stays valid
            self._mode_select.options = {MODE_LABELS[m]: m for m in COLOR_MODES}
            self.color_mode = mode
            self._mode_select.options = self._mode_options()
        finally:
            self._switching = False

    def _rebuild(self) -> None:
        a = self.analysis
        T = a.num_frames
        self.param.frame.bounds = (0, T - 1)
        frame = min(self.frame, T - 1)
        self._fit_mode()
        camera = self._shared_camera()
        frustum = camera_frustum(a.camera, a.to_display) if self.show_frustum else None
        shown = [r.display for r in a.models.values()]
        if a.has_ground_truth:
            shown.insert(0, a.gt_display)
        ground = ground_for(np.concatenate(shown, axis=1)) if shown else None
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
        views = []
        if a.has_ground_truth:
            views.append(
                SkeletonView(
                    joints=a.gt_display,
                    title="ground truth",
                    view_camera=camera if self.link_cameras else _copy(camera),
                    **common,
                )
            )
        for name, res in a.models.items():
            views.append(
                SkeletonView(
                    joints=res.display,
                    reference=a.gt_display if self.show_reference else None,
                    title=name,
                    view_camera=camera if self.link_cameras else _copy(camera),
                    error_mm=res.error_mm,
                    sensitive=None if res.psim is None else res.psim.sensitive_mask,
                    occlusion_prob=res.occlusion_prob,
                    **common,
                )
            )
        self.views = views
        self._grid.objects = views or [
            pn.pane.Markdown("No 3D yet: add a model to lift the 2D keypoints.", margin=(10, 20))
        ]
        with param.discard_events(self):
            self.frame = frame
        self.controls.param.update(num_frames=T, fps=a.fps)  # first: it sets frame's bounds
        self.controls.frame = frame

    def _shared_camera(self) -> ViewCamera:
        a = self.analysis
        # the user's camera stays, unless the scene changed kind: predictions alone (no
        # ground truth) sit at the origin, far from where a world-frame truth may be
        if self.views and self.link_cameras and self._framed_gt == a.has_ground_truth:
            return self.views[0].view_camera
        self._framed_gt = a.has_ground_truth
        if a.has_ground_truth:
            return default_camera(a.gt_display)
        if a.models:
            return default_camera(np.concatenate([r.display for r in a.models.values()], 1))
        return ViewCamera()

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
        if not getattr(self, "_switching", False):  # the user's choice, not a fallback
            self._wanted_mode = self.color_mode
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
            self._mode_select,
            pn.widgets.Checkbox.from_param(self.param.link_cameras, label="link cameras"),
            pn.widgets.Checkbox.from_param(self.param.show_reference, label="ground-truth ghost"),
            pn.widgets.Checkbox.from_param(self.param.show_frustum, label="camera frustum"),
            align="center",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.widgets(), self._note, self._grid, self.controls, sizing_mode="stretch_width"
        )


def _copy(camera: ViewCamera) -> ViewCamera:
    return ViewCamera(**camera.to_dict())
