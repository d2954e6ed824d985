"""Per-frame timelines of a `SequenceAnalysis` (Bokeh, canvas backend: WebGL stays off so
many plots fit on one page).

`Timelines` draws, against the frame index, for every model:
- PSIM+ per frame (the spatial score of eq. 4) with, on demand, its positional P,
  structural S and sensitivity V components and the temporal weight w_t of eq. 5;
- MPJPE and P-MPJPE per frame (mm);
- the velocity error per frame (mm per frame);
and a joints x frames heat map of one model's per-joint error. A vertical cursor marks
``frame``; a click on any plot sets ``frame`` to the clicked frame (seek).

Without 3D ground truth (a video in the wild) those need what is missing and are hidden
behind a note; shown instead are the 2D detector's mean confidence and occluded share per
frame, every model's limb symmetry error and joint acceleration per frame (plausibility of
the prediction alone), and a joints x frames heat map of the detector's confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import (
    ColorBar,
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    Legend,
    LinearColorMapper,
    Range1d,
    Span,
)
from bokeh.palettes import Category10_10, Viridis256
from bokeh.plotting import figure

from poseviz.skeleton import get_skeleton
from poseviz.viz.analysis import SequenceAnalysis

__all__ = ["PSIM_COMPONENTS", "Timelines", "column_max", "envelope", "model_color"]

PSIM_COMPONENTS = {
    "score": ("PSIM+", "solid"),
    "positional": ("P", "dashed"),
    "structural": ("S", "dotted"),
    "sensitivity": ("V", "dotdash"),
    "temporal_weight": ("w_t", "dashdot"),
}
CURSOR_COLOR = "#d62728"
NO_GROUND_TRUTH_NOTE = (
    "**No 3D ground truth** for this sequence: PSIM+, MPJPE, P-MPJPE, the velocity error and "
    "the per-joint error heat map compare with it and are hidden. Shown: the 2D detector's "
    "confidence and occlusion estimate, and each model's plausibility on its own."
)


def _bins(T: int, max_points: int) -> int:
    return max(1, -(-T // max(1, max_points // 2)))


def envelope(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` as drawn: unchanged up to ``max_points`` samples, else each bin of ``k``
    consecutive samples becomes its minimum and its maximum (in frame order), so peaks
    survive and at most ``max_points`` points reach the browser. NaN-only bins stay NaN."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) <= max_points:
        return x, y
    k = _bins(len(y), max_points)
    n = -(-len(y) // k)
    pad = n * k - len(y)
    yb = np.concatenate([y, np.full(pad, np.nan)]).reshape(n, k)
    xb = np.concatenate([x, np.full(pad, x[-1])]).reshape(n, k)
    with np.errstate(all="ignore"):
        finite = np.isfinite(yb)
        lo_i = np.where(finite, yb, np.inf).argmin(1)
        hi_i = np.where(finite, yb, -np.inf).argmax(1)
    first = np.minimum(lo_i, hi_i)
    second = np.maximum(lo_i, hi_i)
    rows = np.arange(n)
    xs = np.stack([xb[rows, first], xb[rows, second]], 1).ravel()
    ys = np.stack([yb[rows, first], yb[rows, second]], 1).ravel()
    ys[np.repeat(~finite.any(1), 2)] = np.nan
    return xs, ys


def column_max(values: np.ndarray, max_points: int) -> np.ndarray:
    """``(T, J)`` -> ``(T', J)`` with ``T' <= max_points / 2`` rows, each the maximum of a bin
    of consecutive frames (the worst error of the bin); unchanged when short enough."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) <= max_points:
        return v
    k = _bins(len(v), max_points)
    n = -(-len(v) // k)
    pad = np.full((n * k - len(v), v.shape[1]), np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmax(np.concatenate([v, pad]).reshape(n, k, -1), axis=1)


def model_color(index: int) -> str:
    """The colour of the ``index``-th model in every plot."""
    return Category10_10[index % len(Category10_10)]


class Timelines(pn.viewable.Viewer):
    """Per-frame metrics of every model, a cursor at ``frame``, click to seek.

    Params:
        analysis: the `SequenceAnalysis` shown.
        frame: the cursor's frame; a click on a plot sets it.
        psim_components: which PSIM+ curves to draw (keys of `PSIM_COMPONENTS`).
        heatmap_model: the model whose joints x frames error map is shown.
        error_max_mm: top of the heat map's colour scale.
    """

    analysis = param.ClassSelector(class_=SequenceAnalysis)
    frame = param.Integer(default=0, bounds=(0, None))
    psim_components = param.ListSelector(
        default=["score", "temporal_weight"], objects=list(PSIM_COMPONENTS)
    )
    heatmap_model = param.Selector(default=None, objects=[], allow_None=True)
    max_points = param.Integer(
        default=1500,
        bounds=(10, None),
        doc="longer series are drawn as per-bin min/max envelopes (heat map: per-bin max), "
        "so moving the cursor costs the same at any length",
    )
    error_max_mm = param.Number(default=150.0, bounds=(1, None))
    plot_height = param.Integer(default=150, bounds=(60, None))

    def __init__(self, analysis: SequenceAnalysis, **params: Any) -> None:
        super().__init__(analysis=analysis, **params)
        self._panes = pn.Column(sizing_mode="stretch_width")
        self._note = pn.pane.Alert(
            NO_GROUND_TRUTH_NOTE, alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        self._widgets = self._make_widgets()
        self._build()

    # -- figures --------------------------------------------------------------------------
    def _figure(self, title: str, y_label: str, x_range=None, *, legend=False, **kw: Any):
        fig = figure(
            title=title,
            height=self.plot_height,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            active_drag="xpan",
            toolbar_location="right",
            output_backend="canvas",
            x_range=x_range,
            **kw,
        )
        fig.yaxis.axis_label = y_label
        if legend:  # outside the plot, so it hides no curve; click an entry to hide it
            fig.add_layout(
                Legend(click_policy="hide", label_text_font_size="10px", spacing=0, padding=2),
                "right",
            )
        fig.title.text_font_size = "12px"
        fig.min_border_left = 60
        # on the overlay layer: moving the cursor repaints it alone, not the curves
        span = Span(
            location=self.frame,
            dimension="height",
            line_color=CURSOR_COLOR,
            line_width=2,
            level="overlay",
        )
        fig.add_layout(span)
        fig.on_event(Tap, self._on_tap)
        self._spans.append(span)
        self.figures.append(fig)
        return fig

    def _build(self) -> None:
        a = self.analysis
        T = a.num_frames
        self.param.frame.bounds = (0, T - 1)
        names = list(a.models)
        self._ready = False
        self.param.heatmap_model.objects = names
        if self.heatmap_model not in names:
            self.heatmap_model = names[0] if names else None
        self._spans: list[Span] = []
        self.figures: list = []
        self._psim_renderers: dict[str, list] = {k: [] for k in PSIM_COMPONENTS}
        x_range = Range1d(0, max(T - 1, 1), bounds=(0, max(T - 1, 1)))
        frames = np.arange(T)
        gt = a.has_ground_truth
        self._note.visible = not gt
        self._psim_widget.visible = self._heat_widget.visible = gt
        if gt:
            self._error_figures(x_range, frames)
        else:
            self._plausibility_figures(x_range, frames)
        self._heat_figure(x_range)
        self._panes.objects = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in self.figures]
        self._ready = True

    def _error_figures(self, x_range: Range1d, frames: np.ndarray) -> None:
        a = self.analysis
        psim = self._figure(
            "PSIM+ per frame (solid; P dashed, S dotted, V dot-dash, w_t dash-dot)",
            "similarity",
            x_range,
            legend=True,
        )
        mpjpe = self._figure(
            "MPJPE (solid) and P-MPJPE (dashed) per frame", "mm", x_range, legend=True
        )
        vel = self._figure("velocity error per frame", "mm / frame", x_range, legend=True)
        for i, (name, res) in enumerate(a.models.items()):
            color = model_color(i)
            for key, (_label, dash) in PSIM_COMPONENTS.items():
                values = getattr(res.psim, "frame_score" if key == "score" else key)
                r = psim.line(
                    *envelope(frames, values, self.max_points),
                    color=color,
                    line_dash=dash,
                    line_width=2 if key == "score" else 1.3,
                    visible=key in self.psim_components,
                    **({"legend_label": name} if key == "score" else {}),
                )
                self._psim_renderers[key].append(r)
            n = self.max_points
            mpjpe.line(
                *envelope(frames, res.mpjpe_mm, n), color=color, line_width=2, legend_label=name
            )
            mpjpe.line(
                *envelope(frames, res.pa_mpjpe_mm, n),
                color=color,
                line_dash="dashed",
                line_width=1.3,
            )
            vel.line(
                *envelope(frames, res.velocity_error_mm, n),
                color=color,
                line_width=1.5,
                legend_label=name,
            )

    def _plausibility_figures(self, x_range: Range1d, frames: np.ndarray) -> None:
        """Without ground truth: the detector's per-frame confidence and occluded share,
        and every model's LSE and acceleration per frame."""
        a, n = self.analysis, self.max_points
        if a.confidence is not None or a.occluded is not None:
            det = self._figure(
                "2D detector per frame: mean confidence (solid), occluded joints (dashed)",
                "share",
                x_range,
                legend=True,
                y_range=Range1d(0, 1.02),
            )
            if a.confidence is not None:
                det.line(
                    *envelope(frames, np.mean(a.confidence, axis=1), n),
                    color="#444444",
                    line_width=2,
                    legend_label="confidence",
                )
            if a.occluded is not None:
                det.line(
                    *envelope(frames, np.mean(a.occluded, axis=1), n),
                    color=CURSOR_COLOR,
                    line_dash="dashed",
                    line_width=1.5,
                    legend_label="occluded",
                )
        lse_fig = self._figure(
            "limb symmetry error per frame (LSE: left vs right bone lengths)",
            "mm",
            x_range,
            legend=True,
        )
        acc = self._figure(
            "joint acceleration per frame (jitter)", "mm / frame²", x_range, legend=True
        )
        for i, (name, res) in enumerate(a.models.items()):
            color = model_color(i)
            lse_fig.line(
                *envelope(frames, res.lse_mm, n), color=color, line_width=2, legend_label=name
            )
            acc.line(
                *envelope(frames, res.acceleration_mm, n),
                color=color,
                line_width=1.5,
                legend_label=name,
            )

    def _heat_figure(self, x_range: Range1d) -> None:
        a = self.analysis
        gt = a.has_ground_truth
        self._heat_source = ColumnDataSource(self._heat_data())
        heat = self._figure(
            "per-joint error (joints x frames)",
            "",
            x_range,
            y_range=Range1d(-0.5, a.num_joints - 0.5),
        )
        heat.height = max(self.plot_height, 230)
        mapper = LinearColorMapper(
            palette=Viridis256 if gt else Viridis256[::-1],  # low confidence bright, like error
            low=0,
            high=self.error_max_mm if gt else 1.0,
        )
        heat.image(
            image="image",
            x=-0.5,
            y=-0.5,
            dw="dw",
            dh="dh",
            source=self._heat_source,
            color_mapper=mapper,
        )
        names_j = get_skeleton("h36m17").names
        heat.yaxis.ticker = FixedTicker(ticks=list(range(len(names_j))))
        heat.yaxis.major_label_overrides = {i: n for i, n in enumerate(names_j)}
        heat.yaxis.major_label_text_font_size = "9px"
        unit = "mm" if gt else "confidence"
        heat.add_layout(ColorBar(color_mapper=mapper, title=unit, width=8), "right")
        fmt = "@image{0.0}" if gt else "@image{0.00}"
        heat.add_tools(HoverTool(tooltips=[("frame", "$x{0}"), (unit, fmt)]))
        self._heat_mapper = mapper
        self._heat = heat
        self._set_heat_title()

    def _heat_data(self) -> dict[str, list]:
        a = self.analysis
        if not a.has_ground_truth:
            if a.confidence is None:
                img = np.full((a.num_joints, a.num_frames), np.nan)
            else:  # the worst (lowest) confidence of each bin
                img = -column_max(-np.asarray(a.confidence, np.float64), self.max_points).T
        elif self.heatmap_model is None or self.heatmap_model not in a.models:
            img = np.full((a.num_joints, a.num_frames), np.nan)
        else:
            img = column_max(a.models[self.heatmap_model].error_mm, self.max_points).T
        return {"image": [np.ascontiguousarray(img)], "dw": [a.num_frames], "dh": [img.shape[0]]}

    def _set_heat_title(self) -> None:
        if not self.analysis.has_ground_truth:
            self._heat.title.text = (
                "2D detector confidence, joints x frames"
                if self.analysis.confidence is not None
                else "2D detector confidence (none in this sequence)"
            )
            return
        self._heat.title.text = (
            f"per-joint error, joints x frames: {self.heatmap_model}"
            if self.heatmap_model
            else "per-joint error (no model)"
        )

    # -- state ----------------------------------------------------------------------------
    @property
    def cursor_positions(self) -> list[float]:
        """Where each plot's cursor is (frame index), for tests."""
        return [s.location for s in self._spans]

    @property
    def heatmap_image(self) -> np.ndarray:
        """``(J, T)`` values of the heat map on show (mm; detector confidence in [0, 1]
        without ground truth)."""
        return self._heat_source.data["image"][0]

    def visible_psim_components(self) -> list[str]:
        return [k for k, rs in self._psim_renderers.items() if rs and rs[0].visible]

    def _on_tap(self, event: Tap) -> None:
        if event.x is None:
            return
        self.frame = int(np.clip(round(event.x), 0, self.analysis.num_frames - 1))

    @param.depends("frame", watch=True)
    def _move_cursor(self) -> None:
        for s in self._spans:
            s.location = self.frame

    @param.depends("psim_components", watch=True)
    def _toggle_components(self) -> None:
        for key, renderers in self._psim_renderers.items():
            for r in renderers:
                r.visible = key in self.psim_components

    @param.depends("heatmap_model", watch=True)
    def _heat_changed(self) -> None:
        if not getattr(self, "_ready", False):
            return
        self._heat_source.data = self._heat_data()
        self._set_heat_title()

    @param.depends("error_max_mm", watch=True)
    def _heat_scale(self) -> None:
        if self.analysis.has_ground_truth:  # else the scale is confidence's [0, 1]
            self._heat_mapper.high = self.error_max_mm

    @param.depends("analysis", watch=True)
    def _analysis_changed(self) -> None:
        self.frame = min(self.frame, self.analysis.num_frames - 1)
        self._build()

    def _make_widgets(self) -> pn.Row:
        self._psim_widget = pn.widgets.CheckButtonGroup.from_param(
            self.param.psim_components,
            options={label: key for key, (label, _) in PSIM_COMPONENTS.items()},
            label="PSIM+ curves",
            color="default",
        )
        self._heat_widget = pn.widgets.Select.from_param(
            self.param.heatmap_model, label="heat map model", width=220
        )
        return pn.Row(self._psim_widget, self._heat_widget)

    def widgets(self) -> pn.viewable.Viewable:
        """The PSIM+ curve toggles and the heat map's model (hidden without ground truth)."""
        return self._widgets

    @property
    def note(self) -> str | None:
        """The note shown in place of the error plots without ground truth, else None."""
        return None if self.analysis.has_ground_truth else NO_GROUND_TRUTH_NOTE

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._widgets, self._note, self._panes, sizing_mode="stretch_width")
