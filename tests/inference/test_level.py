"""Levelling a view before lifting, against cameras really turned about their optical axis."""

import dataclasses

import numpy as np
import pytest

from poseviz.data.cameras import orbit_camera
from poseviz.geometry import project, world_to_camera
from poseviz.inference import predict_sequence
from poseviz.inference.level import level_angle, turn_camera_frame, turn_view_2d
from poseviz.models import create_model
from poseviz.structures import PoseSequence
from tests.models.test_lifting_by_image import SMALL


def _standing(T=12, seed=0):
    """(T, 17, 3) Z-up world points around an upright trunk: pelvis at 1 m, thorax 0.5 m
    straight above it, the other joints scattered about them."""
    rng = np.random.default_rng(seed)
    X = np.array([0.0, 0.0, 1.2]) + rng.normal(scale=0.25, size=(T, 17, 3))
    X[:, 0] = [0.0, 0.0, 1.0]
    X[:, 8] = [0.0, 0.0, 1.5]
    return X


def _camera(roll, fx=1000.0, fy=1000.0):
    cam = orbit_camera(
        "c0", [0, 0, 1.2], azimuth=30, elevation=15, distance=4, focal=1000, roll=roll
    )
    return dataclasses.replace(cam, fx=fx, fy=fy)


@pytest.mark.parametrize(("angle", "fy"), [(25.0, 1000.0), (-40.0, 1000.0), (70.0, 1150.0)])
def test_turned_view_is_the_turned_camera(angle, fy):
    X = _standing()
    level, turned = _camera(0.0, fy=fy), _camera(angle, fy=fy)
    np.testing.assert_allclose(
        turn_view_2d(project(X, level), level, angle), project(X, turned), atol=1e-6
    )
    Xc = world_to_camera(X, level)
    np.testing.assert_allclose(turn_camera_frame(Xc, angle), world_to_camera(X, turned), atol=1e-9)
    np.testing.assert_allclose(
        turn_camera_frame(turn_camera_frame(Xc, angle), -angle), Xc, atol=1e-12
    )


@pytest.mark.parametrize("roll", [0.0, 20.0, -35.0, 120.0])
def test_level_angle_undoes_the_camera_roll(roll):
    X = _standing()
    uv = project(X, _camera(roll))
    # The camera shows the world's up leaning `roll` to the left: the trunk leans right of
    # it by -roll, and turning the camera by that levels it.
    assert level_angle(uv) == pytest.approx(-roll, abs=1.0)
    levelled = turn_view_2d(uv, _camera(roll), level_angle(uv))
    d = levelled[:, 8] - levelled[:, 0]
    assert np.abs(d[:, 0]).max() < 0.02 * np.abs(d[:, 1]).min() and (d[:, 1] < 0).all()


def test_level_angle_ignores_missing_frames_and_checks_its_input():
    uv = project(_standing(), _camera(30.0))
    uv[:4] = np.nan
    assert level_angle(uv) == pytest.approx(-30.0, abs=1.0)
    assert level_angle(np.full((3, 17, 2), np.nan)) == 0.0
    with pytest.raises(ValueError, match=r"\(T, 17, 2\) h36m17 pixels, got \(3, 16, 2\)"):
        level_angle(np.zeros((3, 16, 2)))


def test_levelled_prediction_does_not_depend_on_the_camera_roll():
    # The same person through a level and a rolled camera: levelled, both views give the
    # model the same 2D, so the 3D differ exactly by the roll (in camera coordinates).
    X = _standing(T=9)
    model = create_model("videopose3d_t27", channels=16, filter_widths=[3, 3]).eval()
    preds = {}
    for roll in (0.0, 30.0):
        cam = _camera(roll)
        seq = PoseSequence(
            name="s", subject="S", action="a", fps=30, skeleton="h36m17", joints_3d=X,
            cameras={"c0": cam}, joints_2d={"c0": project(X, cam)},
        )  # fmt: skip
        preds[roll] = predict_sequence(model, seq, "c0", level=True)
    a0, a30 = (float(preds[r].aux["level_angle"][0]) for r in (0.0, 30.0))
    assert a30 - a0 == pytest.approx(-30.0, abs=1e-6)
    np.testing.assert_allclose(
        preds[30.0].joints_3d, turn_camera_frame(preds[0.0].joints_3d, 30.0), atol=1e-5
    )
    plain = predict_sequence(model, seq, "c0")
    assert np.abs(plain.joints_3d - preds[30.0].joints_3d).max() > 1e-3  # it did turn


def test_level_refuses_image_models():
    model = create_model("lifting_by_image", **SMALL)
    X = _standing(T=3)
    cam = _camera(0.0)
    seq = PoseSequence(
        name="s", subject="S", action="a", fps=30, skeleton="h36m17", joints_3d=X,
        cameras={"c0": cam}, joints_2d={"c0": project(X, cam)},
    )  # fmt: skip
    with pytest.raises(ValueError, match="level turns the 2D keypoints only"):
        predict_sequence(model, seq, "c0", level=True)
