"""Attention panel (synthetic attention arrays), metric tables, exports."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pandas as pd
import pytest

from poseviz.structures import Prediction
from poseviz.viz import metrics_table
from poseviz.viz.analysis import analyse
from poseviz.viz.attention import (
    INPUT_SIZE,
    AttentionPanel,
    background_attention_ratio,
    background_mask,
    kept_token_mask,
    person_crop_box,
)
from poseviz.viz.exports import render_view, save_image, save_video
from poseviz.viz.grid import SkeletonGrid
from poseviz.viz.metrics_table import MetricsTable, dataset_tables, sequence_table, tables_to_csv
from poseviz.viz.predictors import PerturbedGroundTruth
from poseviz.viz.skeleton_view import BACKGROUND
from tests.viz.conftest import make_sequence


def _loop_ratio(att, kp, input_size=INPUT_SIZE, radius=30.0):
    """The seed's background attention, written out token by token."""
    J, h, w = att.shape
    W, H = input_size
    out = []
    for j in range(J):
        total = bg = 0.0
        for r in range(h):
            for c in range(w):
                x, y = (c + 0.5) * W / w, (r + 0.5) * H / h
                near = any((x - px) ** 2 + (y - py) ** 2 <= radius**2 for px, py in kp)
                total += att[j, r, c]
                bg += 0.0 if near else att[j, r, c]
        out.append(bg / total)
    return np.array(out)


def test_background_ratio_matches_a_token_loop():
    rng = np.random.default_rng(0)
    att = rng.random((17, 16, 12))
    att /= att.sum((1, 2), keepdims=True)
    kp = rng.uniform([0, 0], INPUT_SIZE, (17, 2))
    np.testing.assert_allclose(background_attention_ratio(att, kp), _loop_ratio(att, kp))


def test_background_ratio_extremes():
    kp = np.array([[96.0, 128.0]] * 17)
    att = np.zeros((17, 16, 12))
    # all attention on the token under the keypoint: no background
    r, c = int(128 / 256 * 16), int(96 / 192 * 12)
    att[:, r, c] = 1.0
    np.testing.assert_allclose(background_attention_ratio(att, kp), 0.0)
    # all attention in a far corner: all background
    att[:] = 0
    att[:, 0, 0] = 1.0
    np.testing.assert_allclose(background_attention_ratio(att, kp), 1.0)
    mask = background_mask(kp, (16, 12))
    assert mask.sum() == 16 * 12 - (~mask).sum() and (~mask).sum() > 0


def test_kept_tokens_from_mask_or_indices():
    m = kept_token_mask(np.array([0, 5, 11]), (3, 4))
    assert m.sum() == 3 and m[0, 0] and m[1, 1] and m[2, 3]
    np.testing.assert_array_equal(kept_token_mask(m.ravel(), (3, 4)), m)
    with pytest.raises(ValueError, match="expected 12 flags"):
        kept_token_mask(np.ones(5, bool), (3, 4))
    with pytest.raises(ValueError, match="outside"):
        kept_token_mask(np.array([12]), (3, 4))


def test_person_crop_box_has_the_model_aspect_and_holds_the_keypoints():
    kp = np.array([[100.0, 50.0], [140.0, 250.0]])
    x0, y0, x1, y1 = person_crop_box(kp)
    assert np.isclose((x1 - x0) / (y1 - y0), INPUT_SIZE[0] / INPUT_SIZE[1])
    assert x0 < 100 and x1 > 140 and y0 < 50 and y1 > 250


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
    assert ((kp_crop >= 0) & (kp_crop <= INPUT_SIZE)).all()  # the crop holds the person
    np.testing.assert_allclose(st["ratio"], _loop_ratio(att[7], kp_crop))
    img = panel.image()
    assert img.shape == (INPUT_SIZE[1] * panel.scale, INPUT_SIZE[0] * panel.scale, 3)
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


def test_dataset_tables_pool_frames_per_action_and_severity(monkeypatch):
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
    # per severity: frames grouped by the occlusion module's severity of their labels
    monkeypatch.setattr(
        metrics_table,
        "severity_of_frames",
        lambda occ: None if occ is None else np.where(occ.any(1), "joint", "none").astype(object),
    )
    tables = dataset_tables(analyses)
    sev = tables["per severity"]
    occluded_frames = np.concatenate([a.occluded.any(1) for a in analyses])
    assert sev.loc[("m", "joint"), "frames"] == occluded_frames.sum()
    assert np.isclose(sev.loc[("m", "none"), "MPJPE (mm)"], all_mpjpe[~occluded_frames].mean())
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
