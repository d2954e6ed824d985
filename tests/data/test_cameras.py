"""Virtual cameras (look-at, rigs, random sampling, batched projection, mirroring) and the
2D detector noise model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from poseviz.data.cameras import (
    COCO_SIGMAS_H36M17,
    DetectorNoise,
    attach_cameras,
    fit_distance,
    h36m_like_rig,
    look_at,
    mirror_camera,
    orbit_camera,
    project_stacked,
    sample_cameras,
    stack_cameras,
    subject_bounds,
    up_vector,
)
from poseviz.data.deepmimic import find_pybullet_motions, read_deepmimic
from poseviz.geometry import camera_to_image, project, world_to_camera
from poseviz.structures import Camera


@pytest.fixture(scope="module")
def cartwheel():
    """A motion that travels ~2 m sideways (Z up, metres)."""
    return read_deepmimic(find_pybullet_motions()[1])[0]


def in_view(joints: np.ndarray, cam: Camera) -> bool:
    X = world_to_camera(joints, cam)
    uv = project(joints, cam)
    inside = (
        (uv >= 0).all() and (uv[..., 0] <= cam.width).all() and (uv[..., 1] <= cam.height).all()
    )
    return bool((X[..., 2] > 0.5).all() and inside)


@pytest.mark.parametrize("up", ["z", "y", [0.0, 0.0, 1.0]])
def test_look_at_is_an_opencv_camera_looking_at_the_target(up, rng):
    eye, target = rng.normal(size=3) * 3, rng.normal(size=3)
    R, t = look_at(eye, target, up)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    cam = Camera("c", 640, 480, 500, 500, 320, 240, R=R, t=t)
    np.testing.assert_allclose(cam.center, eye, atol=1e-12)
    np.testing.assert_allclose(project(target, cam), [320, 240], atol=1e-9)
    # a point above the target (world up) appears higher in the image (smaller v)
    above = project(target + 0.3 * up_vector(up), cam)
    assert above[1] < 240
    with pytest.raises(ValueError, match="coincide"):
        look_at(eye, eye)


def test_orbit_camera_azimuth_elevation_distance():
    cam = orbit_camera("c", [1, 2, 1], azimuth=0, elevation=30, distance=5, focal=1000)
    d = cam.center - [1, 2, 1]
    np.testing.assert_allclose(np.linalg.norm(d), 5)
    np.testing.assert_allclose(np.degrees(np.arcsin(d[2] / 5)), 30)
    assert d[1] == pytest.approx(0, abs=1e-12) and d[0] > 0  # azimuth 0: on the +x side
    cam90 = orbit_camera("c", [0, 0, 0], azimuth=90, elevation=0, distance=4, focal=1000)
    np.testing.assert_allclose(cam90.center, [0, 4, 0], atol=1e-12)  # counter-clockwise


def test_fit_distance_keeps_a_sphere_in_view(rng):
    pts = rng.normal(size=(5000, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)  # the unit sphere
    d = fit_distance(1.0, 1000, 1000, 500, 400, 1000, 800)
    cam = orbit_camera(
        "c",
        [0, 0, 0],
        azimuth=10,
        elevation=5,
        distance=d,
        focal=1000,
        width=1000,
        height=800,
        cx=500,
        cy=400,
    )
    uv = project(pts, cam)
    assert uv[:, 1].min() >= -1e-6 and uv[:, 1].max() <= 800 + 1e-6
    assert uv[:, 1].min() < 5  # tight: it touches the narrow side


def test_h36m_like_rig(cartwheel):
    rig = h36m_like_rig(cartwheel.joints_3d, seed=3)
    assert list(rig) == ["cam0", "cam1", "cam2", "cam3"]
    centre, _ = subject_bounds(cartwheel.joints_3d)
    azimuths = []
    for cam in rig.values():
        assert (cam.width, cam.height) == (1000, 1000) and 1100 < cam.fx < 1170
        assert in_view(cartwheel.joints_3d, cam)
        d = cam.center - centre
        assert 4.5 < np.linalg.norm(d) < 8
        azimuths.append(np.degrees(np.arctan2(d[1], d[0])) % 360)
    assert np.allclose(azimuths, [45, 135, 225, 315], atol=5.01)
    # seeded: the same seed gives the same rig, another seed another one, None no jitter
    assert all(
        a == b
        for a, b in zip(
            rig.values(), h36m_like_rig(cartwheel.joints_3d, seed=3).values(), strict=True
        )
    )
    assert rig["cam0"] != h36m_like_rig(cartwheel.joints_3d, seed=4)["cam0"]
    exact = h36m_like_rig(cartwheel.joints_3d, seed=None)["cam1"]
    d = exact.center - centre
    assert np.degrees(np.arctan2(d[1], d[0])) == pytest.approx(135)


@pytest.mark.parametrize("roll", [30.0, -20.0, 90.0])
def test_orbit_camera_roll_tilts_the_world_up_in_the_image(roll):
    level = orbit_camera("c", [0, 0, 1], azimuth=40, elevation=0, distance=4, focal=1000)
    cam = orbit_camera("c", [0, 0, 1], azimuth=40, elevation=0, distance=4, focal=1000, roll=roll)
    # Same place and viewing direction, turned about it.
    np.testing.assert_allclose(cam.center, level.center, atol=1e-12)
    np.testing.assert_allclose(cam.R[2], level.R[2], atol=1e-12)
    # A vertical segment through the target: up the image when level; leaning left of the
    # image's up by `roll` degrees when rolled (screen coordinates, y down).
    foot, top = project(np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 1.5]]), cam)
    d = top - foot
    assert np.degrees(np.arctan2(-d[0], -d[1])) == pytest.approx(roll)
    # The target stays on the optical axis, at the principal point.
    np.testing.assert_allclose(project(np.array([[0.0, 0.0, 1.0]]), cam)[0], [500, 500])


def test_sample_cameras_roll_range_and_unrolled_draws(cartwheel):
    kw = dict(elevation=(0, 30), focal=(800, 1200))
    level = sample_cameras(np.random.default_rng(3), 20, cartwheel.joints_3d, **kw)
    assert level == sample_cameras(
        np.random.default_rng(3), 20, cartwheel.joints_3d, roll=(0.0, 0.0), **kw
    )
    rolled = sample_cameras(np.random.default_rng(3), 20, cartwheel.joints_3d, roll=(-30, 30), **kw)
    rolls = []
    for a, b in zip(level, rolled, strict=True):
        # The roll is drawn after everything else: same position, focal length, axis.
        np.testing.assert_allclose(b.center, a.center, atol=1e-9)
        assert (b.fx, b.cx, b.cy) == (a.fx, a.cx, a.cy)
        np.testing.assert_allclose(b.R[2], a.R[2], atol=1e-12)
        # The angle between the two cameras' x axes is the roll.
        rolls.append(
            np.degrees(np.arctan2(np.dot(np.cross(a.R[0], b.R[0]), a.R[2]), a.R[0] @ b.R[0]))
        )
        assert in_view(cartwheel.joints_3d, b)
    rolls = np.abs(rolls)
    assert rolls.max() <= 30 + 1e-9 and rolls.max() > 15 and np.ptp(rolls) > 5


def test_sample_cameras_ranges_and_view(cartwheel):
    cams = sample_cameras(
        np.random.default_rng(0),
        40,
        cartwheel.joints_3d,
        elevation=(0, 30),
        focal=(800, 1200),
        principal_jitter=0.05,
    )
    centre, _ = subject_bounds(cartwheel.joints_3d)
    for cam in cams:
        assert 800 <= cam.fx <= 1200 and cam.fx == cam.fy
        assert abs(cam.cx - 500) <= 50 and abs(cam.cy - 500) <= 50
        d = cam.center - centre
        el = np.degrees(np.arcsin(d[2] / np.linalg.norm(d)))
        assert -1e-9 <= el <= 30 + 1e-9
        assert in_view(cartwheel.joints_3d, cam)
        # aimed at the subject: the bounding sphere's centre is on the optical axis
        Xc = world_to_camera(centre, cam)
        np.testing.assert_allclose(Xc[:2], 0, atol=1e-9)
    again = sample_cameras(
        np.random.default_rng(0), 40, cartwheel.joints_3d, elevation=(0, 30), focal=(800, 1200)
    )
    assert all(a == b for a, b in zip(cams, again, strict=True))
    assert len({round(c.fx, 3) for c in cams}) == 40


def test_project_stacked_matches_geometry_per_camera(cartwheel):
    cams = sample_cameras(np.random.default_rng(1), 5, cartwheel.joints_3d)
    pts = np.stack([cartwheel.joints_3d[:10]] * 5)  # (5, 10, 17, 3)
    cam3d, px = project_stacked(pts, stack_cameras(cams))
    for b, cam in enumerate(cams):
        np.testing.assert_allclose(cam3d[b], world_to_camera(pts[b], cam), atol=1e-9)
        np.testing.assert_allclose(px[b], project(pts[b], cam), atol=1e-7)
    with pytest.raises(ValueError, match="B = 5 cameras"):
        project_stacked(pts[:2], stack_cameras(cams))
    distorted = Camera("d", 100, 100, 50, 50, 50, 50, k1=0.1)
    with pytest.raises(ValueError, match="'d' has lens distortion"):
        stack_cameras([distorted])


def test_attach_cameras_projects_with_geometry(cartwheel):
    rig = h36m_like_rig(cartwheel.joints_3d)
    seq = attach_cameras(cartwheel, rig)
    assert sorted(seq.joints_2d) == sorted(rig) and cartwheel.joints_2d == {}
    np.testing.assert_allclose(seq.joints_2d["cam2"], project(cartwheel.joints_3d, rig["cam2"]))


def test_mirror_camera_sees_mirrored_points_at_mirrored_pixels(rng):
    cam = Camera(
        "c", 1000, 800, 1100, 1090, 530, 410, k1=-0.2, k2=0.1, p1=0.001, p2=-0.002, k3=0.01
    )
    X = rng.uniform([-0.5, -0.5, 3], [0.5, 0.5, 6], size=(50, 3))
    mirrored = X * [-1, 1, 1]
    uv = camera_to_image(X, cam)
    np.testing.assert_allclose(
        camera_to_image(mirrored, mirror_camera(cam)), uv * [-1, 1] + [1000, 0], atol=1e-9
    )
    assert mirror_camera(mirror_camera(cam)) == cam


def person(n: int, rng) -> np.ndarray:
    """``(n, 17, 2)`` clean pixel poses spanning about 200 x 400 px."""
    base = rng.uniform([0, 0], [200, 400], size=(17, 2))
    base[0], base[10] = [100, 0], [100, 400]  # fix the box: 200 wide (below), 400 tall
    base[3], base[16] = [0, 200], [200, 200]
    return np.broadcast_to(base, (n, 17, 2)).copy() + rng.uniform(0, 500, size=(n, 1, 2))


def test_detector_noise_statistics(rng):
    kp = person(20000, rng)
    noise = DetectorNoise(jitter=0.5, outlier_prob=0.0, swap_prob=0.0)
    noisy, conf = noise(kp, np.random.default_rng(0))
    scale = np.sqrt(200 * 400)
    std = (noisy - kp).std(axis=0).mean(axis=-1)  # (17,) per joint
    np.testing.assert_allclose(std, 0.5 * COCO_SIGMAS_H36M17 * scale, rtol=0.03)
    assert conf.shape == (20000, 17) and conf.min() >= 0 and conf.max() <= 1
    # outliers: about outlier_prob of the joints move far (beyond 5 jitter sigmas)
    noisy, conf = DetectorNoise(outlier_prob=0.05, swap_prob=0.0)(kp, np.random.default_rng(1))
    err = np.linalg.norm(noisy - kp, axis=-1)
    far = err > 5 * 0.4 * COCO_SIGMAS_H36M17 * scale
    assert 0.035 < far.mean() < 0.05
    # confidence falls with the error
    rho = spearmanr(conf.ravel(), err.ravel())[0]
    assert rho < -0.5
    assert conf[far].mean() < 0.2 < 0.8 < conf[~far].mean()


def test_detector_noise_swaps_occlusion_nan_and_determinism(rng):
    kp = person(4000, rng)
    noisy, conf = DetectorNoise(jitter=1e-6, outlier_prob=0.0, swap_prob=0.5)(
        kp, np.random.default_rng(2)
    )
    swapped = np.isclose(noisy[:, 13], kp[:, 16], atol=1e-3).all(-1)  # l_wrist found at r_wrist
    assert 0.4 < swapped.mean() < 0.6
    assert conf[swapped, 13].max() < 0.01
    occ = np.zeros(kp.shape[:2], bool)
    occ[:, :8] = True
    noisy, _ = DetectorNoise(outlier_prob=0.0, swap_prob=0.0)(
        kp, np.random.default_rng(3), occluded=occ
    )
    err = np.linalg.norm(noisy - kp, axis=-1) / COCO_SIGMAS_H36M17
    assert err[:, :8].mean() > 1.8 * err[:, 8:].mean()
    gap = kp.copy()
    gap[0, 5] = np.nan
    noisy, conf = DetectorNoise()(gap, np.random.default_rng(4))
    assert np.isnan(noisy[0, 5]).all() and conf[0, 5] == 0 and np.isfinite(noisy[1:]).all()
    a = DetectorNoise()(kp, np.random.default_rng(5))
    b = DetectorNoise()(kp, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match=r"expected keypoints of shape \(\.\.\., 17, 2\)"):
        DetectorNoise()(kp[..., :16, :], np.random.default_rng(0))
    with pytest.raises(ValueError, match="outlier_prob"):
        DetectorNoise(outlier_prob=2.0)


def test_rigs_for_a_y_up_world(cartwheel):
    from poseviz.data.deepmimic import DEEPMIMIC_TO_WORLD

    y_up = cartwheel.joints_3d @ DEEPMIMIC_TO_WORLD  # back to DeepMimic's Y-up world
    rig = h36m_like_rig(y_up, up="y", seed=None)
    cams = [*rig.values(), *sample_cameras(np.random.default_rng(0), 5, y_up, up="y")]
    standing = y_up[0]  # frame 0 of the cartwheel stands upright
    for cam in cams:
        assert in_view(y_up, cam)
        uv = project(standing, cam)
        assert uv[10, 1] < uv[0, 1] < uv[3, 1]  # head above pelvis above ankle in the image
    # the same rig in the Z-up world sees the same image
    z_rig = h36m_like_rig(cartwheel.joints_3d, seed=None)
    np.testing.assert_allclose(
        project(standing, rig["cam2"]), project(cartwheel.joints_3d[0], z_rig["cam2"]), atol=1e-6
    )
