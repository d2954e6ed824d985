"""Attention panel (synthetic attention arrays), metric tables, exports."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pandas as pd
import pytest

from poseviz.structures import Prediction
from poseviz.viz.analysis import analyse
from poseviz.viz.attention import INPUT_SIZE, AttentionPanel, kept_token_mask, to_crop
from poseviz.viz.exports import render_view, save_image, save_video
from poseviz.viz.grid import SkeletonGrid
from poseviz.viz.metrics_table import MetricsTable, dataset_tables, sequence_table, tables_to_csv
from poseviz.viz.predictors import PerturbedGroundTruth
from poseviz.viz.skeleton_view import BACKGROUND
from tests.viz.conftest import make_sequence


def _loop_ratio(att, kp, input_size=INPUT_SIZE, radius=30.0):
    """The seed's background attention written out token by token, token centres at
    ``(c + 0.5) * width / w - 0.5`` crop pixels (pixel centres at integers)."""
    J, h, w = att.shape
    H, W = input_size
    out = []
    for j in range(J):
        total = bg = 0.0
        for r in range(h):
            for c in range(w):
                x, y = (c + 0.5) * W / w - 0.5, (r + 0.5) * H / h - 0.5
                near = any((x - px) ** 2 + (y - py) ** 2 <= radius**2 for px, py in kp)
                total += att[j, r, c]
                bg += 0.0 if near else att[j, r, c]
        out.append(bg / total)
    return np.array(out)


def test_kept_tokens_from_mask_or_indices():
    m = kept_token_mask(np.array([0, 5, 11]), (3, 4))
    assert m.sum() == 3 and m[0, 0] and m[1, 1] and m[2, 3]
    np.testing.assert_array_equal(kept_token_mask(m.ravel(), (3, 4)), m)
    with pytest.raises(ValueError, match="expected 12 flags"):
        kept_token_mask(np.ones(5, bool), (3, 4))
    with pytest.raises(ValueError, match="outside"):
        kept_token_mask(np.array([12]), (3, 4))


def test_crop_pixels_follow_the_synthetic_crops():
    box = np.array([100.0, 50.0, 196.0, 178.0])  # 96 x 128 px -> 192 x 256 crop: 2x
    np.testing.assert_allclose(to_crop([100.0, 50.0], box, (256, 192)), [-0.5, -0.5])
    np.testing.assert_allclose(to_crop([148.0, 114.0], box, (256, 192)), [95.5, 127.5])


def _attention_analysis():
    seq = make_sequence(30)
    base = PerturbedGroundTruth("lbi", bias_mm=20)(seq, "cam0")
    T, h, w = 30, 16, 12
    rng = np.random.default_rng(1)
    att = rng.random((T, 17, h, w))
    att /= att.sum((2, 3), keepdims=True)
    kept = rng.random((T, h, w)) > 0.7
    pred = Prediction(
        "lbi", seq.name, "cam0", base.joints_3d, aux={"attention": att, "kept_tokens": kept}
    )
    plain = PerturbedGroundTruth("plain")(seq, "cam0")
    return analyse(seq, "cam0", [plain, pred]), att, kept


def test_attention_panel_reads_the_prediction_aux():
    a, att, kept = _attention_analysis()
    panel = AttentionPanel(a, keypoint="l_wrist")
    assert panel.models_with_attention == ["lbi"] and panel.model == "lbi"
    panel.frame = 7
    st = panel.frame_state()
    np.testing.assert_array_equal(st["attention"], att[7, 13])
    np.testing.assert_array_equal(st["kept"], kept[7])
    kp_crop = st["keypoints_crop"]
    assert ((kp_crop >= 0) & (kp_crop <= INPUT_SIZE[::-1])).all()  # the crop holds the person
    np.testing.assert_allclose(st["ratio"], _loop_ratio(att[7], kp_crop))
    img = panel.image()
    assert img.shape == (INPUT_SIZE[0] * panel.scale, INPUT_SIZE[1] * panel.scale, 3)
    assert f"{100 * st['ratio'][13]:.0f}%" in panel._text.object
    panel.keypoint = "head"
    np.testing.assert_array_equal(panel.frame_state()["attention"], att[7, 10])


def test_attention_panel_without_attention_or_with_bad_arrays(analysis):
    panel = AttentionPanel(analysis)
    assert panel.model is None and panel.frame_state() is None
    assert "No model here returns attention" in panel._text.object
    seq = make_sequence(10)
    base = PerturbedGroundTruth("x")(seq, "cam0")
    bad = Prediction(
        "x", seq.name, "cam0", base.joints_3d, aux={"attention": np.ones((10, 5, 4, 4))}
    )
    panel = AttentionPanel(analyse(seq, "cam0", [bad]))
    assert "attention unavailable" in panel._text.object and "(T, 17, h, w)" in panel._text.object


def test_sequence_table_holds_each_models_numbers(analysis):
    t = sequence_table(analysis)
    assert list(t.index) == ["bias", "jitter"]
    res = analysis.models["jitter"]
    assert np.isclose(t.loc["jitter", "MPJPE (mm)"], res.mpjpe_mm.mean())
    assert np.isclose(t.loc["jitter", "PSIM+"], res.psim.score)
    assert np.isclose(t.loc["jitter", "MPJVE (mm/frame)"], np.nanmean(res.velocity_error_mm))


def test_dataset_tables_pool_frames_per_action_and_severity():
    seqs = [make_sequence(40), make_sequence(20)]
    seqs[1].name, seqs[1].action = "synthetic/run", "run"
    analyses = [
        analyse(s, "cam0", [PerturbedGroundTruth("m", jitter_mm=20, seed=i)(s, "cam0")])
        for i, s in enumerate(seqs)
    ]
    tables = dataset_tables(analyses)
    overall = tables["overall"]
    all_mpjpe = np.concatenate([a.models["m"].mpjpe_mm for a in analyses])
    assert overall.loc["m", "frames"] == 60
    assert np.isclose(overall.loc["m", "MPJPE (mm)"], all_mpjpe.mean())  # frame-weighted
    assert np.isclose(
        overall.loc["m", "PSIM+"], np.mean([a.models["m"].psim.score for a in analyses])
    )
    per_action = tables["per action"]
    assert np.isclose(
        per_action.loc[("m", "run"), "MPJPE (mm)"], analyses[1].models["m"].mpjpe_mm.mean()
    )
    # per severity: frames grouped by the severity of their occlusion labels; here the
    # labels are set so that frames are "none" (nothing hidden) or "joint" (one wrist)
    for a in analyses:
        a.occluded = np.zeros_like(a.occluded)
        a.occluded[::3, 16] = True
    tables = dataset_tables(analyses)
    sev = tables["per severity"]
    occluded_frames = np.concatenate([a.occluded.any(1) for a in analyses])
    assert sev.loc[("m", "joint"), "frames"] == occluded_frames.sum()
    assert np.isclose(sev.loc[("m", "none"), "MPJPE (mm)"], all_mpjpe[~occluded_frames].mean())
    assert list(sev.index.get_level_values("severity")) == ["none", "joint"]
    # CSV round trip keeps every table
    back = pd.read_csv(io.StringIO(tables_to_csv(tables)))
    assert set(back["table"]) == {"overall", "per action", "per severity"}
    assert np.isclose(
        back[back["table"] == "overall"]["MPJPE (mm)"].iloc[0], all_mpjpe.mean(), rtol=1e-4
    )


def test_metrics_table_component(analysis):
    table = MetricsTable(analysis)
    assert list(table.tables()) == ["sequence"]
    table.dataset = [analysis]
    assert {"sequence", "overall", "per action"} <= set(table.tables())
    assert "bias" in table.csv() and "MPJPE (mm)" in table.csv()


def test_png_export_draws_the_skeleton(analysis):
    grid = SkeletonGrid(analysis)
    grid.frame = 20
    img = render_view(grid.views[1], size=(320, 240))
    assert img.shape == (240, 320, 3)
    drawn = np.abs(img.astype(int) - BACKGROUND).sum(-1) > 60
    assert drawn.mean() > 0.01  # skeleton, ghost, grid and title
    other = render_view(grid.views[1], frame=55, size=(320, 240))
    assert not np.array_equal(img, other)  # another frame, another picture
    png = save_image(img)
    back = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
    np.testing.assert_array_equal(back, img)


def test_video_export_mp4_and_gif(analysis, tmp_path):
    grid = SkeletonGrid(analysis)
    mp4 = save_video(grid.views[:2], tmp_path / "v.mp4", 5, 17, size=(160, 120))
    cap = cv2.VideoCapture(str(mp4))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320  # two views side by side
    cap.release()
    from PIL import Image

    gif = save_video(grid.views[:1], tmp_path / "v.gif", 0, 10, step=2, size=(96, 72))
    assert Image.open(gif).n_frames == 5
    with pytest.raises(ValueError, match=".mp4 or .gif"):
        save_video(grid.views, tmp_path / "v.avi")
    with pytest.raises(ValueError, match="start < stop"):
        save_video(grid.views, tmp_path / "v.mp4", 50, 10)


def test_attention_over_a_smaller_model_crop():
    a, att, kept = _attention_analysis()
    res = a.models["lbi"]
    res.aux["crop_size"] = np.tile([96, 64], (a.num_frames, 1))  # as a 96 x 64 model records it
    asked = []
    panel = AttentionPanel(
        a,
        keypoint="head",
        crop_fn=lambda f, size: asked.append(size) or np.zeros((*size, 3), np.uint8),
    )
    st = panel.frame_state()
    assert st["size"] == (96, 64) and np.isclose(st["radius"], 30 * 96 / 256)
    np.testing.assert_allclose(
        st["ratio"], _loop_ratio(att[0], st["keypoints_crop"], (96, 64), st["radius"])
    )
    img = panel.image()
    assert asked[-1] == (96, 64) and img.shape[0] / img.shape[1] == 96 / 64
