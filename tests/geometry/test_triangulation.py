import numpy as np
import pytest
import torch

from poseviz.geometry import project, reprojection_error, triangulate
from poseviz.geometry.rotations import axis_angle_to_matrix
from poseviz.structures import Camera


def ring_of_cameras(n, rng, distortion=True):
    cams = []
    for i in range(n):
        yaw = 2 * np.pi * i / n + rng.uniform(-0.2, 0.2)
        # camera on a circle of radius ~4 m looking at the origin (OpenCV axes)
        R = axis_angle_to_matrix(np.array([0.0, -yaw, 0.0])) @ axis_angle_to_matrix(
            np.array([rng.uniform(-0.2, 0.2), 0, 0])
        )
        t = np.array([0.0, 0.0, rng.uniform(3.5, 4.5)])
        dist = dict(k1=rng.uniform(-0.2, 0.1), k2=0.01, p1=5e-4, p2=-5e-4) if distortion else {}
        cams.append(
            Camera(
                id=f"c{i}",
                width=1920,
                height=1080,
                fx=1500,
                fy=1500,
                cx=960,
                cy=540,
                R=R,
                t=t,
                **dist,
            )
        )
    return cams


@pytest.mark.parametrize("n_views", range(2, 9))
def test_exact_projections_are_recovered(n_views, rng):
    cams = ring_of_cameras(n_views, rng)
    X = rng.uniform(-0.8, 0.8, size=(50, 17, 3))
    x = np.stack([project(X, c) for c in cams])
    np.testing.assert_allclose(triangulate(x, cams), X, atol=1e-6)
    np.testing.assert_allclose(reprojection_error(X, x, cams), 0, atol=1e-6)


def test_weights_drop_a_bad_view(rng):
    cams = ring_of_cameras(4, rng, distortion=False)
    X = rng.uniform(-0.5, 0.5, size=(20, 3))
    x = np.stack([project(X, c) for c in cams])
    x[2] += 40.0  # one view disagrees
    w = np.ones(x.shape[:-1])
    assert np.abs(triangulate(x, cams, w) - X).max() > 1e-3
    w[2] = 0.0
    np.testing.assert_allclose(triangulate(x, cams, w), X, atol=1e-6)
    x[1, 0] = np.nan  # a missing detection counts as weight 0
    np.testing.assert_allclose(triangulate(x, cams, w)[1:], X[1:], atol=1e-6)


def test_torch_in_torch_out(rng):
    cams = ring_of_cameras(3, rng)
    X = rng.uniform(-0.5, 0.5, size=(5, 3))
    x = torch.as_tensor(np.stack([project(X, c) for c in cams]))
    out = triangulate(x, cams)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), X, atol=1e-6)


def test_bad_input(rng):
    cams = ring_of_cameras(2, rng)
    with pytest.raises(ValueError, match="3 views but 2 cameras"):
        triangulate(np.zeros((3, 5, 2)), cams)
    with pytest.raises(ValueError, match=r"expected weights of shape \(2, 5\)"):
        triangulate(np.zeros((2, 5, 2)), cams, np.ones((2, 4)))
