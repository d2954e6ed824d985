"""Video in the wild: unreadable and person-less videos fail cleanly and leave nothing
behind; on the Sports2D demo a person is found and detections are cached; `poseviz lift`
end to end writes predictions and an MP4 that OpenCV reads back."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

import poseviz.inference as inference
from poseviz.cli import main
from poseviz.data.predictions import load_predictions
from poseviz.inference import detect
from poseviz.inference.video import (
    VideoDetections,
    detect_video,
    read_video_info,
    track_video,
    video_hash,
)
from tests.conftest import REPO

needs_mediapipe = pytest.mark.skipif(
    importlib.util.find_spec("mediapipe") is None,
    reason="MediaPipe (the [video] extra, scripts/setup.sh) is not installed",
)


def _write_video(path, frames: int, size=(160, 120), value=128) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, size)
    for t in range(frames):
        w.write(np.full((size[1], size[0], 3), value + t % 3, dtype=np.uint8))
    w.release()


def _listing(*folders):
    return sorted(str(p) for f in folders if f.exists() for p in f.rglob("*"))


def test_corrupt_video_clear_message_and_no_files(tmp_path, capsys):
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with pytest.raises(ValueError, match=r"clip\.mp4: not a readable video"):
        read_video_info(bad)
    out, cache = tmp_path / "out", tmp_path / "cache"
    code = main(["lift", str(bad), "--model", "any", "-o", str(out), "--cache-dir", str(cache)])
    assert code == 2
    assert "clip.mp4: not a readable video" in capsys.readouterr().err
    assert not out.exists() and not cache.exists()
    assert main(["lift", str(tmp_path / "missing.mp4"), "--model", "m", "-o", str(out)]) == 2
    assert "no such video file" in capsys.readouterr().err and not out.exists()


def test_video_hash_is_the_content_hash(tmp_path):
    import hashlib

    a = tmp_path / "a.bin"
    a.write_bytes(b"x" * 3_000_000)
    assert video_hash(a) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


@needs_mediapipe
def test_video_without_a_person_fails_cleanly(tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    _write_video(empty, 12)
    out, cache = tmp_path / "out", tmp_path / "cache"
    with pytest.raises(ValueError, match=r"empty\.mp4: no person detected in any of its 12 frames"):
        track_video(empty, cache_dir=cache, progress=False)
    code = main(
        ["lift", str(empty), "--model", "m", "-o", str(out), "--cache-dir", str(cache), "-q"]
    )
    assert code == 2 and "no person detected" in capsys.readouterr().err
    assert _listing(out, cache) == [] and not out.exists()


@needs_mediapipe
@pytest.mark.slow
def test_demo_video_person_found_and_detections_cached(shared_data, tmp_path, monkeypatch):
    video = shared_data / "sports2d_demo" / "demo.mp4"
    cache = tmp_path / "cache"
    det = detect_video(video, cache_dir=cache, progress=False)
    assert det.complete and det.num_frames == 230
    found = det.frames_with_person / det.num_frames
    assert found >= 0.9, f"a person in only {found:.0%} of the frames"
    (cached,) = list((cache).glob("*.npz"))
    assert cached.name.startswith(video_hash(video)[:24])
    tracked = track_video(video, cache_dir=cache, progress=False)
    seq = tracked.sequence
    assert seq.num_frames == 230 and seq.video["video"] == str(video)
    assert np.isfinite(seq.joints_2d["video"]).all()
    assert tracked.track.coverage > 0.6  # the person followed (MediaPipe loses the backflip)
    assert (seq.confidence["video"][~tracked.track.detected] == 0).all()

    # A second run reuses the cache: no detector may be built.
    def no_detector(*args, **kwargs):
        raise AssertionError("detection ran again despite the cache")

    monkeypatch.setattr(detect.MediaPipeDetector, "__init__", no_detector)
    again = detect_video(video, cache_dir=cache, max_frames=100, progress=False)
    assert again.num_frames == 100
    np.testing.assert_array_equal(again.frame, det.frame[det.frame < 100])
    assert isinstance(VideoDetections.load(cached), VideoDetections)


def _model_folder(tmp_path):
    """A shipped model folder, else a freshly initialised small model saved as one (the
    pipeline is under test here, not the model's accuracy)."""
    if not hasattr(inference, "load_model") or not hasattr(inference, "predict_sequence"):
        pytest.skip("poseviz.inference.load_model / predict_sequence (training engine) absent")
    shipped = sorted(p for p in (REPO / "models").glob("*") if (p / "model.safetensors").is_file())
    if shipped:
        return shipped[0]
    import yaml

    from poseviz.models.registry import create_model, list_models

    # the training engine's weights writer (imported by name: it lives on another branch)
    weights_to_bytes = importlib.import_module("poseviz.models.pretrained").weights_to_bytes

    if "videopose3d_t27" not in list_models():
        pytest.skip("no shipped model and no videopose3d_t27 in the registry")
    folder = tmp_path / "vp3d"
    folder.mkdir()
    model = create_model("videopose3d_t27", channels=64)
    config = {"model": {"name": "videopose3d_t27", "channels": 64}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    meta = {"poseviz_model": "videopose3d_t27"}
    (folder / "model.safetensors").write_bytes(weights_to_bytes(model, meta))
    return folder


@needs_mediapipe
@pytest.mark.slow
def test_lift_cli_on_the_demo_video(shared_data, tmp_path, capsys):
    model = _model_folder(tmp_path)
    video = shared_data / "sports2d_demo" / "demo.mp4"
    out = tmp_path / "out"
    args = ["lift", str(video), "--model", str(model), "-o", str(out), "--max-frames", "60", "-q"]
    assert main([*args, "--cache-dir", str(tmp_path / "cache")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["demo.overlay.mp4", "demo.predictions.npz"]
    preds = load_predictions(out / "demo.predictions.npz")
    assert [p.model_id for p in preds][1] == "mediapipe_world"
    assert preds[0].joints_3d.shape[1:] == (17, 3) and preds[0].num_frames <= 60
    cap = cv2.VideoCapture(str(out / "demo.overlay.mp4"))
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames += 1
        assert frame.shape[0] == 480
    cap.release()
    assert frames == 60
    # --level: the same detections (cached), the view lifted levelled and turned back
    levelled = tmp_path / "levelled"
    args = ["lift", str(video), "--model", str(model), "-o", str(levelled), "--max-frames", "60"]
    assert main([*args, "-q", "--level", "--cache-dir", str(tmp_path / "cache")]) == 0
    turned = load_predictions(levelled / "demo.predictions.npz")[0]
    angle = turned.aux["level_angle"]
    assert angle.shape == (turned.num_frames,) and np.ptp(angle) == 0 and angle[0] != 0
    assert turned.joints_3d.shape == preds[0].joints_3d.shape
