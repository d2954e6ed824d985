"""The compare workbench: pick a source, a sequence, a camera and models; see ground truth
and every model in synchronised 3D views, per-frame timelines, the image and attention
panels and the metric tables; export pictures, videos and CSV.

`CompareApp` owns no models: it receives `poseviz.viz.predictors.Predictor` callables by
name (``apps/compare.py`` builds them from ``models/``). Everything slow is cached per
process with ``pn.cache``: reading a source, and each (sequence, camera, predictor)
prediction. Every user action reports failures as a page notification and a message in
the sidebar, and leaves the session as it was.

Videos: a path with a video suffix (`VIDEO_SUFFIXES`), typed or uploaded, goes to the
`VideoReader` the app was given (``apps/compare.py`` wraps ``poseviz.inference.video``'s
detection and tracking): a sequence with the 2D of one person and no 3D ground truth, plus
any predictions that came with it (MediaPipe's own 3D), which are shown at once. On a
served page the detection, and the lifting by the models shown, run in a worker thread so
the progress bar moves and the page stays live. Without ground truth the panels show what
exists (see `poseviz.viz.analysis`); predictors that need ground truth are left out.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import hashlib
import io
import re
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import panel as pn
import param

from poseviz.structures import PoseSequence, Prediction
from poseviz.viz.analysis import SequenceAnalysis, analyse, with_virtual_cameras
from poseviz.viz.attention import AttentionPanel, synthetic_crop_fn
from poseviz.viz.exports import render_grid, save_image, save_video
from poseviz.viz.grid import SkeletonGrid
from poseviz.viz.image_panel import ImagePanel, VideoFrames, synthetic_image_fn
from poseviz.viz.metrics_table import MetricsTable
from poseviz.viz.predictors import PerturbedGroundTruth, Predictor, ProgressCallback
from poseviz.viz.skeleton_view import RENDERERS
from poseviz.viz.timeline import Timelines

__all__ = [
    "VIDEO_SUFFIXES",
    "CompareApp",
    "LoadedSource",
    "VideoReader",
    "cached_prediction",
    "is_video",
    "load_source",
]

DEMO = "demo"
PANEL_INTERVAL_S = 0.4  # how often timelines and pictures follow a moving frame
PROGRESS_INTERVAL_S = 0.2  # how often a worker thread's progress reaches the page
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass
class LoadedSource:
    """What a source gave: ground-truth sequences (with cameras) and/or predictions."""

    label: str
    sequences: list[PoseSequence] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)


def _read(path: str, mtime: float) -> LoadedSource:
    from poseviz.data import load
    from poseviz.data.predictions import is_prediction_file, load_predictions

    if path == DEMO:
        from poseviz.data import load_demo

        return LoadedSource("demo dataset", [with_virtual_cameras(s) for s in load_demo()])
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if p.is_file() and is_prediction_file(p):
        return LoadedSource(f"predictions {p.name}", predictions=load_predictions(p))
    sequences = [s for s in load(p) if s.joints_3d is not None]
    if not sequences:
        raise ValueError(f"{p}: no sequence with 3D ground truth in it")
    return LoadedSource(p.name, [with_virtual_cameras(s) for s in sequences])


_read_cached = pn.cache(_read, max_items=16)


def is_video(path: str | Path) -> bool:
    """Whether ``path`` names a video by its suffix (`VIDEO_SUFFIXES`, any case)."""
    return Path(str(path)).suffix.lower() in VIDEO_SUFFIXES


class VideoReader(Protocol):
    """Turns a video into something to compare: a `LoadedSource` whose sequences have the
    2D of the people in it (``joints_2d`` ``(T, 17, 2)`` pixels, ``confidence`` and
    ``occluded`` ``(T, 17)``, a camera and ``video`` path; no ``joints_3d``) and, if any,
    predictions that came with them (e.g. the 2D detector's own 3D). ``max_frames`` stops
    after that many frames; ``progress(fraction)`` reports the work done. Raises
    ValueError / FileNotFoundError for an unreadable video or one without a person."""

    def __call__(
        self, path: str, *, max_frames: int | None = None, progress: ProgressCallback | None = None
    ) -> LoadedSource: ...


def load_source(path: str | Path) -> LoadedSource:
    """Read ``path`` (anything `poseviz.data.load` reads, a predictions ``.npz`` from
    `poseviz.data.predictions`, or ``"demo"``), cached per process by path and
    modification time. Sequences without cameras get virtual ones."""
    path = str(path)
    mtime = Path(path).stat().st_mtime if path != DEMO and Path(path).exists() else 0.0
    return _read_cached(path, mtime)


_PROGRESS: contextvars.ContextVar[Callable[[float], None] | None] = contextvars.ContextVar(
    "poseviz_prediction_progress", default=None
)


def _predict(sequence: PoseSequence, camera_id: str, predictor: Predictor) -> Prediction:
    return predictor(sequence, camera_id, progress=_PROGRESS.get())


def _digest(*arrays: Any) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        if a is not None:
            a = np.ascontiguousarray(a)
            h.update(str((a.dtype, a.shape)).encode())
            h.update(a.data)
    return h.digest()


def _sequence_key(s: PoseSequence) -> bytes:
    cams = sorted(s.cameras)
    views = sorted(s.joints_2d)  # a sequence without 3D (a video) is its 2D
    return s.name.encode() + _digest(
        s.joints_3d,
        *(s.cameras[c].to_dict()["R"] + [s.cameras[c].to_dict()["t"]] for c in cams),
        *(s.joints_2d[v] for v in views),
        *(s.confidence.get(v) for v in views),
    )


# Cache keys by content, not by object id (an id can be reused once an object is freed).
_HASHES = {
    PoseSequence: _sequence_key,
    Prediction: lambda p: (
        f"{p.model_id}|{p.sequence_id}|{p.camera_id}".encode()
        + _digest(p.joints_3d, p.frame_indices)
    ),
    PerturbedGroundTruth: lambda p: repr(p).encode(),
}

_predict_cached = pn.cache(_predict, max_items=256, hash_funcs=_HASHES)


def _analyse(sequence: PoseSequence, camera_id: str, predictions: tuple) -> SequenceAnalysis:
    return analyse(sequence, camera_id, list(predictions))


_analyse_cached = pn.cache(_analyse, max_items=64, hash_funcs=_HASHES)


def cached_prediction(
    sequence: PoseSequence,
    camera_id: str,
    predictor: Predictor,
    progress: Callable[[float], None] | None = None,
) -> Prediction:
    """``predictor(sequence, camera_id)``, computed once per process for the same sequence
    and predictor objects; ``progress(fraction)`` is called while it is computed (it takes
    no part in the cache key)."""
    token = _PROGRESS.set(progress)
    try:
        return _predict_cached(sequence, camera_id, predictor)
    finally:
        _PROGRESS.reset(token)


def _served() -> bool:
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def _needs_ground_truth(predictor: Any) -> bool:
    return bool(getattr(predictor, "needs_ground_truth", False))


def _notify(kind: str, message: str) -> None:
    notes = pn.state.notifications
    if notes is not None:
        getattr(notes, kind)(message, duration=8000 if kind == "error" else 4000)


class CompareApp(pn.viewable.Viewer):
    """The whole compare page (also usable inline in a notebook).

    Args:
        predictors: model name -> `Predictor`; the models one can add.
        source: what to open first: ``"demo"``, a path (a video too), or None (nothing
            loaded).
        models: model names to add at start (those in ``predictors``).
        video_reader: reads videos (`VideoReader`); without one a video path is refused
            with a message.

    Params (state the tests drive):
        sequence, camera: the analysed sequence name and camera id.
        active_models: the models chosen, in order (those that cannot lift the current
            sequence are listed in ``skipped_models`` and not shown).
        frame: the frame every panel shows.
        message: the last error or status line shown in the sidebar.
        video_max_frames: read at most this many frames of a video (0: all).
    """

    source_path = param.String(default="", doc="path typed into the source box")
    sequence = param.Selector(default=None, objects=[], allow_None=True)
    camera = param.Selector(default=None, objects=[], allow_None=True)
    model_to_add = param.Selector(default=None, objects=[], allow_None=True)
    active_models = param.List(default=[], item_type=str)
    frame = param.Integer(default=0, bounds=(0, None))
    message = param.String(default="")
    busy = param.Boolean(default=False)
    renderer = param.Selector(default="canvas", objects=list(RENDERERS))
    video_max_frames = param.Integer(default=0, bounds=(0, None), doc="0: every frame")

    def __init__(
        self,
        predictors: Mapping[str, Predictor] | None = None,
        *,
        source: str | None = DEMO,
        models: Sequence[str] = (),
        image_fn_factory: Callable[[SequenceAnalysis], Callable[[int], Any] | None] | None = None,
        video_reader: VideoReader | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.predictors: dict[str, Predictor] = dict(predictors or {})
        self.video_reader = video_reader
        self.skipped_models: dict[str, str] = {}  # model -> why it is not shown
        self._video_frames: VideoFrames | None = None
        self.source: LoadedSource | None = None
        self.file_predictions: list[Prediction] = []
        self.image_fn_factory = image_fn_factory
        self.analysis: SequenceAnalysis | None = None
        self.grid: SkeletonGrid | None = None
        self.timelines: Timelines | None = None
        self.image_panel: ImagePanel | None = None
        self.attention: AttentionPanel | None = None
        self.metrics: MetricsTable | None = None
        self._dataset: list[SequenceAnalysis] = []
        self._panels_at = 0.0
        self._panels_pending = False
        self._main = pn.Column(sizing_mode="stretch_width")
        self._status = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self.progress = pn.indicators.Progress(
            value=0, max=100, visible=False, sizing_mode="stretch_width", bar_color="primary"
        )
        self._progress_text = pn.pane.Markdown("", visible=False, margin=(0, 10))
        self._progress_at = 0.0
        self._sidebar = self._build_sidebar()
        self._update_model_choices()
        self.active_models = [m for m in models if m in self.predictors]
        if source and is_video(source) and _served():
            # the page first, then the video with a moving progress bar
            async def open_later() -> None:
                await self.open_source_async(source)

            pn.state.onload(open_later)
        elif source and not self.open_source(source) and self.active_models and self.source:
            self.active_models = []  # a model failed: show the ground truth at least
            self.refresh()
        self._models_list.object = self._models_markdown()
        if self.analysis is None:
            self._show_empty()

    # -- sources --------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[[], Any]) -> bool:
        """Run ``fn``; on failure show ``what: error`` and keep the state. True on success."""
        try:
            fn()
        except Exception as err:  # any failure becomes a message, never a broken page
            text = f"{what}: {err}" if str(err) else f"{what}: {type(err).__name__}"
            self.message = text
            self._status.param.update(object=text, visible=True)
            _notify("error", text)
            if not isinstance(err, (ValueError, FileNotFoundError, KeyError, OSError, ImportError)):
                traceback.print_exc()
            return False
        self._status.visible = False
        return True

    def open_source(self, path: str | Path) -> bool:
        """Load ground truth or predictions from ``path`` (or ``"demo"``), or a video
        through the `VideoReader` (detection and tracking with progress). Blocks until
        done; a served page's buttons use `open_source_async`."""
        label = f"could not open {Path(str(path)).name or path}"
        if not is_video(path):
            return self._guard(label, lambda: self._use_loaded(load_source(path)))
        loaded: list[LoadedSource] = []
        self.busy = True
        try:
            ok = self._guard(label, lambda: loaded.append(self._read_video(str(path))))
        finally:
            self.busy = False
        return ok and self._guard(label, lambda: self._use_loaded(loaded[0]))

    async def open_source_async(self, path: str | Path) -> bool:
        """`open_source` for a served page: a video is read, and lifted by the models
        shown, in a worker thread while the page stays live and its progress bar moves;
        the panels are then updated on the page's own thread."""
        if not is_video(path):
            return self.open_source(path)
        label = f"could not open {Path(str(path)).name or path}"
        self.busy = True
        try:
            loaded, err = await asyncio.to_thread(self._read_and_lift, str(path))
        finally:
            self.busy = False
        if err is not None:
            return self._guard(label, lambda: _raise(err))
        return self._guard(label, lambda: self._use_loaded(loaded))

    def _read_and_lift(self, path: str) -> tuple[LoadedSource | None, BaseException | None]:
        """In a worker thread: read the video, then compute (and cache) the predictions of
        the models shown, so the page's thread finds them ready. Failures are returned."""
        try:
            loaded = self._read_video(path)
        except Exception as err:
            return None, err
        try:
            for seq in loaded.sequences[:1]:
                cam = sorted(seq.cameras)[0]
                names = [n for n in self.active_models if n in self.predictors]
                names = [n for n in names if not _needs_ground_truth(self.predictors[n])]
                for i, name in enumerate(names):
                    progress = self._progress_fn(f"lifting with {name}", i, len(names))
                    cached_prediction(seq, cam, self.predictors[name], progress)
        except Exception:  # reported when the page's thread computes it again
            pass
        finally:
            self._end_progress()
        return loaded, None

    def _read_video(self, path: str) -> LoadedSource:
        name = Path(path).name
        if self.video_reader is None:
            raise ValueError(
                f"{name}: this page has no video reader (the compare app reads videos with "
                "poseviz.inference and the video extra)"
            )
        if not Path(path).expanduser().is_file():
            raise FileNotFoundError(f"{path}: no such video file")
        try:
            loaded = self.video_reader(
                str(Path(path).expanduser()),
                max_frames=self.video_max_frames or None,
                progress=self._progress_fn(f"detecting people in {name}"),
            )
        finally:
            self._end_progress()
        if not loaded.sequences:
            raise ValueError(f"{name}: no person found in the video")
        return loaded

    def _progress_fn(self, text: str, step: int = 0, steps: int = 1) -> ProgressCallback:
        """A ``progress(fraction)`` for the sidebar's bar and caption, step ``step`` of
        ``steps``; callable from a worker thread (updates at most every
        `PROGRESS_INTERVAL_S`)."""
        self._progress_at = 0.0

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if now - self._progress_at < PROGRESS_INTERVAL_S and fraction < 1.0:
                return
            self._progress_at = now
            f = max(0.0, min(1.0, float(fraction)))
            value = int(100 * (step + f) / max(steps, 1))
            self.progress.param.update(visible=True, value=value)
            self._progress_text.param.update(
                visible=True, object=f"{text}: {int(100 * f)}%" if steps == 1 else text
            )

        return progress

    def _end_progress(self) -> None:
        self.progress.visible = False
        self._progress_text.visible = False

    def _use_loaded(self, loaded: LoadedSource) -> None:
        if loaded.predictions and not loaded.sequences:
            self._add_prediction_file(loaded)
            return
        self.source = loaded
        names = [s.name for s in loaded.sequences]
        self.param.sequence.objects = names
        if loaded.predictions:  # predictions that came with the sequences: shown at once
            self._keep_predictions(loaded.predictions)
            new = sorted({f"file: {p.model_id}" for p in loaded.predictions})
            self.active_models = [
                *self.active_models,
                *(m for m in new if m not in self.active_models),
            ]
            self._update_model_choices()
        self.message = f"opened {loaded.label}: {len(names)} sequences"
        # a held-out ("val") sequence first when there is one: models have not seen it
        first = next((n for n in names if n.split("/")[0] == "val"), names[0])
        if self.sequence == first:
            self._sequence_changed()
        else:
            self.sequence = first  # the watcher updates cameras and panels

    def _keep_predictions(self, predictions: Sequence[Prediction]) -> None:
        """Add ``predictions`` to the file models, replacing older ones for the same view."""
        keys = {(p.model_id, p.sequence_id, p.camera_id) for p in predictions}
        self.file_predictions = [
            p for p in self.file_predictions if (p.model_id, p.sequence_id, p.camera_id) not in keys
        ] + list(predictions)

    def open_upload(self, filename: str, data: bytes) -> bool:
        """Load an uploaded file (its name gives the format; a video is detected)."""
        path = self._save_upload(filename, data)
        if path is None:
            return False
        return self._upload_result(filename, self.open_source(path))

    async def open_upload_async(self, filename: str, data: bytes) -> bool:
        """`open_upload` for a served page (see `open_source_async`)."""
        path = self._save_upload(filename, data)
        if path is None:
            return False
        return self._upload_result(filename, await self.open_source_async(path))

    def _save_upload(self, filename: str, data: bytes) -> Path | None:
        saved: list[Path] = []

        def run() -> None:
            if not data:
                raise ValueError("the file is empty")
            name = re.sub(r"[^\w.-]", "_", Path(filename).name).lstrip(".") or "upload.dat"
            tmp = Path(tempfile.mkdtemp(prefix="poseviz-upload-")) / name
            tmp.write_bytes(data)
            saved.append(tmp)

        ok = self._guard(f"could not read upload {filename!r}", run)
        return saved[0] if ok else None

    def _upload_result(self, filename: str, ok: bool) -> bool:
        if ok:
            return True
        reason = self.message.split(": ", 1)[-1]
        return self._guard(
            f"could not read upload {filename!r}", lambda: _raise(ValueError(reason))
        )

    def _add_prediction_file(self, loaded: LoadedSource) -> None:
        self._keep_predictions(loaded.predictions)
        names = sorted({p.model_id for p in loaded.predictions})
        self._update_model_choices()
        have = {s.name for s in self.source.sequences} if self.source else set()
        matching = [p for p in loaded.predictions if p.sequence_id in have]
        if not matching:
            seqs = sorted({p.sequence_id for p in loaded.predictions})[:5]
            raise ValueError(
                f"{loaded.label} holds predictions for {seqs}..., none of which is loaded; "
                "open their ground truth first"
            )
        self.message = f"{loaded.label}: models {names} available"
        _notify("success", self.message)

    def _file_model_names(self) -> list[str]:
        return sorted({f"file: {p.model_id}" for p in self.file_predictions})

    def _update_model_choices(self) -> None:
        seq = self.current_sequence
        names = [
            n
            for n, p in self.predictors.items()
            if seq is None or seq.joints_3d is not None or not _needs_ground_truth(p)
        ] + self._file_model_names()
        self.param.model_to_add.objects = names
        if self.model_to_add not in names:
            self.model_to_add = names[0] if names else None

    # -- sequence, camera, models -----------------------------------------------------------
    @property
    def current_sequence(self) -> PoseSequence | None:
        if self.source is None or self.sequence is None:
            return None
        return next((s for s in self.source.sequences if s.name == self.sequence), None)

    @param.depends("sequence", watch=True)
    def _sequence_changed(self) -> None:
        seq = self.current_sequence
        if seq is None:
            return
        self._update_model_choices()
        cams = sorted(seq.cameras)
        self.param.camera.objects = cams
        camera = self.camera if self.camera in cams else cams[0]
        if camera == self.camera:
            self.refresh()
        else:
            self.camera = camera  # the watcher refreshes

    @param.depends("camera", watch=True)
    def _camera_changed(self) -> None:
        self.refresh()

    def add_model(self, name: str | None = None) -> bool:
        """Add model ``name`` (default: ``model_to_add``) to the comparison."""
        name = name or self.model_to_add
        if not name:
            self.message = "choose a model to add first"
            _notify("warning", self.message)
            return False
        if name in self.active_models:
            return True
        seq = self.current_sequence
        if (
            seq is not None
            and seq.joints_3d is None
            and _needs_ground_truth(self.predictors.get(name))
        ):
            self.message = f"{name} needs 3D ground truth, which {seq.name!r} has not"
            _notify("warning", self.message)
            return False
        old = list(self.active_models)
        self.active_models = [*old, name]
        ok = self.refresh()
        if ok and name in self.skipped_models:
            ok = False
            self.message = f"could not add {name}: {self.skipped_models[name]}"
            _notify("warning", self.message)
        if not ok:
            self.active_models = old
            self.refresh()
        return ok

    def remove_model(self, name: str) -> None:
        """Take model ``name`` out of the comparison."""
        if name in self.active_models:
            self.active_models = [m for m in self.active_models if m != name]
            self.refresh()

    def _prediction(self, seq: PoseSequence, camera_id: str, name: str, progress) -> Prediction:
        if name.startswith("file: "):
            model_id = name[len("file: ") :]
            for p in self.file_predictions:
                if (
                    p.model_id == model_id
                    and p.sequence_id == seq.name
                    and p.camera_id == camera_id
                ):
                    return p
            raise ValueError(
                f"the predictions file has no {model_id!r} prediction for {seq.name!r} seen by "
                f"{camera_id!r}"
            )
        if name not in self.predictors:
            raise KeyError(f"unknown model {name!r}")
        return cached_prediction(seq, camera_id, self.predictors[name], progress)

    def _skip_reason(self, seq: PoseSequence, camera_id: str, name: str) -> str | None:
        """Why model ``name`` cannot be shown for this view, or None."""
        if name.startswith("file: "):
            model_id = name[len("file: ") :]
            if not any(
                p.model_id == model_id and p.sequence_id == seq.name and p.camera_id == camera_id
                for p in self.file_predictions
            ):
                return (
                    f"the predictions file has no {model_id!r} prediction for {seq.name!r} "
                    f"seen by {camera_id!r}"
                )
        elif seq.joints_3d is None and _needs_ground_truth(self.predictors.get(name)):
            return "it needs 3D ground truth, which this sequence has not"
        return None

    def _predict_all(
        self, seq: PoseSequence, camera_id: str
    ) -> tuple[list[str], list[Prediction], dict[str, str]]:
        """``(names, predictions, skipped)``: the predictions of the active models that
        can lift this view, and why the others cannot."""
        skipped = {}
        for name in self.active_models:
            reason = self._skip_reason(seq, camera_id, name)
            if reason is not None:
                skipped[name] = reason
        models = [m for m in self.active_models if m not in skipped]
        preds = []
        self.progress.param.update(visible=bool(models), value=0)
        try:
            for i, name in enumerate(models):

                def progress(f: float, i: int = i) -> None:
                    self.progress.value = int(100 * (i + max(0.0, min(1.0, f))) / len(models))

                preds.append(self._prediction(seq, camera_id, name, progress))
                progress(1.0)
        finally:
            self.progress.visible = False
        return models, preds, skipped

    def refresh(self) -> bool:
        """Recompute the analysis for the current sequence, camera and models, and update
        every panel. Returns False (and shows why) when that failed."""

        def run() -> None:
            seq = self.current_sequence
            if seq is None or self.camera is None:
                return
            self.busy = True
            try:
                names, preds, skipped = self._predict_all(seq, self.camera)
                analysis = _analyse_cached(seq, self.camera, tuple(preds))
            finally:
                self.busy = False
            self.skipped_models = skipped
            if skipped:
                self.message = "; ".join(f"{n} not shown: {why}" for n, why in skipped.items())
                _notify("warning", self.message)
            # the names the user picked (the cached analysis is shared: copy, never mutate)
            models = dict(zip(names, analysis.models.values(), strict=True))
            self._show(dataclasses.replace(analysis, models=models))

        return self._guard("could not compute the comparison", run)

    # -- panels ---------------------------------------------------------------------------
    def _show(self, analysis: SequenceAnalysis) -> None:
        self.analysis = analysis
        frame = min(self.frame, analysis.num_frames - 1)
        self.param.frame.bounds = (0, analysis.num_frames - 1)
        if self.grid is None:
            self.grid = SkeletonGrid(analysis, frame=frame, renderer=self.renderer)
            self.grid.param.watch(self._on_panel_frame, "frame")
            self.grid.controls.param.watch(self._on_playing, "playing")
            self._lower = pn.Column(
                pn.indicators.LoadingSpinner(value=True, size=30), sizing_mode="stretch_width"
            )
            self._main.objects = [self.grid, self._lower]
            # the 3D views first; plots and tables once the page is up (served), or now
            pn.state.onload(self._build_lower)
        else:
            self.grid.analysis = analysis
            if self.timelines is not None:
                self._update_lower()
        with param.discard_events(self):
            self.frame = frame
        self._frame_changed()
        self._models_list.object = self._models_markdown()

    def _image_fn(self, analysis: SequenceAnalysis):
        """The picture source: the factory's, else none for views with a video (the image
        panel reads it), else the synthetic image of the capsule body."""
        if self.image_fn_factory is not None:
            return self.image_fn_factory(analysis)
        if analysis.camera_id in analysis.sequence.video:
            return None
        return synthetic_image_fn(analysis.sequence, analysis.camera_id)

    def _image_label(self, analysis: SequenceAnalysis) -> str:
        return "image" if self.image_fn_factory is not None else "synthetic image"

    def _attention_image_fn(self, analysis: SequenceAnalysis):
        """The attention panel's picture: the image panel's, else the view's video frames
        (the crops the model saw are cut from them)."""
        image_fn = self._image_fn(analysis)
        if image_fn is not None:
            return image_fn
        path = analysis.sequence.video.get(analysis.camera_id)
        if path is None:
            return None
        if self._video_frames is None or self._video_frames.path != str(path):
            if self._video_frames is not None:
                self._video_frames.close()
            self._video_frames = None
            try:
                self._video_frames = VideoFrames(path)
            except (FileNotFoundError, ValueError):
                return None  # the image panel says why
        return self._video_frames.__getitem__

    def _crop_fn(self, analysis: SequenceAnalysis):
        if self.image_fn_factory is not None or analysis.camera_id in analysis.sequence.video:
            return None
        return synthetic_crop_fn(analysis.sequence, analysis.camera_id)

    def _build_lower(self) -> None:
        a, frame = self.analysis, self.frame
        image_fn = self._image_fn(a)
        self.timelines = Timelines(a, frame=frame)
        self.image_panel = ImagePanel(
            a, frame=frame, image_fn=image_fn, image_label=self._image_label(a)
        )
        self.attention = AttentionPanel(
            a, frame=frame, image_fn=self._attention_image_fn(a), crop_fn=self._crop_fn(a)
        )
        self.metrics = MetricsTable(a, dataset=self._dataset)
        self.timelines.param.watch(self._on_panel_frame, "frame")
        self._lower.objects = [
            pn.Tabs(
                ("Timelines", self.timelines),
                ("Image", pn.Row(self.image_panel, self.attention)),
                ("Metrics", self.metrics),
                dynamic=True,  # a tab's plots reach the browser when it is opened
                sizing_mode="stretch_width",
            )
        ]

    def _update_lower(self) -> None:
        a = self.analysis
        image_fn = self._image_fn(a)
        for panel in (self.timelines, self.image_panel, self.attention):
            panel.analysis = a
        self.image_panel.param.update(image_fn=image_fn, image_label=self._image_label(a))
        self.attention.param.update(image_fn=self._attention_image_fn(a), crop_fn=self._crop_fn(a))
        self._dataset = []
        self.metrics.param.update(analysis=a, dataset=[])

    def _on_panel_frame(self, event: param.parameterized.Event) -> None:
        self.frame = event.new

    @param.depends("frame", watch=True)
    def _frame_changed(self) -> None:
        if self.grid is not None and self.grid.frame != self.frame:
            self.grid.frame = self.frame
        # Plots and pictures follow at most every PANEL_INTERVAL_S (and always end on the
        # last frame): redrawing them for every frame of a playback or a held key would take
        # the browser's time from the 3D views.
        now = time.monotonic()
        wait = PANEL_INTERVAL_S - (now - self._panels_at)
        doc = pn.state.curdoc
        if wait <= 0 or doc is None or doc.session_context is None:
            self._update_panels()
        elif not self._panels_pending:
            self._panels_pending = True
            doc.add_timeout_callback(self._update_panels, int(wait * 1000) + 1)

    def _update_panels(self) -> None:
        self._panels_pending = False
        self._panels_at = time.monotonic()
        for panel in (self.timelines, self.image_panel, self.attention):
            if panel is not None and panel.frame != self.frame:
                panel.frame = self.frame

    def _on_playing(self, event: param.parameterized.Event) -> None:
        if not event.new:  # stopped: every panel shows the frame it stopped at
            self._panels_at = 0.0
            self._frame_changed()

    def _show_empty(self) -> None:
        self._main.objects = [
            pn.pane.Markdown(
                "### Nothing to show yet\nOpen a source in the sidebar: the demo dataset, a "
                "file `poseviz.data.load` reads (C3D, BVH, TRC, Human3.6M npz, ...), a "
                "predictions `.npz` from `poseviz predict`, or a video (MP4, AVI, MOV, ...)."
            )
        ]

    # -- dataset tables and exports --------------------------------------------------------
    def compute_dataset(self) -> bool:
        """Analyse every sequence of the source with the active models and the current
        camera (cameras missing in a sequence are skipped) for the dataset tables."""

        def run() -> None:
            if self.source is None:
                raise ValueError("open a source first")
            if all(s.joints_3d is None for s in self.source.sequences):
                raise ValueError(
                    f"the dataset tables compare with 3D ground truth, which "
                    f"{self.source.label} has not"
                )
            out = []
            seqs = self.source.sequences
            self.progress.param.update(visible=True, value=0)
            try:
                for i, seq in enumerate(seqs):
                    if self.camera in seq.cameras and seq.joints_3d is not None:
                        names, preds, _ = self._predict_all(seq, self.camera)
                        a = analyse(seq, self.camera, preds)
                        models = dict(zip(names, a.models.values(), strict=True))
                        out.append(dataclasses.replace(a, models=models))
                    self.progress.param.update(visible=True, value=int(100 * (i + 1) / len(seqs)))
            finally:
                self.progress.visible = False
            self._dataset = out
            if self.metrics is not None:
                self.metrics.dataset = out

        return self._guard("could not compute the dataset tables", run)

    def export_png(self) -> io.BytesIO:
        """PNG of every view at the current frame, rendered off screen."""
        if self.grid is None:
            raise ValueError("nothing to export yet")
        img = render_grid(self.grid.views, self.frame, columns=self.grid.columns)
        return io.BytesIO(save_image(img))

    def export_video(self, start: int, stop: int, fmt: str = "mp4") -> io.BytesIO:
        """MP4 or GIF of frames ``[start, stop)`` of every view, rendered off screen."""
        if self.grid is None:
            raise ValueError("nothing to export yet")
        path = Path(tempfile.mkdtemp(prefix="poseviz-export-")) / f"views.{fmt}"
        self.progress.param.update(visible=True, value=0)
        try:
            save_video(
                self.grid.views,
                path,
                start,
                stop,
                fps=self.analysis.fps,
                columns=self.grid.columns,
                progress=lambda f: setattr(self.progress, "value", int(100 * f)),
            )
        finally:
            self.progress.visible = False
        return io.BytesIO(path.read_bytes())

    def export_csv(self) -> io.StringIO:
        """The metric tables as CSV."""
        if self.metrics is None:
            raise ValueError("nothing to export yet")
        return io.StringIO(self.metrics.csv())

    def _download(
        self, label: str, filename: str, make: Callable[[], Any]
    ) -> pn.widgets.FileDownload:
        def callback():
            result = []
            self._guard(f"could not export {filename}", lambda: result.append(make()))
            return result[0] if result else io.BytesIO(b"")

        return pn.widgets.FileDownload(
            callback=callback,
            filename=filename,
            label=label,
            color="default",
            sizing_mode="stretch_width",
        )

    # -- layout ---------------------------------------------------------------------------
    def _models_markdown(self) -> str:
        if not self.active_models:
            return "_no model yet_"
        return "\n".join(
            f"- {m}"
            + (f" _(not shown: {self.skipped_models[m]})_" if m in self.skipped_models else "")
            for m in self.active_models
        )

    def _build_sidebar(self) -> pn.Column:
        path = pn.widgets.TextInput.from_param(
            self.param.source_path,
            label="file, folder or video",
            placeholder="/path/to/data.c3d",
        )
        open_btn = pn.widgets.Button(label="Open", color="primary")

        async def open_typed(_: Any) -> None:
            if self.source_path.strip():
                await self.open_source_async(self.source_path.strip())

        open_btn.on_click(open_typed)
        demo_btn = pn.widgets.Button(label="Open the demo dataset")
        demo_btn.on_click(lambda _: self.open_source(DEMO))
        upload = pn.widgets.FileInput(label="upload", sizing_mode="stretch_width")

        async def uploaded(event: param.parameterized.Event) -> None:
            if event.new:
                await self.open_upload_async(upload.filename or "upload", event.new)

        upload.param.watch(uploaded, "value")
        max_frames = pn.widgets.IntInput.from_param(
            self.param.video_max_frames, label="video: frames to read (0: all)", start=0
        )
        for widget in (open_btn, demo_btn, upload):  # one source at a time
            widget.disabled = self.busy
        self.param.watch(
            lambda e: [setattr(w, "disabled", e.new) for w in (open_btn, demo_btn, upload)],
            "busy",
        )
        add_btn = pn.widgets.Button(label="Add model", color="success")
        add_btn.on_click(lambda _: self.add_model())
        clear_btn = pn.widgets.Button(label="Remove all models")
        clear_btn.on_click(lambda _: (self.param.update(active_models=[]), self.refresh()))
        self._models_list = pn.pane.Markdown(self._models_markdown())
        start = pn.widgets.IntInput(label="from frame", value=0, start=0, width=100)
        stop = pn.widgets.IntInput(label="to frame", value=100, start=1, width=100)
        fmt = pn.widgets.RadioButtonGroup(options=["mp4", "gif"], value="mp4")
        video = pn.widgets.FileDownload(
            label="Video of the frame range",
            filename="poseviz.mp4",
            sizing_mode="stretch_width",
            callback=lambda: self._export_video_safe(start.value, stop.value, fmt.value),
        )
        fmt.param.watch(lambda e: setattr(video, "filename", f"poseviz.{e.new}"), "value")
        dataset_btn = pn.widgets.Button(label="Dataset tables (all sequences)")
        dataset_btn.on_click(lambda _: self.compute_dataset())
        return pn.Column(
            "### Source",
            demo_btn,
            path,
            open_btn,
            upload,
            max_frames,
            pn.widgets.Select.from_param(self.param.sequence, label="sequence"),
            pn.widgets.Select.from_param(self.param.camera, label="camera"),
            "### Models",
            pn.widgets.Select.from_param(self.param.model_to_add, label="model"),
            add_btn,
            self._models_list,
            clear_btn,
            self._progress_text,
            self.progress,
            self._status,
            "### Export",
            self._download("PNG of this frame", "poseviz.png", self.export_png),
            pn.Row(start, stop),
            fmt,
            video,
            self._download("Metrics CSV", "poseviz_metrics.csv", self.export_csv),
            dataset_btn,
            sizing_mode="stretch_width",
        )

    def _export_video_safe(self, start: int, stop: int, fmt: str):
        result = []
        self._guard(
            "could not export the video", lambda: result.append(self.export_video(start, stop, fmt))
        )
        return result[0] if result else io.BytesIO(b"")

    @property
    def sidebar(self) -> pn.Column:
        return self._sidebar

    @property
    def main(self) -> pn.Column:
        return self._main

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(
            pn.Column(self._sidebar, width=300),
            self._main,
            sizing_mode="stretch_width",
        )


def _raise(err: BaseException) -> None:
    raise err
