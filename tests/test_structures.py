import numpy as np
import pytest

from poseviz.structures import Camera, PoseSequence, Prediction


def make_camera(**kw):
    args = dict(id="c0", width=1000, height=1002, fx=1145.0, fy=1144.0, cx=512.0, cy=515.0)
    args.update(kw)
    return Camera(**args)


def test_camera_defaults_and_derived():
    cam = make_camera(t=[0.1, 0.2, 5.0])
    np.testing.assert_allclose(cam.K, [[1145, 0, 512], [0, 1144, 515], [0, 0, 1]])
    np.testing.assert_allclose(cam.center, [-0.1, -0.2, -5.0])
    assert Camera.from_dict(cam.to_dict()) == cam
    with pytest.raises(ValueError):  # arrays are read-only: a camera cannot drift
        cam.R[0, 0] = 2.0


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(R=np.diag([1.0, 1.0, 2.0])), "orthonormal"),
        (dict(R=np.diag([1.0, 1.0, -1.0])), "orthonormal"),  # a reflection
        (dict(R=np.eye(4)), r"Camera 'c0'\.R: expected shape \(3, 3\)"),
        (dict(t=[0, 0]), r"Camera 'c0'\.t: expected shape \(3,\)"),
        (dict(t=[0, np.nan, 0]), "NaN"),
        (dict(fx=-1.0), "positive"),
        (dict(width=0), "width"),
        (dict(k1=np.inf), "k1"),
    ],
)
def test_camera_rejects_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        make_camera(**kw)


def test_pose_sequence_validates_and_slices(rng):
    T, J = 10, 17
    seq = PoseSequence(
        name="S1/walk",
        subject="S1",
        action="walk",
        fps=50,
        skeleton="h36m17",
        joints_3d=rng.normal(size=(T, J, 3)),
        cameras={"c0": make_camera()},
        joints_2d={"c0": rng.uniform(0, 1000, size=(T, J, 2))},
        confidence={"c0": np.ones((T, J))},
        occluded={"c0": np.zeros((T, J), bool)},
    )
    assert (seq.num_frames, seq.num_joints, seq.camera_ids) == (T, J, ["c0"])
    part = seq.slice(2, 5)
    assert part.num_frames == 3 and part.joints_2d["c0"].shape == (3, J, 2)
    np.testing.assert_array_equal(part.joints_3d, seq.joints_3d[2:5])


def test_pose_sequence_allows_nan_gaps_in_3d(rng):
    x = rng.normal(size=(4, 17, 3))
    x[1, 3] = np.nan
    seq = PoseSequence("s", "s", "a", 100, "h36m17", joints_3d=x)
    assert np.isnan(seq.joints_3d[1, 3]).all()


@pytest.mark.parametrize(
    "kw, match",
    [
        (
            dict(joints_3d=np.zeros((4, 17))),
            r"joints_3d: expected shape \(T, J, 3\), got \(4, 17\)",
        ),
        (dict(joints_3d=np.full((4, 17, 3), np.inf)), "inf"),
        (
            dict(joints_3d=np.zeros((4, 17, 3)), joints_2d={"c0": np.zeros((5, 17, 2))}),
            r"joints_2d\['c0'\]: expected 4 frames x 17 joints",
        ),
        (
            dict(joints_2d={"c0": np.zeros((5, 17, 3))}),
            r"joints_2d\['c0'\]: expected shape \(T, J, 2\)",
        ),
        (
            dict(joints_2d={"c0": np.zeros((5, 17, 2))}, confidence={"c0": np.full((5, 17), 2.0)}),
            r"\[0, 1\]",
        ),
        (dict(fps=0), "fps"),
        (dict(cameras={"c0": "not a camera"}), "expected a Camera"),
    ],
)
def test_pose_sequence_rejects_bad_input(kw, match):
    args = dict(name="s", subject="S1", action="a", fps=50, skeleton="h36m17")
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        PoseSequence(**args)


def test_prediction(rng):
    p = Prediction(
        "m", "s", "c0", rng.normal(size=(6, 17, 3)), aux={"occlusion_prob": np.zeros((6, 17))}
    )
    np.testing.assert_array_equal(p.frame_indices, np.arange(6))
    with pytest.raises(ValueError, match=r"aux\['x'\]: expected first axis of length T=6"):
        Prediction("m", "s", "c0", np.zeros((6, 17, 3)), aux={"x": np.zeros((5, 17))})
    with pytest.raises(ValueError, match="NaN"):
        Prediction("m", "s", "c0", np.full((6, 17, 3), np.nan))
