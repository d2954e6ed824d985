"""BlazePose -> h36m17 mapping on a synthetic MediaPipe result with known landmark positions
(no MediaPipe needed), and the message when the extra is missing."""

from __future__ import annotations

import builtins
from types import SimpleNamespace

import numpy as np
import pytest

from poseviz.inference import detect
from poseviz.inference.detect import (
    INSTALL_HINT,
    MissingExtraError,
    blazepose_to_h36m17,
    landmarks_from_result,
)

# MediaPipe's published landmark indices (developers.google.com/mediapipe, pose landmarker),
# typed in independently of poseviz.skeleton's BlazePose layout.
NOSE, L_EYE, R_EYE = 0, 2, 5
L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK = 23, 24, 25, 26, 27, 28

W, H = 640, 480


def _synthetic(rng):
    """33 landmarks at random normalised positions inside the image; visibility known."""
    xy = rng.uniform(0.1, 0.9, size=(33, 2))
    vis = rng.uniform(0.6, 1.0, size=33)
    world = rng.normal(scale=0.3, size=(33, 3))
    return xy, vis, world


def _result(xy, vis, world):
    marks = [
        SimpleNamespace(x=x, y=y, z=0.0, visibility=v) for (x, y), v in zip(xy, vis, strict=True)
    ]
    wmarks = [SimpleNamespace(x=a, y=b, z=c, visibility=1.0) for a, b, c in world]
    return SimpleNamespace(
        pose_landmarks=SimpleNamespace(landmark=marks),
        pose_world_landmarks=SimpleNamespace(landmark=wmarks),
    )


def _expected_h36m(points):
    """h36m17 from BlazePose by hand: the derivations documented in DESIGN.md / MotionBERT."""
    p = points
    pelvis = (p[L_HIP] + p[R_HIP]) / 2
    thorax = (p[L_SHO] + p[R_SHO]) / 2
    spine = (p[L_HIP] + p[R_HIP] + p[L_SHO] + p[R_SHO]) / 4
    head = (p[L_EYE] + p[R_EYE]) / 2
    return np.stack(
        [pelvis, p[R_HIP], p[R_KNE], p[R_ANK], p[L_HIP], p[L_KNE], p[L_ANK], spine, thorax,
         p[NOSE], head, p[L_SHO], p[L_ELB], p[L_WRI], p[R_SHO], p[R_ELB], p[R_WRI]]
    )  # fmt: skip


def test_mapping_pinned_on_known_landmarks(rng):
    xy, vis, world = _synthetic(rng)
    vis[R_WRI] = 0.2  # an occluded right wrist
    vis[L_HIP] = 0.45  # pelvis and spine derive from it
    lm = landmarks_from_result(_result(xy, vis, world), W, H)
    np.testing.assert_allclose(lm.image, xy * [W, H])
    out = blazepose_to_h36m17(lm.image, lm.visibility, width=W, height=H, world=lm.world)
    np.testing.assert_allclose(out["joints_2d"], _expected_h36m(xy * [W, H]), atol=1e-9)
    conf = out["confidence"]
    assert conf[16] == pytest.approx(0.2)  # r_wrist
    assert conf[0] == pytest.approx(min(vis[L_HIP], vis[R_HIP]))  # pelvis: min of sources
    assert conf[7] == pytest.approx(min(vis[[L_HIP, R_HIP, L_SHO, R_SHO]]))
    assert conf[10] == pytest.approx(min(vis[L_EYE], vis[R_EYE]))
    occluded = np.flatnonzero(out["occluded"]).tolist()
    assert occluded == [0, 4, 7, 16]  # pelvis, l_hip, spine (from l_hip), r_wrist
    w17 = _expected_h36m(world)
    np.testing.assert_allclose(out["world_3d"], w17 - w17[0], atol=1e-12)


def test_joints_outside_the_image_are_occluded(rng):
    xy, vis, world = _synthetic(rng)
    xy[L_ANK] = [0.5, 1.2]  # below the bottom edge, though the model is sure of it
    vis[L_ANK] = 0.99
    out = blazepose_to_h36m17(xy * [W, H], vis, width=W, height=H)
    assert out["occluded"][6] and out["confidence"][6] == pytest.approx(0.99)
    assert out["occluded"].sum() == 1


def test_crop_landmarks_map_back_to_the_frame(rng):
    xy, vis, world = _synthetic(rng)
    lm = landmarks_from_result(_result(xy, vis, world), W, H, crop=(100, 50, 200, 300))
    np.testing.assert_allclose(lm.image, [100, 50] + xy * [200, 300])


def test_batched_mapping_and_shape_errors(rng):
    frames = np.stack([_synthetic(rng)[0] * [W, H] for _ in range(4)])
    vis = np.ones((4, 33))
    out = blazepose_to_h36m17(frames, vis, width=W, height=H)
    assert out["joints_2d"].shape == (4, 17, 2) and out["confidence"].shape == (4, 17)
    np.testing.assert_allclose(out["joints_2d"][2], _expected_h36m(frames[2]))
    with pytest.raises(ValueError, match=r"landmarks \(\.\.\., 33, 2\)"):
        blazepose_to_h36m17(np.zeros((17, 2)), np.zeros(17), width=W, height=H)
    with pytest.raises(ValueError, match="visibility"):
        blazepose_to_h36m17(frames, np.ones((4, 32)), width=W, height=H)


def test_no_person_gives_none():
    assert landmarks_from_result(SimpleNamespace(pose_landmarks=None), W, H) is None


def test_missing_extra_message(monkeypatch):
    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(MissingExtraError, match="poseviz\\[video\\]") as err:
        detect.MediaPipeDetector()
    assert INSTALL_HINT in str(err.value) and "--no-deps" in str(err.value)
