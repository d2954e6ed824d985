"""The numbers behind the compare views, against plain loops and known perturbations."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.geometry import project
from poseviz.structures import Prediction
from poseviz.viz.analysis import analyse, display_rotation, up_axis, with_virtual_cameras
from poseviz.viz.predictors import PerturbedGroundTruth, Predictor, perturbed_predictors
from tests.viz.conftest import make_sequence, synthetic_motion


def test_up_axis_and_display_rotation_put_the_head_up():
    for z_up, expected in ((False, [0, 1, 0]), (True, [0, 0, 1])):
        joints = synthetic_motion(20, z_up=z_up)
        up = up_axis(joints)
        np.testing.assert_array_equal(up, expected)
        R = display_rotation(up)
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(R), 1.0)
        shown = joints @ R.T
        assert (shown[:, 10, 1] > shown[:, 3, 1] + 1.0).all()  # head above ankle in +y
    np.testing.assert_allclose(display_rotation([0, 1, 0]), np.eye(3))


def test_virtual_rig_sees_the_whole_motion_and_labels_occlusion():
    seq = make_sequence(40, z_up=True, occluded=False)
    assert sorted(seq.cameras) == ["cam0", "cam1", "cam2", "cam3"]
    joints = seq.joints_3d
    for cam_id, cam in seq.cameras.items():
        px = project(joints, cam)
        assert (px > 0).all() and (px[..., 0] < cam.width).all() and (px[..., 1] < cam.height).all()
        np.testing.assert_allclose(seq.joints_2d[cam_id], px)
        assert seq.occluded[cam_id].shape == (40, 17)
    # the same motion gets the same cameras (predictions and analysis agree on them)
    again = make_sequence(40, z_up=True, occluded=False)
    assert all(seq.cameras[k] == again.cameras[k] for k in seq.cameras)
    assert with_virtual_cameras(seq) is seq  # nothing left to add


def test_errors_match_a_plain_loop(sequence):
    pred = PerturbedGroundTruth("p", bias_mm=30, jitter_mm=10, seed=4)(sequence, "cam0")
    a = analyse(sequence, "cam0", [pred])
    res = a.models["p"]
    cam = sequence.cameras["cam0"]
    T = sequence.num_frames
    for t in range(0, T, 7):
        gt = np.array([cam.R @ x + cam.t for x in sequence.joints_3d[t]])
        gt = gt - gt[0]
        p = pred.joints_3d[t] - pred.joints_3d[t][0]
        errs = [np.sqrt(sum((p[j][c] - gt[j][c]) ** 2 for c in range(3))) * 1000 for j in range(17)]
        np.testing.assert_allclose(res.error_mm[t], errs, rtol=1e-9)
        assert np.isclose(res.mpjpe_mm[t], sum(errs) / 17)
    # velocity error at t: mean_j |(p_t - p_{t-1}) - (g_t - g_{t-1})|
    t = 11
    gt_c = a.gt_camera
    p_c = res.camera_frame
    v = np.mean(
        [
            np.linalg.norm((p_c[t, j] - p_c[t - 1, j]) - (gt_c[t, j] - gt_c[t - 1, j]))
            for j in range(17)
        ]
    )
    assert np.isclose(res.velocity_error_mm[t], v * 1000)
    assert np.isnan(res.velocity_error_mm[0])
    # P-MPJPE: VideoPose3D's p_mpjpe written out for one frame (SVD, reflection fixed)
    X, Y = gt_c[t], p_c[t]
    mx, my = X.mean(0), Y.mean(0)
    X0, Y0 = X - mx, Y - my
    nx, ny = np.linalg.norm(X0), np.linalg.norm(Y0)
    X0, Y0 = X0 / nx, Y0 / ny
    U, s, Vt = np.linalg.svd(X0.T @ Y0)
    V = Vt.T
    R = V @ U.T
    if np.linalg.det(R) < 0:
        V[:, -1] *= -1
        s[-1] *= -1
        R = V @ U.T
    aligned = (s.sum() * nx / ny) * (Y - my) @ R + mx
    pa = np.mean(np.linalg.norm(aligned - X, axis=-1)) * 1000
    assert np.isclose(res.pa_mpjpe_mm[t], pa, rtol=1e-6)


def test_perturbations_have_the_requested_size(sequence):
    seq = make_sequence(400)
    for kind in ("bias_mm", "jitter_mm", "noise_mm"):
        pred = PerturbedGroundTruth("p", **{kind: 50.0}, seed=7)(seq, "cam1")
        res = analyse(seq, "cam1", [pred]).models["p"]
        rms = np.sqrt(np.mean(res.error_mm[:, 1:] ** 2))  # non-root joints
        assert 30 < rms < 70, (kind, rms)
    jittery = analyse(seq, "cam1", [PerturbedGroundTruth("j", jitter_mm=50)(seq, "cam1")])
    biased = analyse(seq, "cam1", [PerturbedGroundTruth("b", bias_mm=50)(seq, "cam1")])
    # jitter moves every frame, bias does not: only jitter has a velocity error
    assert np.nanmean(jittery.models["j"].velocity_error_mm) > 20
    assert np.nanmean(biased.models["b"].velocity_error_mm) < 1


def test_a_perfect_prediction_scores_zero_error_and_psim_one(sequence):
    pred = PerturbedGroundTruth("exact")(sequence, "cam2")
    res = analyse(sequence, "cam2", [pred]).models["exact"]
    assert res.error_mm.max() < 1e-6
    np.testing.assert_allclose(res.psim.frame_score, 1.0, atol=1e-9)
    assert np.isclose(res.psim.score, 1.0)


def test_predictions_are_drawn_at_the_ground_truth_root(analysis):
    for res in analysis.models.values():
        np.testing.assert_allclose(res.display[:, 0], analysis.gt_display[:, 0], atol=1e-9)
        # same shape as the ground truth up to the error: the mean offset is the error size
        offset = np.linalg.norm(res.display - analysis.gt_display, axis=-1) * 1000
        np.testing.assert_allclose(offset, res.error_mm, atol=1e-6)


def test_sensitive_mask_is_error_at_least_the_frame_mean(analysis):
    res = analysis.models["jitter"]
    for t in range(analysis.num_frames):
        e = res.error_mm[t]
        expected = [e[j] >= sum(e) / len(e) - 1e-9 for j in range(len(e))]
        np.testing.assert_array_equal(res.psim.sensitive_mask[t], expected)


def test_frames_are_matched_through_frame_indices(sequence):
    full = PerturbedGroundTruth("a", bias_mm=10)(sequence, "cam0")
    part = Prediction(
        "b", sequence.name, "cam0", full.joints_3d[10:40], frame_indices=np.arange(10, 40)
    )
    a = analyse(sequence, "cam0", [full, part])
    np.testing.assert_array_equal(a.frames, np.arange(10, 40))
    np.testing.assert_allclose(a.models["a"].error_mm, a.models["b"].error_mm)


def test_bad_inputs_say_what_is_wrong(sequence):
    pred = PerturbedGroundTruth("a")(sequence, "cam0")
    with pytest.raises(ValueError, match="no camera 'nope'"):
        analyse(sequence, "nope", [pred])
    with pytest.raises(ValueError, match="lifts camera 'cam0', not 'cam1'"):
        analyse(sequence, "cam1", [pred])
    bad = Prediction("x", sequence.name, "cam0", np.zeros((60, 16, 3)))
    with pytest.raises(ValueError, match="16 joints, expected 17"):
        analyse(sequence, "cam0", [bad])
    outside = Prediction("y", sequence.name, "cam0", np.zeros((2, 17, 3)), frame_indices=[0, 999])
    with pytest.raises(ValueError, match="outside the sequence"):
        analyse(sequence, "cam0", [outside])


def test_with_virtual_cameras_keeps_existing_cameras_and_labels(sequence):
    assert with_virtual_cameras(sequence) is sequence
    assert sorted(sequence.cameras) == ["cam0", "cam1", "cam2", "cam3"]
    # the fixture's hand-made labels of cam0 are kept, the other views were labelled
    assert sequence.occluded["cam0"][-1, 16] and not sequence.occluded["cam0"][0].any()


def test_stand_ins_are_predictors_and_deterministic(sequence):
    for p in perturbed_predictors().values():
        assert isinstance(p, Predictor)
        assert "perturbed GT" in p.name  # never passed off as a model
        a, b = p(sequence, "cam0"), p(sequence, "cam0")
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
    with_labels = PerturbedGroundTruth("o", occlusion_noise=0.2)(sequence, "cam0")
    prob = with_labels.aux["occlusion_prob"]
    occ = sequence.occluded["cam0"]
    assert prob[occ].min() >= 0.8 - 1e-9 and prob[~occ].max() <= 0.2 + 1e-9
