"""Colour modes: what each joint's colour means."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.skeleton import get_skeleton
from poseviz.viz.colors import GREY, LEFT, RIGHT, color_ramp, joint_colors, side_colors


def test_ramp_ends_and_middle():
    c = color_ramp(np.array([-5.0, 0.0, 75.0, 150.0, 999.0, np.nan]), 0, 150)
    green, yellow, red = c[1], c[2], c[3]
    assert green[1] > green[0] and green[1] > green[2]  # green
    assert yellow[0] > 200 and yellow[1] > 200 and yellow[2] < 100  # yellow
    assert red[0] > 200 and red[1] < 60  # red
    np.testing.assert_array_equal(c[0], green)  # clipped below
    np.testing.assert_array_equal(c[4], red)  # clipped above
    np.testing.assert_array_equal(c[5], GREY)  # NaN
    with pytest.raises(ValueError, match="vmax must exceed vmin"):
        color_ramp(np.zeros(2), 1, 1)


def test_side_colours_follow_the_layout():
    skel = get_skeleton("h36m17")
    c = side_colors(3, skel)
    assert c.shape == (3, 17, 3) and c.dtype == np.uint8
    for j in range(17):
        want = LEFT if j in skel.left else RIGHT if j in skel.right else GREY
        np.testing.assert_array_equal(c[:, j], np.tile(want, (3, 1)))


def test_every_mode_reads_its_own_array():
    T = 4
    rng = np.random.default_rng(0)
    error = rng.uniform(0, 300, (T, 17))
    mask = error >= error.mean(1, keepdims=True)
    occ = rng.random((T, 17)) > 0.7
    prob = rng.random((T, 17))
    conf = rng.random((T, 17))
    kw = dict(error_mm=error, sensitive=mask, occluded=occ, occlusion_prob=prob, confidence=conf)
    np.testing.assert_array_equal(joint_colors("error", T, **kw), color_ramp(error, 0, 150))
    np.testing.assert_array_equal(
        joint_colors("error", T, error_max_mm=300, **kw), color_ramp(error, 0, 300)
    )
    sens = joint_colors("sensitive", T, **kw)
    assert (sens[mask][:, 0] > 200).all() and (sens[~mask] == GREY).all()
    occ_c = joint_colors("occlusion", T, **kw)
    assert (occ_c[occ][:, 0] > occ_c[occ][:, 1]).all()  # red
    assert (occ_c[~occ][:, 1] > occ_c[~occ][:, 0]).all()  # green
    np.testing.assert_array_equal(joint_colors("occlusion_prob", T, **kw), color_ramp(prob))
    # low confidence is the bad end of the ramp
    np.testing.assert_array_equal(joint_colors("confidence", T, **kw), color_ramp(1 - conf))


def test_missing_or_misshaped_data_is_refused():
    with pytest.raises(ValueError, match="needs its"):
        joint_colors("error", 3)
    with pytest.raises(ValueError, match=r"expects a \(3, 17\) array"):
        joint_colors("error", 3, error_mm=np.zeros((3, 16)))
    with pytest.raises(ValueError, match="mode must be one of"):
        joint_colors("rainbow", 3)
