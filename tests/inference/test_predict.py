"""Sliding-window prediction over whole sequences, against plain per-frame loops."""

import numpy as np
import pytest
import torch

from poseviz.geometry import normalize_screen_coordinates
from poseviz.inference import lift, model_inputs, predict_sequence, window_indices
from poseviz.models import create_model
from poseviz.structures import Camera, PoseSequence
from tests.training import tiny  # noqa: F401  (registers the probes)


def _kp(T, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(T, 17, 2))).float()


def test_centre_windows_match_a_loop_with_edge_padding():
    model = create_model("window_probe", frames=5, centre=True)
    kp = _kp(7)
    pose, aux = lift(model, {"keypoints_2d": kp}, batch_size=3)
    for t in range(7):
        idx = [min(max(t + o, 0), 6) for o in range(-2, 3)]  # replicate the edge frames
        window = kp[idx]
        want = torch.cat([window.mean(0), window[:1, :, :1].squeeze(0)], -1)
        torch.testing.assert_close(pose[t], want, rtol=0, atol=1e-6)
    assert aux["occlusion_logits"].shape == (7, 17) and aux["attention"].shape == (7, 17, 4, 4)
    torch.testing.assert_close(aux["occlusion_prob"], torch.sigmoid(aux["occlusion_logits"]))
    index, out, keep = window_indices(7, model)
    assert index[0].tolist() == [0, 0, 0, 1, 2] and index[6].tolist() == [4, 5, 6, 6, 6]


@pytest.mark.parametrize(
    ("T", "expected_positions"), [(10, [0, 1, 2, 3, 0, 1, 2, 3, 2, 3]), (3, [0, 1, 2])]
)
def test_sequence_windows_cover_every_frame_once(T, expected_positions):
    model = create_model("window_probe", frames=4, centre=False)
    kp = _kp(T, 1)
    pose, aux = lift(model, {"keypoints_2d": kp}, batch_size=2)
    torch.testing.assert_close(pose[..., :2], kp)  # every frame from a window holding it
    assert pose[:, 0, 2].tolist() == expected_positions  # the first window that covers it
    assert aux["position"][:, 0].tolist() == expected_positions


def _sequence(T=9):
    rng = np.random.default_rng(3)
    cam = Camera(id="c0", width=1000, height=800, fx=1000, fy=1000, cx=500, cy=400, t=[0, 0, 5])
    X = rng.normal(scale=0.3, size=(T, 17, 3))
    uv = rng.uniform(100, 700, size=(T, 17, 2))
    return PoseSequence(
        name="s", subject="S1", action="walk", fps=50, skeleton="h36m17",
        joints_3d=X, cameras={"c0": cam}, joints_2d={"c0": uv},
    )  # fmt: skip


def test_predict_sequence_normalises_pixels_and_flip_tta():
    seq = _sequence()
    model = create_model("window_probe", frames=1, centre=True)
    inputs = model_inputs(model, seq, "c0")
    want = normalize_screen_coordinates(seq.joints_2d["c0"], 1000, 800)
    np.testing.assert_allclose(inputs["keypoints_2d"].numpy(), want, rtol=1e-6)
    pred = predict_sequence(model, seq, "c0", model_id="probe")
    assert (
        pred.model_id == "probe" and pred.sequence_id == "s" and pred.joints_3d.shape == (9, 17, 3)
    )
    np.testing.assert_allclose(pred.joints_3d[..., :2], want, rtol=1e-5)
    assert pred.aux["occlusion_prob"].shape == (9, 17)
    # flip TTA: the probe's x and y are flip-equivariant and survive; its z (the raw input
    # x) is not: the mirrored input gives z = -x after un-mirroring, so the average is 0
    tta = predict_sequence(model, seq, "c0", flip_tta=True)
    np.testing.assert_allclose(tta.joints_3d[..., :2], pred.joints_3d[..., :2], atol=1e-5)
    np.testing.assert_allclose(tta.joints_3d[..., 2], 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="no camera 'c9'"):
        predict_sequence(model, seq, "c9")


def test_nan_keypoints_fail_clearly():
    seq = _sequence()
    seq.joints_2d["c0"][4, 3] = np.nan
    with pytest.raises(ValueError, match="2D keypoints have NaN in 1 frames \\(first 4\\)"):
        model_inputs(create_model("window_probe"), seq, "c0")
