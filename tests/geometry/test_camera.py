import cv2
import numpy as np
import pytest
import torch

from poseviz.geometry import (
    camera_to_world,
    image_coordinates,
    normalize_screen_coordinates,
    project,
    undistort,
    world_to_camera,
)
from poseviz.geometry.rotations import axis_angle_to_matrix
from poseviz.structures import Camera


def random_camera(rng, distortion=True, cam_id="c") -> Camera:
    R = axis_angle_to_matrix(rng.normal(size=3) * 0.5)
    dist = dict(k1=-0.2, k2=0.05, p1=1e-3, p2=-5e-4, k3=-0.01) if distortion else {}
    return Camera(
        id=cam_id,
        width=1000,
        height=1000,
        fx=rng.uniform(900, 1200),
        fy=rng.uniform(900, 1200),
        cx=rng.uniform(480, 520),
        cy=rng.uniform(480, 520),
        R=R,
        t=np.array([0.1, -0.2, 5.0]),
        **dist,
    )


def test_project_matches_opencv(rng):
    cam = random_camera(rng)
    pts = rng.uniform(-0.8, 0.8, size=(500, 3))
    ours = project(pts, cam)
    rvec, _ = cv2.Rodrigues(cam.R)
    ref, _ = cv2.projectPoints(pts, rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(ours, ref[:, 0], atol=1e-6)
    assert isinstance(ours, np.ndarray)
    t_out = project(torch.as_tensor(pts), cam)
    assert isinstance(t_out, torch.Tensor)
    np.testing.assert_allclose(t_out.numpy(), ref[:, 0], atol=1e-6)


def test_camera_axes_are_opencv():
    cam = Camera(id="c", width=100, height=100, fx=100, fy=100, cx=50, cy=50)
    # x right, y down, z forward: a point right of and below the axis lands right and below
    # the principal point; points behind the camera have negative depth.
    px = project(np.array([[0.1, 0.2, 1.0]]), cam)[0]
    assert px[0] > 50 and px[1] > 50
    assert world_to_camera(np.array([0.0, 0.0, -1.0]), cam)[2] < 0


def test_world_camera_round_trip_and_metres(rng):
    cam = random_camera(rng)
    pts = rng.normal(size=(7, 3))
    np.testing.assert_allclose(camera_to_world(world_to_camera(pts, cam), cam), pts, atol=1e-12)
    # distances are preserved (rigid, metres in, metres out)
    d_world = np.linalg.norm(pts[0] - pts[1])
    cam_pts = world_to_camera(pts, cam)
    assert np.isclose(np.linalg.norm(cam_pts[0] - cam_pts[1]), d_world)


def test_undistort_inverts_projection(rng):
    cam = random_camera(rng)
    cam_pts = world_to_camera(rng.uniform(-0.8, 0.8, size=(200, 3)), cam)
    xy = undistort(project(camera_to_world(cam_pts, cam), cam), cam)
    np.testing.assert_allclose(xy, cam_pts[:, :2] / cam_pts[:, 2:], atol=1e-10)


def test_screen_normalisation_matches_videopose3d(rng):
    w, h = 1000, 1002
    px = rng.uniform(0, 1000, size=(10, 17, 2))
    norm = normalize_screen_coordinates(px, w, h)
    np.testing.assert_allclose(norm, px / w * 2 - [1, h / w])
    np.testing.assert_allclose(image_coordinates(norm, w, h), px)
    assert np.allclose(
        normalize_screen_coordinates(np.array([[0.0, 0.0], [w, h]]), w, h),
        [[-1, -h / w], [1, h / w]],
    )


@pytest.mark.parametrize("fn", [project, world_to_camera])
def test_wrong_shape_is_a_clear_error(fn, rng):
    with pytest.raises(ValueError, match=r"expected points(_world)? of shape \(\.\.\., 3\)"):
        fn(np.zeros((4, 2)), random_camera(rng))
