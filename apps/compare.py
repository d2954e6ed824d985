"""The compare app: ground truth and models side by side.

    panel serve apps/compare.py                                  # demo data, shipped models
    panel serve apps/compare.py --args --source PATH [--models DIR] [--model NAME ...]

PATH is anything `poseviz.data.load` reads, a video (MP4, AVI, MOV, ...), or ``demo``; DIR
holds one folder per trained model (default ``models/`` beside this file). Composition
only: the components live in `poseviz.viz`; models are loaded by `poseviz.inference` and
wrapped as predictors here, and videos are read by `poseviz.inference.video` (MediaPipe 2D,
one tracked person) through `read_video`.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
import panel as pn

from poseviz.viz.compare import CompareApp, LoadedSource
from poseviz.viz.predictors import perturbed_predictors

REPO = Path(__file__).resolve().parents[1]


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="apps/compare.py")
    parser.add_argument("--source", default=None, help="data file/folder, or 'demo'")
    parser.add_argument("--models", default=str(REPO / "models"), help="folder of models")
    parser.add_argument("--model", action="append", default=[], help="model to show at start")
    parser.add_argument("--renderer", default="canvas", choices=["canvas", "vtk"])
    parser.add_argument(
        "--max-frames", type=int, default=0, help="read at most this many frames of a video"
    )
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args


@pn.cache
def model_predictors(models_dir: str) -> dict:
    """Predictors of the trained models in ``models_dir`` (folders with ``config.yaml`` and
    ``model.safetensors``) when `poseviz.inference` can load them, then the
    perturbed-ground-truth stand-ins (labelled as such)."""
    found = {}
    folder = Path(models_dir)
    if folder.is_dir() and importlib.util.find_spec("poseviz.inference") is not None:
        inference = importlib.import_module("poseviz.inference")
        if hasattr(inference, "load_model") and hasattr(inference, "predict_sequence"):
            for sub in sorted(folder.iterdir()):
                if (sub / "config.yaml").is_file() and (sub / "model.safetensors").is_file():
                    found[sub.name] = _ModelPredictor(sub, inference)
    return {**found, **perturbed_predictors()}


class _ModelPredictor:
    """A trained model as a `poseviz.viz.predictors.Predictor` (loaded on first use; CUDA
    when available)."""

    def __init__(self, folder: Path, inference) -> None:
        self.folder, self._inference, self._model = folder, inference, None

    def __call__(self, sequence, camera_id, progress=None):
        if self._model is None:
            self._model = self._inference.load_model(self.folder)
        if sequence.joints_3d is None and camera_id in sequence.video:
            # a video in the wild: image models see real person crops of its frames;
            # keypoint models see the view levelled (rarely level footage, leaning people;
            # models/README.md "Real video")
            from poseviz.inference.level import supports_level
            from poseviz.inference.video import predict_video

            prediction = predict_video(
                self._model,
                sequence,
                camera_id,
                model_id=self.folder.name,
                level=supports_level(self._model),
            )
            return _done(prediction, progress)
        prediction = self._inference.predict_sequence(
            self._model, sequence, camera_id, model_id=self.folder.name
        )
        size = getattr(getattr(self._model, "config", None), "image_size", None)
        if size is not None and "attention" in prediction.aux:  # the crop the maps cover
            prediction.aux["crop_size"] = np.tile(
                np.asarray(size, np.int64), (prediction.num_frames, 1)
            )
        return _done(prediction, progress)


def _done(prediction, progress):
    if progress is not None:
        progress(1.0)
    return prediction


def read_video(path: str, *, max_frames: int | None = None, progress=None) -> LoadedSource:
    """A video -> one tracked person's 2D (MediaPipe BlazePose, detections cached by the
    video's content hash) and MediaPipe's own 3D as the model ``mediapipe_world``: the
    `poseviz.viz.compare.VideoReader` of this app."""
    from poseviz.inference.video import mediapipe_prediction, track_video

    def report(done: int, total: int | None) -> None:
        if progress is not None and total:
            progress(done / total)

    tracked = track_video(path, max_frames=max_frames, progress=report)
    return LoadedSource(
        f"video {Path(path).name}", [tracked.sequence], [mediapipe_prediction(tracked)]
    )


def default_source() -> str | None:
    return "demo" if importlib.util.find_spec("poseviz.data.demo") is not None else None


args = _args()
# vtk.js (2.5 MB) only when the views use it
pn.extension(*(["vtk"] if args.renderer == "vtk" else []), notifications=True)
predictors = model_predictors(args.models)
trained = [n for n in predictors if isinstance(predictors[n], _ModelPredictor)]
# three models at start (four views); the pose-only ones first (image models render crops)
FIRST = ("videopose3d", "gla_gcn", "dgcnn", "repose", "scotl", "lifting_by_image")
trained.sort(key=lambda n: FIRST.index(n) if n in FIRST else len(FIRST))
app = CompareApp(
    predictors,
    source=args.source or default_source(),
    models=args.model or trained[:3] or list(predictors)[:3],
    renderer=args.renderer,
    video_reader=read_video,
    video_max_frames=max(args.max_frames, 0),
)
pn.template.BootstrapTemplate(  # no web fonts: works offline
    title="poseviz - compare",
    sidebar=[app.sidebar],
    main=[app.main],
    sidebar_width=320,
).servable()
