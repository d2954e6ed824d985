"""Single-person tracking on a constructed two-person sequence; gap filling and flags;
smoothing against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter, savgol_filter

from poseviz.data.tracking import (
    PersonTracker,
    fill_gaps,
    keypoint_box,
    one_euro_filter,
    smooth_keypoints,
    track_person,
)

T, J = 60, 17


def _person(rng, x0, vx):
    """A (T, J, 2) stick person 200 px tall walking at vx px/frame from x0."""
    template = rng.uniform([-40, -100], [40, 100], size=(J, 2))
    t = np.arange(T)[:, None, None]
    return template[None] + np.stack([x0 + vx * t[..., 0], 300 + 0 * t[..., 0]], -1)


def _two_people(rng):
    a = _person(rng, 100.0, 6.0)  # walks right
    b = _person(rng, 500.0, -6.0)  # walks left; they cross near frame 33
    return a, b


def test_follows_one_person_through_a_crossing_with_shuffled_candidates(rng):
    a, b = _two_people(rng)
    gaps = set(range(20, 25))  # A is not detected in frames 20-24
    points, conf, truth = [], [], []
    for t in range(T):
        people = [("b", b[t])] + ([] if t in gaps else [("a", a[t])])
        if t == 0:
            people = [("a", a[t]), ("b", b[t] * 0 + b[t].mean(0) + (b[t] - b[t].mean(0)) * 0.5)]
        order = rng.permutation(len(people))
        points.append(np.stack([people[k][1] for k in order]))
        conf.append(np.full((len(people), J), 0.9))
        truth.append(next((i for i, k in enumerate(order) if people[k][0] == "a"), -1))
    track = track_person(points, conf)
    # Frame 0: A is the more prominent person (B is drawn at half size) and starts the track.
    np.testing.assert_array_equal(track.chosen, truth)
    assert set(np.flatnonzero(~track.detected)) == gaps
    assert (track.segment == 0).all()
    seen = track.detected
    np.testing.assert_allclose(track.joints_2d[seen], a[seen])
    # The gap is filled by linear interpolation between frames 19 and 25 and flagged.
    w = (np.arange(20, 25) - 19) / 6
    expected = a[19][None] * (1 - w[:, None, None]) + a[25][None] * w[:, None, None]
    np.testing.assert_allclose(track.joints_2d[20:25], expected)
    assert (track.confidence[20:25] == 0).all() and (track.confidence[seen] == 0.9).all()
    assert track.coverage == pytest.approx((T - 5) / T)


def test_someone_else_alone_in_the_frame_is_a_gap_not_the_person(rng):
    a, b = _two_people(rng)
    # Frames 30-39: only B is detected (far from where A is): gaps, not a switch.
    points = [a[t][None] if not 30 <= t < 40 else b[t][None] + [0, 400] for t in range(T)]
    track = track_person(points, reacquire_after=None)
    assert (track.chosen[30:40] == -1).all() and track.detected.sum() == T - 10
    # With a re-acquisition after 5 lost frames the track restarts on B, flagged as segment 1.
    track = track_person(points, reacquire_after=5)
    assert (track.chosen[30:35] == -1).all() and (track.chosen[35:40] == 0).all()
    assert (track.segment[:35] == 0).all() and (track.segment[35:40] == 1).all()


def test_missing_joints_are_interpolated_and_flagged(rng):
    a = _person(rng, 100.0, 3.0)
    points = [a[t][None].copy() for t in range(T)]
    for t in (10, 11):
        points[t][0, 13] = np.nan  # l_wrist missing
    track = track_person(points)
    assert track.detected.all()
    assert (track.confidence[10:12, 13] == 0).all() and (track.confidence[10:12, :13] == 1).all()
    np.testing.assert_allclose(track.joints_2d[10:12, 13], a[10:12, 13])  # straight-line walk


def test_occlusion_flags_follow_the_chosen_person_and_gaps(rng):
    a, b = _two_people(rng)
    points = [np.stack([b[t], a[t]]) for t in range(10)] + [b[t][None] for t in range(10, 12)]
    occ = [np.array([np.ones(J, bool), np.arange(J) == 3]) for _ in range(10)]
    occ += [np.ones((1, J), bool) for _ in range(2)]
    conf = [np.ones(p.shape[:2]) for p in points]
    conf[0][0] *= 0.1  # A is the prominent one in frame 0
    track = track_person(points, conf, occ, reacquire_after=None)
    assert (track.chosen[:10] == 1).all()
    assert (track.occluded[:10] == (np.arange(J) == 3)).all()
    assert track.occluded[10:].all()


def test_no_person_and_bad_shapes_raise():
    with pytest.raises(ValueError, match="no person in any of the 3 frames"):
        track_person([np.zeros((0, J, 2))] * 3)
    with pytest.raises(ValueError, match=r"frame 1: expected candidates \(P, 17, 2\)"):
        track_person([np.zeros((1, J, 2)), np.zeros((1, 5, 2))])
    with pytest.raises(ValueError, match="max_distance"):
        PersonTracker(max_distance=0)


def test_keypoint_box_ignores_unsure_joints():
    pts = np.array([[0.0, 0.0], [10.0, 20.0], [100.0, 100.0]])
    np.testing.assert_allclose(keypoint_box(pts, np.array([1.0, 1.0, 0.1])), [0, 0, 10, 20])
    np.testing.assert_allclose(keypoint_box(pts, np.array([0.1, 0.1, 0.1])), [0, 0, 100, 100])


def test_fill_gaps_against_hand_values():
    x = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])[:, None, None]
    out = fill_gaps(x, np.isfinite(x[..., 0]))
    np.testing.assert_allclose(out[:, 0, 0], [1, 1, 2, 3, 4, 4])
    with pytest.raises(ValueError, match="joint 0 is never detected"):
        fill_gaps(np.full((3, 1, 2), np.nan), np.zeros((3, 1), bool))


def test_one_euro_without_speed_term_is_scipy_first_order_lowpass(rng):
    fps, fc = 30.0, 2.0
    x = np.cumsum(rng.normal(size=(200, 3, 2)), axis=0)
    out = one_euro_filter(x, fps, min_cutoff=fc, beta=0.0)
    a = 1.0 / (1.0 + fps / (2 * np.pi * fc))
    ref, _ = lfilter([a], [1, -(1 - a)], x[1:], axis=0, zi=((1 - a) * x[0])[None])
    np.testing.assert_allclose(out[1:], ref, atol=1e-9)
    assert np.array_equal(out[0], x[0])


def test_one_euro_speed_term_cuts_lag_on_fast_motion():
    fps = 30.0
    ramp = np.linspace(0, 300, 60)[:, None, None]  # 150 px/s
    slow = one_euro_filter(ramp, fps, min_cutoff=1.0, beta=0.0)
    fast = one_euro_filter(ramp, fps, min_cutoff=1.0, beta=0.05)
    assert abs(fast[-1] - ramp[-1]).item() < 0.5 * abs(slow[-1] - ramp[-1]).item()


def test_smooth_keypoints_methods(rng):
    x = rng.normal(size=(40, J, 2))
    np.testing.assert_allclose(
        smooth_keypoints(x, 30, "savgol", window=7, polyorder=2),
        savgol_filter(x, 7, 2, axis=0, mode="interp"),
    )
    np.testing.assert_array_equal(smooth_keypoints(x, 30, "none"), x)
    assert smooth_keypoints(x, 30, "one_euro").std() < x.std()
    with pytest.raises(ValueError, match="unknown method 'median'"):
        smooth_keypoints(x, 30, "median")
