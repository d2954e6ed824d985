"""A video in the compare app: a sequence with 2D and no 3D ground truth through the
analysis, the components and `CompareApp`, read by the real detection-cache and tracking
code driven by a fake detector (no MediaPipe needed)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from bokeh.events import Tap

from poseviz.data.keypoints import write_keypoints
from poseviz.geometry import project, world_to_camera
from poseviz.inference.detect import BlazePoseLandmarks
from poseviz.inference.video import detect_video, mediapipe_prediction, track_video
from poseviz.metrics.functional import lse
from poseviz.skeleton import get_skeleton
from poseviz.structures import Camera, PoseSequence, Prediction
from poseviz.viz.analysis import analyse
from poseviz.viz.colors import joint_colors
from poseviz.viz.compare import CompareApp, LoadedSource, is_video
from poseviz.viz.grid import SkeletonGrid
from poseviz.viz.image_panel import ImagePanel
from poseviz.viz.metrics_table import MetricsTable, dataset_tables
from poseviz.viz.predictors import PerturbedGroundTruth
from poseviz.viz.timeline import Timelines
from tests.viz.conftest import make_sequence, synthetic_motion

W, H, T = 320, 240, 40
# y-up world -> OpenCV camera 4 m in front of the walker, looking at it
CAMERA = Camera(
    "video", W, H, 320.0, 320.0, W / 2, H / 2, R=np.diag([1.0, -1.0, -1.0]), t=[0, 1, 4]
)
H36M = get_skeleton("h36m17")
# each BlazePose landmark at the h36m17 joint it belongs to (face -> head, hands -> wrists,
# feet -> ankles); the eyes at the head so that the mapped head is the head
_SOURCE = {
    "nose": "neck_nose",
    "shoulder": "shoulder",
    "elbow": "elbow",
    "wrist": "wrist",
    "pinky": "wrist",
    "index": "wrist",
    "thumb": "wrist",
    "hip": "hip",
    "knee": "knee",
    "ankle": "ankle",
    "heel": "ankle",
    "foot_index": "ankle",
}


def _blazepose_index() -> list[int]:
    out = []
    for name in get_skeleton("blazepose33").names:
        side = "l_" if name.startswith("left_") else "r_" if name.startswith("right_") else ""
        part = name.removeprefix("left_").removeprefix("right_")
        target = _SOURCE.get(part)
        out.append(H36M.index("head" if target is None else target if not side else side + target))
    return out


def walk_2d() -> tuple[np.ndarray, np.ndarray]:
    """The synthetic walk seen by `CAMERA`: ``(T, 17, 2)`` pixels, ``(T, 17, 3)`` camera
    frame metres."""
    world = synthetic_motion(T)
    return project(world, CAMERA), world_to_camera(world, CAMERA)


class FakeDetector:
    """`MediaPipeDetector`'s interface: the synthetic walker in every frame (frames come in
    order), the right wrist hidden (visibility 0.2) in the second half; or nobody."""

    def __init__(self, *, person: bool = True) -> None:
        self.settings = {"detector": "fake", "person": person}
        self.person = person
        self._t = 0
        self._px, self._cam = walk_2d()
        self._index = _blazepose_index()

    def detect(self, frame: np.ndarray) -> BlazePoseLandmarks | None:
        t, self._t = self._t, self._t + 1
        if not self.person:
            return None
        vis = np.full(33, 0.95)
        if t >= T // 2:
            vis[[i for i, n in enumerate(get_skeleton("blazepose33").names) if "right_" in n
                 and any(k in n for k in ("wrist", "pinky", "index", "thumb"))]] = 0.2  # fmt: skip
        cam = self._cam[t] - self._cam[t][0]
        return BlazePoseLandmarks(self._px[t][self._index], vis, cam[self._index])

    def detect_region(self, frame, box):
        return None

    def close(self) -> None:
        pass


def write_video(path: Path, frames: int = T, value: int = 128) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (W, H))
    for _ in range(frames):
        writer.write(np.full((H, W, 3), value, np.uint8))
    writer.release()
    return path


def fake_reader(cache_dir: Path, *, person: bool = True, calls: list | None = None):
    """What ``apps/compare.py``'s ``read_video`` does, with `FakeDetector` for MediaPipe."""

    def read(path, *, max_frames=None, progress=None):
        det = detect_video(
            path,
            detector=FakeDetector(person=person),
            max_frames=max_frames,
            cache_dir=cache_dir,
            progress=(lambda d, n: progress(d / n)) if progress else False,
        )
        tracked = track_video(path, detections=det)
        if calls is not None:
            calls.append(threading.get_ident())
        return LoadedSource(
            f"video {Path(path).name}", [tracked.sequence], [mediapipe_prediction(tracked)]
        )

    return read


class FlatLifter:
    """A 'model' that needs no ground truth: the 2D back-projected at the camera's 4 m."""

    def __init__(self, name: str = "flat") -> None:
        self.name, self.threads = name, []

    def __call__(self, sequence, camera_id, progress=None):
        self.threads.append(threading.get_ident())
        cam = sequence.cameras[camera_id]
        uv = sequence.joints_2d[camera_id]
        xyz = np.stack(
            [(uv[..., 0] - cam.cx) / cam.fx * 4.0, (uv[..., 1] - cam.cy) / cam.fy * 4.0], -1
        )
        xyz = np.concatenate([xyz, np.full(uv.shape[:2] + (1,), 4.0)], -1)
        xyz[..., 2] += 0.05 * np.sin(np.arange(len(uv)))[:, None]  # some jitter in depth
        if progress:
            progress(1.0)
        return Prediction(self.name, sequence.name, camera_id, xyz - xyz[:, :1])


@pytest.fixture
def video(tmp_path) -> Path:
    return write_video(tmp_path / "walk.mp4")


@pytest.fixture
def video_sequence() -> PoseSequence:
    px, _ = walk_2d()
    occ = np.zeros((T, 17), bool)
    occ[T // 2 :, 16] = True
    return PoseSequence(
        name="walk",
        subject="video",
        action="walk",
        fps=25.0,
        skeleton="h36m17",
        cameras={"video": CAMERA},
        joints_2d={"video": px},
        confidence={"video": np.where(occ, 0.2, 0.95)},
        occluded={"video": occ},
    )


def test_analysis_without_ground_truth(video_sequence):
    preds = [FlatLifter("a")(video_sequence, "video"), FlatLifter("b")(video_sequence, "video")]
    a = analyse(video_sequence, "video", preds)
    assert not a.has_ground_truth and a.gt_world is None and a.gt_camera is None
    np.testing.assert_array_equal(a.keypoints_2d, video_sequence.joints_2d["video"])
    np.testing.assert_array_equal(a.confidence, video_sequence.confidence["video"])
    res = a.models["a"]
    assert not res.has_ground_truth
    assert res.error_mm is None and res.mpjpe_mm is None and res.psim is None
    x = res.camera_frame
    skel = get_skeleton("h36m17")
    for t in (0, 7, 20):  # LSE: |left bone| - |right bone| over the mirrored bone pairs
        pairs = skel.symmetric_bones
        ref = np.mean(
            [
                abs(np.linalg.norm(x[t, lc] - x[t, lp]) - np.linalg.norm(x[t, rc] - x[t, rp]))
                for (lp, lc), (rp, rc) in pairs
            ]
        )
        assert np.isclose(res.lse_mm[t], 1000 * ref)
    for t in (1, 10, T - 2):  # acceleration: mean_j |x_{t+1} - 2 x_t + x_{t-1}|
        ref = np.mean([np.linalg.norm(x[t + 1, j] - 2 * x[t, j] + x[t - 1, j]) for j in range(17)])
        assert np.isclose(res.acceleration_mm[t], 1000 * ref)
    assert np.isnan(res.acceleration_mm[[0, -1]]).all()
    lengths = np.array(
        [[np.linalg.norm(x[t, c] - x[t, p]) for p, c in skel.bones] for t in range(T)]
    )
    assert np.isclose(res.bone_std_mm, 1000 * np.mean(lengths.std(0)))
    assert res.bone_std_mm > 1.0  # the lifter's depth jitter stretches the bones
    assert set(res.summary()) == {"LSE (mm)", "bone length std (mm)", "acceleration (mm/frame^2)"}
    assert np.isclose(res.summary()["LSE (mm)"], np.mean(lse(x, reduction="pose")))
    # drawn standing up: the camera's up (-y) is the display's up, the root at the origin
    d = res.display
    assert (d[:, 10, 1] > d[:, 3, 1] + 0.5).all()
    np.testing.assert_allclose(d[:, 0], 0.0, atol=1e-12)
    two_views = PoseSequence(
        "x",
        "s",
        "a",
        25.0,
        "h36m17",
        cameras={"v": CAMERA, "w": CAMERA},
        joints_2d={"w": video_sequence.joints_2d["video"]},
    )
    with pytest.raises(ValueError, match="no 3D ground truth and no 2D keypoints for camera 'v'"):
        analyse(two_views, "v")


def test_components_without_ground_truth(video_sequence, video):
    video_sequence.video = {"video": str(video)}
    a = analyse(video_sequence, "video", [FlatLifter("flat")(video_sequence, "video")])
    grid = SkeletonGrid(a)  # default colours: per-joint error, which needs ground truth
    assert grid.view_names == ["flat"]
    assert "error" not in grid.available_modes and "sensitive" not in grid.available_modes
    assert grid.color_mode == "confidence" and grid._note.visible
    assert "per-joint error" not in grid._mode_select.options
    view = grid.view("flat")
    assert view.effective_mode == "confidence" and view.reference is None
    np.testing.assert_array_equal(
        view.joint_colors, joint_colors("confidence", T, confidence=a.confidence)
    )
    grid.color_mode = "occlusion"
    np.testing.assert_array_equal(
        view.joint_colors, joint_colors("occlusion", T, occluded=a.occluded)
    )
    grid.color_mode = "error"  # asked for anyway (from Python): left/right, never wrong colours
    assert view.effective_mode == "side"
    # ground truth again: the user's last choice comes back and the truth is shown
    seq = make_sequence(T)
    grid.analysis = analyse(seq, "cam0", [PerturbedGroundTruth("bias", bias_mm=40)(seq, "cam0")])
    assert grid.view_names == ["ground truth", "bias"] and grid.color_mode == "error"
    assert not grid._note.visible and "per-joint error" in grid._mode_select.options

    def framed(joints):  # the shared camera looks at the middle of what is shown
        pts = joints.reshape(-1, 3)
        centre = (pts.min(0) + pts.max(0)) / 2
        return np.allclose(grid.views[0].view_camera.focal_point, centre, atol=1e-6)

    assert framed(grid.analysis.gt_display)
    grid.analysis = a
    assert grid.color_mode == "confidence" and framed(a.models["flat"].display)

    tl = Timelines(a)
    assert tl.note is not None and "No 3D ground truth" in tl.note
    titles = [f.title.text for f in tl.figures]
    assert titles[0].startswith("2D detector") and "limb symmetry" in titles[1]
    assert "acceleration" in titles[2] and "confidence" in titles[3]
    assert not any("MPJPE" in t or "PSIM" in t for t in titles)
    np.testing.assert_array_equal(tl.heatmap_image, a.confidence.T)
    lse_line = tl.figures[1].renderers[0].data_source.data["y"]
    np.testing.assert_allclose(lse_line, a.models["flat"].lse_mm)
    tl.figures[2]._trigger_event(Tap(tl.figures[2], x=17.3, y=1.0))
    assert tl.frame == 17 and tl.cursor_positions == [17] * len(tl.figures)

    table = MetricsTable(a)
    assert list(table.tables()["sequence"].columns[-3:]) == list(a.models["flat"].plausibility())
    assert "No 3D ground truth" in table._layout.objects[0].object
    assert dataset_tables([a]) == {}

    panel = ImagePanel(a, frame=5, zoom=False)
    assert panel.source == "video"
    img = panel.image()
    assert img.shape == (H, W, 3)
    grey = (np.abs(img.astype(int) - 128).sum(-1) < 12).mean()
    assert 0.5 < grey < 0.99  # the video frame, with the skeleton drawn on it


def test_compare_app_opens_a_video(video, tmp_path):
    predictors = {"flat": FlatLifter(), "bias": PerturbedGroundTruth("bias", bias_mm=40)}
    progress = []
    reader = fake_reader(tmp_path / "cache")

    def watching(path, *, max_frames=None, progress=None):
        return reader(path, max_frames=max_frames, progress=lambda f: (seen(f), progress(f)))

    def seen(f):
        progress.append(f)

    app = CompareApp(predictors, source=None, video_reader=watching)
    assert is_video(video) and not is_video(tmp_path / "walk.npz")
    assert app.open_source(video), app.message
    assert progress and progress[-1] == 1.0
    assert app.sequence == "walk" and app.camera == "video"
    assert app.analysis.num_frames == T and not app.analysis.has_ground_truth
    assert app.active_models == ["file: mediapipe_world"]  # the detector's own 3D at once
    assert app.grid.view_names == ["file: mediapipe_world"]
    assert "bias" not in app.param.model_to_add.objects  # stand-ins need ground truth
    assert not app.add_model("bias") and "needs 3D ground truth" in app.message
    assert app.add_model("flat") and app.grid.view_names == ["file: mediapipe_world", "flat"]
    assert app.grid.color_mode == "confidence"
    assert app.timelines.note is not None and app.image_panel.source == "video"
    # the tracked 2D: the fake detector's walker, right wrist occluded in the second half
    px, _ = walk_2d()
    kp = app.analysis.keypoints_2d
    direct = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16]  # the rest are derived
    np.testing.assert_allclose(kp[:, direct], px[:, direct], atol=1e-6)
    np.testing.assert_allclose(kp[:, 0], (px[:, 1] + px[:, 4]) / 2, atol=1e-6)  # mid-hip
    assert app.analysis.occluded[T // 2 :, 16].all() and not app.analysis.occluded[: T // 2].any()
    app.frame = 12
    assert app.grid.frame == app.timelines.frame == app.image_panel.frame == 12
    assert list(app.metrics.tables()["sequence"].index) == ["file: mediapipe_world", "flat"]
    assert "LSE (mm)" in app.export_csv().getvalue()
    assert not app.compute_dataset() and "ground truth" in app.message
    # a dataset next: the video's model is set aside (said why), the truth is back
    data = tmp_path / "walk.npz"
    write_keypoints(data, synthetic_motion(50, z_up=True), "h36m17", fps=25)
    assert app.open_source(data) and app.add_model("bias")
    assert app.grid.view_names == ["ground truth", "flat", "bias"]
    assert "file: mediapipe_world" in app.skipped_models
    assert "not shown" in app._models_markdown() and app.grid.color_mode == "error"
    # and a frame limit for long videos
    app.video_max_frames = 15
    assert app.open_source(video) and app.analysis.num_frames == 15


def test_video_errors_leave_the_session_usable(video, tmp_path):
    cache = tmp_path / "cache"
    app = CompareApp({"flat": FlatLifter()}, source=None, video_reader=fake_reader(cache))
    assert app.open_source(video) and app.add_model("flat")
    before = (app.sequence, app.camera, list(app.active_models), app.analysis)
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    assert not app.open_source(bad)
    assert "broken.mp4" in app.message and "not a readable video" in app.message
    assert not app.open_source(tmp_path / "missing.mp4") and "no such video" in app.message
    nobody = CompareApp(
        {"flat": FlatLifter()}, source=None, video_reader=fake_reader(cache, person=False)
    )
    assert not nobody.open_source(write_video(tmp_path / "empty.mp4", 10, value=30))
    assert "no person detected" in nobody.message and nobody.analysis is None
    assert not CompareApp(source=None).open_source(video)  # no reader: said so
    assert (app.sequence, app.camera, list(app.active_models), app.analysis) == before
    assert not app.progress.visible
    # still usable: frames move, and an uploaded video opens under its own name
    app.frame = 9
    assert app.image_panel.frame == 9
    assert app.open_upload("my run.mp4", video.read_bytes())
    assert app.sequence == "my_run" and app.grid.view_names[-1] == "flat"
    assert not app.open_upload("broken.mp4", bad.read_bytes())
    assert "could not read upload 'broken.mp4'" in app.message


def test_served_opening_detects_and_lifts_in_a_worker_thread(video, tmp_path):
    lifter, calls = FlatLifter("flat-thread"), []
    app = CompareApp(
        {"flat-thread": lifter},
        source=None,
        models=["flat-thread"],
        video_reader=fake_reader(tmp_path / "cache", calls=calls),
    )
    assert asyncio.run(app.open_source_async(video)), app.message
    main = threading.get_ident()
    assert calls and calls[0] != main  # detection off the page's thread
    assert lifter.threads == [calls[0]]  # lifted there too, and the page reused it (cached)
    assert app.grid.view_names == ["flat-thread", "file: mediapipe_world"]
    assert not asyncio.run(app.open_source_async(tmp_path / "missing.mp4"))
    assert "no such video" in app.message and app.grid.view_names[0] == "flat-thread"
