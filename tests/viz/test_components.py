"""The Panel components, driven through their parameters (no browser)."""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.events import Tap

from poseviz.viz.colors import joint_colors
from poseviz.viz.grid import SkeletonGrid
from poseviz.viz.image_panel import ImagePanel, draw_keypoints
from poseviz.viz.playback import PlaybackControls
from poseviz.viz.skeleton_view import SkeletonView, ViewCamera
from poseviz.viz.timeline import Timelines


def test_skeleton_view_sends_the_whole_sequence_once(analysis):
    res = analysis.models["bias"]
    view = SkeletonView(joints=res.display, reference=analysis.gt_display, error_mm=res.error_mm)
    c = view.canvas
    T = analysis.num_frames
    assert c.positions_shape == [2, T, 17]  # skeleton + ghost
    assert c.positions.dtype == np.float32 and c.positions.shape == (2 * T * 17 * 3,)
    assert c.colors.dtype == np.uint8 and c.colors.shape == c.positions.shape
    np.testing.assert_allclose(c.positions.reshape(2, T, 17, 3)[0], res.display, atol=1e-6)
    assert len(c.edges) == 2 * 16  # 16 bones
    assert len(c.scene_points) > 0  # ground grid
    sent = c.positions
    view.frame = 17
    assert c.frame == 17
    assert c.positions is sent  # a frame change sends no data


def test_colour_mode_changes_what_the_browser_draws(analysis):
    res = analysis.models["jitter"]
    view = SkeletonView(
        joints=res.display,
        error_mm=res.error_mm,
        sensitive=res.psim.sensitive_mask,
        occluded=analysis.occluded,
    )
    T = analysis.num_frames
    view.frame = 30
    side = view.shown_colors.copy()
    view.color_mode = "error"
    np.testing.assert_array_equal(
        view.shown_colors, joint_colors("error", T, error_mm=res.error_mm)[30]
    )
    assert not np.array_equal(view.shown_colors, side)
    np.testing.assert_array_equal(
        view.canvas.colors.reshape(1, T, 17, 3)[0], joint_colors("error", T, error_mm=res.error_mm)
    )
    view.color_mode = "sensitive"
    mask = res.psim.sensitive_mask[30]
    assert (view.shown_colors[mask][:, 0] > 200).all()
    # a mode without its data falls back to left/right and says so
    view.color_mode = "confidence"
    assert view.effective_mode == "side" and "confidence" in view.unavailable_modes
    np.testing.assert_array_equal(view.shown_colors, side)


def test_skeleton_view_refuses_wrong_shapes():
    with pytest.raises(ValueError, match=r"expected \(T, 17, 3\)"):
        SkeletonView(joints=np.zeros((5, 16, 3)))
    with pytest.raises(ValueError, match="joints .* are required"):
        SkeletonView()


def test_shared_camera_links_views():
    j = np.zeros((3, 17, 3))
    j[:, :, 1] = np.linspace(0, 1.7, 17)
    a = SkeletonView(joints=j)
    b = SkeletonView(joints=j)
    b.view_camera = a.view_camera
    assert b.canvas.link == a.canvas.link
    # the browser reports a's camera after an interaction: b follows, through Python too
    moved = {"position": [1.0, 2.0, 3.0], "focal_point": [0.0, 1.0, 0.0], "view_up": [0, 1, 0]}
    a.canvas.camera = {**moved, "view_angle": 30.0}
    assert a.view_camera.position == [1.0, 2.0, 3.0]
    assert b.canvas.camera["position"] == [1.0, 2.0, 3.0]
    # unlinked: a new camera of its own
    b.view_camera = ViewCamera(position=[9.0, 9.0, 9.0])
    a.canvas.camera = {**moved, "position": [4.0, 4.0, 4.0]}
    assert b.canvas.camera["position"] == [9.0, 9.0, 9.0]


def test_grid_keeps_every_view_on_one_frame(analysis):
    grid = SkeletonGrid(analysis)
    assert grid.view_names == ["ground truth", "bias", "jitter"]
    assert {v.group for v in grid.views} == {grid.group} == {grid.controls.group}
    grid.frame = 25
    assert [v.frame for v in grid.views] == [25, 25, 25]
    assert grid.controls.frame == 25
    # the browser's controls report a frame (playback, keys, slider): everything follows
    grid.controls.frame = 40
    assert grid.frame == 40 and [v.frame for v in grid.views] == [40, 40, 40]
    grid.controls.step(100)
    assert grid.frame == analysis.num_frames - 1
    grid.controls.step(-5)
    assert grid.frame == analysis.num_frames - 6
    assert grid.controls.num_frames == analysis.num_frames
    assert grid.controls.fps == analysis.fps


def test_grid_colour_mode_and_camera_links(analysis):
    grid = SkeletonGrid(analysis, color_mode="side")
    grid.color_mode = "error"
    assert all(v.color_mode == "error" for v in grid.views)
    assert grid.view("ground truth").effective_mode == "side"  # no error for the truth
    assert grid.view("bias").effective_mode == "error"
    grid.color_mode = "occlusion"
    assert all(v.effective_mode == "occlusion" for v in grid.views)
    assert len({id(v.view_camera) for v in grid.views}) == 1
    grid.link_cameras = False
    assert len({id(v.view_camera) for v in grid.views}) == 3
    grid.link_cameras = True
    assert len({id(v.view_camera) for v in grid.views}) == 1
    grid.show_frustum = True
    frustum_points = len(grid.views[0].scene.points)
    grid.show_frustum = False
    assert len(grid.views[0].scene.points) == frustum_points - 5


def test_grid_follows_a_new_analysis(analysis, sequence):
    from poseviz.viz.analysis import analyse
    from poseviz.viz.predictors import PerturbedGroundTruth

    grid = SkeletonGrid(analysis, frame=50)
    short = sequence.slice(0, 30)
    preds = [PerturbedGroundTruth(n)(short, "cam0") for n in ("a", "b", "c")]
    grid.analysis = analyse(short, "cam0", preds)
    assert grid.view_names == ["ground truth", "a", "b", "c"]
    assert grid.frame == 29 and grid.controls.num_frames == 30


def test_playback_controls_clamp():
    c = PlaybackControls(num_frames=10)
    c.frame = 9
    c.num_frames = 5
    assert c.frame == 4
    with pytest.raises(ValueError):
        c.frame = 7


def test_timeline_cursor_and_click_to_seek(analysis):
    tl = Timelines(analysis)
    tl.frame = 12
    assert tl.cursor_positions == [12] * len(tl.figures)
    # a click on any plot seeks there (Bokeh's Tap event, as the browser sends it)
    tl.figures[1]._trigger_event(Tap(tl.figures[1], x=33.4, y=10.0))
    assert tl.frame == 33 and tl.cursor_positions == [33] * len(tl.figures)
    tl.figures[3]._trigger_event(Tap(tl.figures[3], x=1e6, y=1.0))
    assert tl.frame == analysis.num_frames - 1  # clamped


def test_timeline_components_and_heat_map(analysis):
    tl = Timelines(analysis, psim_components=["score"])
    assert tl.visible_psim_components() == ["score"]
    tl.psim_components = ["positional", "structural", "sensitivity", "temporal_weight"]
    assert tl.visible_psim_components() == [
        "positional",
        "structural",
        "sensitivity",
        "temporal_weight",
    ]
    np.testing.assert_array_equal(tl.heatmap_image, analysis.models["bias"].error_mm.T)
    tl.heatmap_model = "jitter"
    np.testing.assert_array_equal(tl.heatmap_image, analysis.models["jitter"].error_mm.T)
    # the PSIM+ curves are the metric's per-frame values
    score_line = tl._psim_renderers["score"][0].data_source.data["y"]
    np.testing.assert_allclose(score_line, analysis.models["bias"].psim.frame_score)


def test_grid_and_timeline_seek_through_the_app_wiring(analysis):
    grid, tl = SkeletonGrid(analysis), Timelines(analysis)
    tl.param.watch(lambda e: setattr(grid, "frame", e.new), "frame")
    tl.figures[0]._trigger_event(Tap(tl.figures[0], x=21.0, y=0.5))
    assert [v.frame for v in grid.views] == [21, 21, 21] and grid.controls.frame == 21


def test_draw_keypoints_marks_occluded_joints():
    img = np.zeros((200, 200, 3), np.uint8)
    kp = np.full((17, 2), np.nan)
    kp[0] = (50, 50)
    kp[1] = (150, 150)
    kp[16] = (100, 40)
    occ = np.zeros(17, bool)
    occ[16] = True
    out = draw_keypoints(img, kp, occluded=occ, thickness=2)
    assert out[50, 50].sum() > 0 and out[150, 150].sum() > 0  # joints drawn
    assert out[100, 100].sum() > 0  # the pelvis -> r_hip bone
    ring = out[40 - 9 : 40 + 10, 100 - 9 : 100 + 10].reshape(-1, 3)
    assert ((ring[:, 0] > 150) & (ring[:, 2] < 100)).any()  # a red ring round the joint
    assert out[40, 100, 0] > 150 and out[40, 100, 2] < 100  # with a red cross at its centre
    assert not (out[45:60, 45:60, 0] > 150).all()  # visible joints get no ring
    with pytest.raises(ValueError, match=r"\(17, 2\)"):
        draw_keypoints(img, np.zeros((5, 2)))


def test_image_panel_shows_each_frame(analysis):
    panel = ImagePanel(analysis, zoom=False)
    assert panel.source == "blank"
    a = panel.image()
    panel.frame = 45
    b = panel.image()
    assert a.shape == (analysis.camera.height, analysis.camera.width, 3)
    assert not np.array_equal(a, b)
    panel.zoom = True  # the person's box: smaller than the frame, holding every keypoint
    z = panel.image()
    assert z.shape[0] < a.shape[0] and z.shape[0] == z.shape[1]
    assert panel._pane.object[:2] == b"\xff\xd8"  # a JPEG on the page
    seen = []
    panel.zoom = False
    panel.image_fn = lambda f: seen.append(f) or np.full((100, 120, 3), 200, np.uint8)
    assert panel.source == "image" and seen[-1] == analysis.frames[45]
    panel.image_fn = lambda f: 1 / 0  # a broken source leaves a message, not an exception
    assert "image unavailable" in panel._note.object


def test_long_series_are_drawn_as_envelopes():
    from poseviz.viz.timeline import column_max, envelope

    x = np.arange(10000)
    y = np.sin(x / 50.0)
    y[5003] = 9.0  # a one-frame spike survives decimation
    y[7000:7100] = np.nan
    xs, ys = envelope(x, y, 1500)
    assert len(xs) <= 1500 and np.nanmax(ys) == 9.0 and np.nanmin(ys) == y[~np.isnan(y)].min()
    assert (np.diff(xs) >= 0).all()  # still in frame order
    k = -(-10000 // 750)
    for b in range(0, 10000 // k, 97):  # each bin keeps its own min and max (plain loop)
        chunk = y[b * k : (b + 1) * k]
        if np.isfinite(chunk).any():
            assert np.nanmin(chunk) in ys and np.nanmax(chunk) in ys
    short = np.arange(100.0)
    np.testing.assert_array_equal(envelope(short, short, 1500)[1], short)
    err = np.random.default_rng(0).random((10000, 17))
    m = column_max(err, 1500)
    assert m.shape == (-(-10000 // k), 17) and len(m) <= 750
    np.testing.assert_allclose(m[3], err[3 * k : 4 * k].max(0))


def test_rater_pair_plays_two_linked_views():
    from poseviz.viz.rater import SyncedPair

    a = np.zeros((30, 17, 3))
    a[:, :, 1] = np.linspace(0, 1.7, 17)
    pair = SyncedPair(a, a + 0.02, fps=25)
    assert pair.left.view_camera is pair.right.view_camera
    assert pair.left.canvas.link == pair.right.canvas.link
    pair.player.value = 29
    assert pair.left.frame == pair.right.frame == 29 and pair.played_through
    assert pair.left.canvas.frame == 29  # ungrouped views take their frame from Python
