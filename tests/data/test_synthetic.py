"""Synthetic capsule-body images, person crops and the image sample dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poseviz.data.batch import SEVERITIES, check_batch
from poseviz.data.occlusion import H36M17_CAPSULES, occlusion_labels
from poseviz.data.synthetic import (
    SyntheticImageDataset,
    crop_camera,
    heatmap_coordinates,
    person_box,
    random_background,
    render_body,
    render_person_crop,
    render_sample,
)
from poseviz.geometry import project, soft_argmax_2d
from poseviz.structures import Camera, PoseSequence
from tests.data._poses import FRONT, STANDING, camera, random_poses, to_camera

J = 17


def _image_says_occluded(x: np.ndarray, cam: Camera, seed: int) -> np.ndarray:
    """Read each joint's occlusion off rendered images: render the pose with the joint's
    own segments shrunk to threads, and look whether the surface seen at the joint's pixel
    is nearer than the joint's front surface (its distance minus its own smallest radius)."""
    result = np.zeros(J, bool)
    for j in range(J):
        own_groups = {c.group for c in H36M17_CAPSULES if j in (c.a, c.b)}
        own = [c for c in H36M17_CAPSULES if c.group in own_groups]
        front = min(c.radius for c in H36M17_CAPSULES if j in (c.a, c.b))
        out = render_person_crop(x, cam, size=(256, 256), rng=seed,
                                 radii={c.name: 1e-4 for c in own})  # fmt: skip
        col, row = np.round(out.joints_2d[j]).astype(int)
        assert 0 <= row < 256 and 0 <= col < 256  # the crop holds every joint
        result[j] = out.depth[row, col] < np.linalg.norm(x[j]) - front
    return result


def test_rendered_images_agree_with_the_occlusion_labels():
    poses = random_poses(np.random.default_rng(1), 12, jitter=0.12)
    cam = camera(1000, 1000)
    agree = hidden = 0
    for i, x in enumerate(poses):
        labels = occlusion_labels(x[None], None)[0]
        assert np.array_equal(render_person_crop(x, cam, rng=i).visible, ~labels)
        from_image = _image_says_occluded(x, cam, seed=i)
        agree += int((from_image == labels).sum())
        hidden += int(from_image.sum())
    assert hidden > 0.1 * 12 * J  # the poses exercise occlusion
    # Disagreement only where a joint's pixel centre (up to half a pixel from the exact
    # projection) sits on a silhouette edge.
    assert agree / (12 * J) > 0.98


def test_wrist_behind_the_back_shows_the_torso_in_the_image():
    body = STANDING.copy()
    body[12] = [0.20, 1.20, -0.10]
    body[13] = [0.03, 1.10, -0.17]
    x = to_camera(body, FRONT)
    out = render_body(x, camera(512, 512, focal=600), rng=0)
    col, row = np.round(out.joints_2d[13]).astype(int)
    assert not out.visible[13] and out.visible[11]
    assert out.capsules[out.capsule_index[row, col]].part == "torso"


def test_silhouette_area_of_one_capsule_matches_its_projection():
    # A capsule facing the camera at depth z projects (almost exactly, it is small and
    # central) to a rectangle of length L f / z and width 2 r f / z with two half discs.
    z, L, r, f = 5.0, 0.4, 0.1, 800.0
    x = np.tile([0.0, 0.0, z], (J, 1)) + np.linspace(0, 1e-3, J)[:, None] * [1, 0, 0]
    x[[0, 7]] += [[0, -L / 2, 0], [0, L / 2, 0]]
    radii = {c.name: 1e-4 for c in H36M17_CAPSULES}
    radii.update(lower_spine=r)  # pelvis -> spine, the only thick capsule
    cam = camera(400, 400, focal=f)
    out = render_body(x, cam, rng=0, radii=radii)
    expected = (L * f / z) * (2 * r * f / z) + np.pi * (r * f / z) ** 2
    assert out.mask.sum() == pytest.approx(expected, rel=0.03)
    assert np.isinf(out.depth[~out.mask]).all()
    centre = out.depth[200, 200]
    assert centre == pytest.approx(np.hypot(z - r, 0.0), abs=2e-3)  # front of the capsule


def test_same_seed_same_image_and_seeds_vary_backgrounds():
    x = to_camera(STANDING, FRONT)
    cam = camera(320, 240)
    a = render_body(x, cam, rng=7)
    b = render_body(x, cam, rng=7)
    c = render_body(x, cam, rng=8)
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image[~a.mask], c.image[~c.mask])
    assert a.image.shape == (240, 320, 3) and a.image.dtype == np.uint8
    assert np.array_equal(a.mask, c.mask)  # same pose, same silhouette


def test_backgrounds_are_varied():
    rng = np.random.default_rng(0)
    bgs = np.stack([random_background(64, 48, rng) for _ in range(20)]).astype(float)
    assert bgs.shape == (20, 64, 48, 3)
    assert bgs.mean(axis=(1, 2, 3)).std() > 10  # different overall colours
    assert np.median(bgs.std(axis=(1, 2))) > 5  # structure within each image
    with pytest.raises(ValueError, match="positive size"):
        random_background(0, 10, rng)


def test_crop_camera_is_an_affine_map_of_the_full_image():
    rng = np.random.default_rng(2)
    cam = Camera(id="c", width=1000, height=800, fx=900, fy=950, cx=480, cy=420, k1=-0.1,
                 k2=0.02, p1=1e-3)  # fmt: skip
    x = random_poses(rng, 1)[0]
    full = project(x, cam)
    box = person_box(full, aspect=192 / 256, padding=0.25)
    crop = crop_camera(cam, box, (256, 192))
    sx = 192 / (box[2] - box[0])
    sy = 256 / (box[3] - box[1])
    expected = (full - box[:2]) * [sx, sy] - 0.5
    np.testing.assert_allclose(project(x, crop), expected, atol=1e-9)
    assert sx == pytest.approx(sy)  # the box has the crop's aspect
    # Every joint lies inside the padded box, away from its edges.
    assert ((full > box[:2]) & (full < box[2:])).all()


def test_person_crop_contains_the_body_and_joints_map_to_heatmaps():
    x = random_poses(np.random.default_rng(3), 1)[0]
    out = render_person_crop(x, camera(1000, 1000), size=(256, 192), rng=0)
    assert out.image.shape == (256, 192, 3)
    assert out.mask.any()
    assert not (out.mask[0].any() or out.mask[-1].any())  # nothing cut at the top/bottom
    assert ((out.joints_2d > 0) & (out.joints_2d < [191, 255])).all()
    hm = heatmap_coordinates(out.joints_2d, (256, 192), (64, 48))
    np.testing.assert_allclose(hm, (out.joints_2d + 0.5) / 4 - 0.5)
    # Edges map to edges: pixel edge -0.5 -> -0.5, W - 0.5 -> w - 0.5.
    edges = heatmap_coordinates(np.array([[-0.5, -0.5], [191.5, 255.5]]), (256, 192), (64, 48))
    np.testing.assert_allclose(edges, [[-0.5, -0.5], [47.5, 63.5]])


def test_heatmap_target_is_recovered_by_soft_argmax():
    # A Gaussian drawn at the target heatmap coordinate integrates back to it.
    target = np.array([[20.3, 41.7]])
    ys, xs = np.mgrid[0:64, 0:64]
    g = np.exp(-((xs - target[0, 0]) ** 2 + (ys - target[0, 1]) ** 2) / (2 * 1.5**2))
    got = soft_argmax_2d(g[None], softmax=False)
    np.testing.assert_allclose(got, target, atol=1e-3)


def test_lens_distortion_is_honoured():
    cam = Camera(id="d", width=128, height=128, fx=150, fy=150, cx=64, cy=64, k1=-0.25)
    x = to_camera(STANDING, FRONT, distance=6.0)
    out = render_body(x, cam, rng=0)
    np.testing.assert_allclose(out.joints_2d, project(x, cam))
    for j in np.flatnonzero(out.visible):  # each visible joint lands on the body
        col, row = np.round(out.joints_2d[j]).astype(int)
        assert out.mask[row, col]


def test_render_rejects_bad_input():
    cam = camera(64, 64)
    with pytest.raises(ValueError, match=r"expected joints_cam of shape \(17, 3\)"):
        render_body(np.zeros((16, 3)), cam)
    with pytest.raises(ValueError, match="expected background of shape"):
        render_body(to_camera(STANDING, FRONT), cam, background=np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="every joint is NaN"):
        person_box(np.full((17, 2), np.nan))


def _sequence() -> PoseSequence:
    rng = np.random.default_rng(4)
    poses = random_poses(rng, 6, jitter=0.1)  # world = camera frame of "c0"
    cams = {
        "c0": camera(1000, 1000),
        "c1": Camera(
            id="c1",
            width=800,
            height=600,
            fx=700,
            fy=700,
            cx=400,
            cy=300,
            R=np.diag([-1.0, 1.0, -1.0]),
            t=[0.0, 0.0, 9.0],
        ),  # fmt: skip
    }
    return PoseSequence("synthetic/one", "S1", "posing", 50, "h36m17", joints_3d=poses,
                        cameras=cams)  # fmt: skip


def test_render_sample_follows_the_batch_contract_and_is_deterministic():
    seq = _sequence()
    s = render_sample(seq, "c1", 2, size=(256, 192), seed=3)
    assert s["image"].shape == (3, 256, 192) and s["image"].dtype == torch.float32
    assert 0 <= s["image"].min() and s["image"].max() <= 1
    assert s["keypoints_2d_heatmap"].shape == (J, 2)
    assert (s["keypoints_2d_heatmap"] > -0.5).all()
    assert (s["keypoints_2d_heatmap"] < torch.tensor([47.5, 63.5])).all()
    assert s["pose_3d"].shape == (1, J, 3) and torch.allclose(s["pose_3d"][0, 0], torch.zeros(3))
    assert SEVERITIES[int(s["severity"])] in SEVERITIES
    again = render_sample(seq, "c1", 2, size=(256, 192), seed=3)
    assert torch.equal(s["image"], again["image"])
    other = render_sample(seq, "c1", 2, size=(256, 192), seed=4)
    assert not torch.equal(s["image"], other["image"])
    with pytest.raises(ValueError, match="no camera 'c9'"):
        render_sample(seq, "c9", 0)
    with pytest.raises(ValueError, match="frame 6 out of range"):
        render_sample(seq, "c0", 6)


def test_dataset_enumerates_views_and_collates_to_a_valid_batch():
    seq = _sequence()
    ds = SyntheticImageDataset([seq], stride=2, size=(128, 128), seed=1)
    assert len(ds) == 2 * 3
    assert [(c, f) for _, c, f in ds.index] == [
        ("c0", 0), ("c0", 2), ("c0", 4), ("c1", 0), ("c1", 2), ("c1", 4),
    ]  # fmt: skip
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    check_batch(batch)
    assert batch["image"].shape == (3, 3, 128, 128)
    assert batch["occlusion"].shape == (3, 1, J)
    assert batch["camera"] == ["c0", "c0", "c0"]
    assert torch.equal(ds[4]["image"], ds[4]["image"])
