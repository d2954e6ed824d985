"""soft_argmax_2d against a plain loop over pixels, its limits and its gradients."""

import math

import numpy as np
import pytest
import torch

from poseviz.geometry import soft_argmax_2d


def _loop_soft_argmax(h: np.ndarray, beta: float = 1.0) -> tuple[float, float]:
    H, W = h.shape
    m = h.max()
    z = sum(math.exp(beta * (h[y, x] - m)) for y in range(H) for x in range(W))
    ex = sum(math.exp(beta * (h[y, x] - m)) * x for y in range(H) for x in range(W)) / z
    ey = sum(math.exp(beta * (h[y, x] - m)) * y for y in range(H) for x in range(W)) / z
    return ex, ey


def test_matches_pixel_loop(rng):
    h = rng.normal(size=(2, 3, 5, 7))
    got = soft_argmax_2d(torch.from_numpy(h), beta=1.7).numpy()
    assert got.shape == (2, 3, 2)
    for b in range(2):
        for k in range(3):
            np.testing.assert_allclose(got[b, k], _loop_soft_argmax(h[b, k], 1.7), rtol=1e-12)


def test_numpy_in_numpy_out_and_pixel_convention():
    h = np.zeros((4, 6))
    h[3, 5] = 1e4  # a hard peak at row 3, column 5 -> (x, y) = (5, 3)
    out = soft_argmax_2d(h)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [5.0, 3.0])
    # a uniform map gives the centre of the grid
    np.testing.assert_allclose(soft_argmax_2d(np.zeros((4, 6))), [2.5, 1.5])


def test_normalised_maps_without_softmax():
    p = np.zeros((3, 3))
    p[0, 0], p[2, 2] = 1.0, 3.0
    np.testing.assert_allclose(soft_argmax_2d(p, softmax=False), [1.5, 1.5])


def test_gradcheck(rng):
    h = torch.tensor(rng.normal(size=(2, 4, 5)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: soft_argmax_2d(x, beta=2.0), (h,))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"heatmaps": np.zeros(5)}, r"\(\.\.\., H, W\)"),
        ({"heatmaps": np.zeros((3, 3)), "beta": 0.0}, "beta"),
        ({"heatmaps": -np.ones((3, 3)), "softmax": False}, "non-negative"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        soft_argmax_2d(**kwargs)
