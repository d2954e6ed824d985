"""Consistent triangulation: a view that disagrees is dropped, the point is recovered; a
point with no consistent pair of views is NaN."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.geometry import project
from poseviz.inference.multiview import triangulate_consistent
from tests.geometry.test_triangulation import ring_of_cameras


def test_the_view_that_disagrees_is_dropped(rng):
    cams = ring_of_cameras(4, rng)
    X = rng.uniform(-0.5, 0.5, size=(30, 17, 3))
    x = np.stack([project(X, c) for c in cams])
    x[2, :10] += [120.0, -80.0]  # view 2 is wrong for the first 10 frames
    x[0, 10:12, 3] += 200.0  # view 0 is wrong for one joint in frames 10-11
    x += rng.normal(scale=0.5, size=x.shape)  # half a pixel of detector noise
    out, used, err = triangulate_consistent(x, cams, max_error_px=10.0)
    np.testing.assert_allclose(out, X, atol=5e-3)
    assert not used[2, :10].any() and used[2, 10:].all()
    assert not used[0, 10:12, 3].any() and used.sum() == 4 * 30 * 17 - 10 * 17 - 2
    assert np.nanmax(np.where(used, err, np.nan)) < 10.0
    assert (err[2, :10] > 50).all()  # the dropped view's own error is still reported


def test_no_consistent_pair_is_nan_and_weights_gate_views(rng):
    cams = ring_of_cameras(3, rng, distortion=False)
    X = rng.uniform(-0.5, 0.5, size=(4, 3))
    x = np.stack([project(X, c) for c in cams])
    x[1, 0] += 300.0
    x[2, 0] -= 300.0  # frame 0: every pair disagrees
    w = np.ones(x.shape[:-1])
    w[0, 3] = 0.0  # frame 3: view 0 unused by weight, two views left
    out, used, err = triangulate_consistent(x, cams, w, max_error_px=10.0)
    assert np.isnan(out[0]).all() and not used[:, 0].any() and np.isnan(err[:, 0]).all()
    np.testing.assert_allclose(out[1:], X[1:], atol=1e-6)
    assert not used[0, 3] and used[1:, 3].all()
    with pytest.raises(ValueError, match="min_views must be >= 2"):
        triangulate_consistent(x, cams, min_views=1)
    with pytest.raises(ValueError, match=r"expected points_2d \(V=3"):
        triangulate_consistent(x[:2], cams)
