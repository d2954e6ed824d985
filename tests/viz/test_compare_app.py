"""The compare page's state: sources, models, frame links, errors that leave it usable."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from bokeh.events import Tap

from poseviz.data.keypoints import write_keypoints
from poseviz.data.predictions import save_predictions
from poseviz.viz.compare import CompareApp, cached_prediction, load_source
from poseviz.viz.predictors import PerturbedGroundTruth
from tests.viz.conftest import synthetic_motion


@pytest.fixture
def motion_file(tmp_path):
    path = tmp_path / "walk.npz"
    write_keypoints(
        path, synthetic_motion(50, z_up=True), "h36m17", fps=25, extra={"action": "walk"}
    )
    return path


@pytest.fixture
def predictors():
    return {
        "bias": PerturbedGroundTruth("bias", bias_mm=40, seed=1),
        "jitter": PerturbedGroundTruth("jitter", jitter_mm=25, seed=2),
    }


def test_opens_a_file_and_shows_models(motion_file, predictors):
    app = CompareApp(predictors, source=str(motion_file), models=["bias"])
    assert app.sequence and app.camera == "cam0"
    assert app.grid.view_names == ["ground truth", "bias"]
    assert app.add_model("jitter")
    assert app.grid.view_names == ["ground truth", "bias", "jitter"]
    assert list(app.metrics.tables()["sequence"].index) == ["bias", "jitter"]
    app.camera = "cam2"
    assert app.analysis.camera_id == "cam2" and app.grid.view_names[-1] == "jitter"
    app.remove_model("bias")
    assert app.grid.view_names == ["ground truth", "jitter"]


def test_one_frame_everywhere(motion_file, predictors):
    app = CompareApp(predictors, source=str(motion_file), models=["bias", "jitter"])
    app.frame = 12
    assert (
        app.grid.frame == app.timelines.frame == app.image_panel.frame == app.attention.frame == 12
    )
    app.grid.controls.frame = 30  # the browser's playback reports a frame
    assert app.frame == 30 and app.timelines.cursor_positions[0] == 30
    fig = app.timelines.figures[2]
    fig._trigger_event(Tap(fig, x=7.2, y=1.0))  # click on a timeline: seek
    assert app.frame == 7 and [v.frame for v in app.grid.views] == [7, 7, 7]
    assert app.image_panel.frame == 7 and app.grid.controls.frame == 7


def test_bad_sources_leave_the_session_usable(motion_file, predictors, tmp_path):
    app = CompareApp(predictors, source=str(motion_file), models=["bias"])
    before = (app.sequence, app.camera, list(app.active_models), app.analysis)
    assert not app.open_source(tmp_path / "missing.c3d")
    assert "no such file" in app.message and app._status.visible
    garbage = tmp_path / "broken.c3d"
    garbage.write_bytes(b"not a c3d file at all")
    assert not app.open_source(garbage)
    assert "broken.c3d" in app.message
    assert not app.open_upload("motion.bvh", b"HIERARCHY\nROOT hip {\n")
    assert "motion.bvh" in app.message
    assert not app.open_upload("empty.npz", b"")
    assert "empty" in app.message
    assert (app.sequence, app.camera, list(app.active_models), app.analysis) == before
    # still usable: add a model, move frames, open a good file
    assert app.add_model("jitter") and app.grid.view_names[-1] == "jitter"
    assert app.open_upload("walk.npz", motion_file.read_bytes())
    assert not app._status.visible


def test_a_failing_model_is_reported_and_not_kept(motion_file, predictors):
    def broken(sequence, camera_id, progress=None):
        raise RuntimeError("out of memory")

    app = CompareApp({**predictors, "broken": broken}, source=str(motion_file), models=["bias"])
    assert not app.add_model("broken")
    assert "out of memory" in app.message and app.active_models == ["bias"]
    assert app.grid.view_names == ["ground truth", "bias"]


def test_prediction_files_become_models(motion_file, predictors, tmp_path):
    app = CompareApp(predictors, source=str(motion_file))
    seq = app.current_sequence
    preds = [PerturbedGroundTruth("trained-x", bias_mm=15)(seq, cam) for cam in ("cam0", "cam1")]
    path = save_predictions(tmp_path / "preds.npz", preds)
    assert app.open_source(path)
    assert "file: trained-x" in app.param.model_to_add.objects
    assert app.add_model("file: trained-x")
    np.testing.assert_allclose(
        app.analysis.models["file: trained-x"].camera_frame,
        preds[0].joints_3d - preds[0].joints_3d[:, :1],
    )
    app.camera = "cam3"  # the file has no cam3 prediction: said, and the model is kept
    assert "no 'trained-x' prediction" in app.message
    other = PerturbedGroundTruth("elsewhere")(seq, "cam0")
    other.sequence_id = "someone/else"
    assert not app.open_source(save_predictions(tmp_path / "other.npz", [other]))
    assert "none of which is loaded" in app.message


def test_inference_is_cached_per_process(motion_file):
    calls = []

    class Counting:
        def __call__(self, sequence, camera_id, progress=None):
            calls.append(camera_id)
            if progress:
                progress(0.5)
            return PerturbedGroundTruth("c")(sequence, camera_id)

    predictor = Counting()
    seq = load_source(motion_file).sequences[0]
    assert load_source(motion_file) is load_source(motion_file)
    seen = []
    a = cached_prediction(seq, "cam0", predictor, seen.append)
    b = cached_prediction(seq, "cam0", predictor, seen.append)
    assert a is b and calls == ["cam0"] and seen == [0.5]
    cached_prediction(seq, "cam1", predictor)
    assert calls == ["cam0", "cam1"]
    # a second page in the same process reuses the result
    CompareApp({"c": predictor}, source=str(motion_file), models=["c"])
    assert calls == ["cam0", "cam1"]


def test_dataset_tables_and_exports(motion_file, predictors):
    app = CompareApp(predictors, source=str(motion_file), models=["bias", "jitter"])
    assert app.compute_dataset()
    assert "overall" in app.metrics.tables()
    csv = pd.read_csv(io.StringIO(app.export_csv().getvalue()))
    assert {"sequence", "overall", "per action"} <= set(csv["table"])
    png = app.export_png().getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_starts_empty_without_a_source(predictors):
    app = CompareApp(predictors, source=None)
    assert app.analysis is None and "Nothing to show yet" in app.main.objects[0].object
    assert not app.add_model("bias") or app.analysis is None
