"""Person crops: box rule, the pixel convention (checked on exact sub-images and a
zoomed dot), frame selection from a real decode, and the model tensor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from poseviz.inference.crops import (
    crop_affine,
    crop_image,
    crops_to_tensor,
    person_boxes,
    person_crops,
    to_crop_pixels,
)


def test_person_boxes_padding_and_aspect_by_hand():
    joints = np.array([[[100.0, 100.0], [200.0, 300.0]]])  # tight box 100 x 200
    # pad 0.25 * 200 = 50 per side -> 200 x 300; aspect 0.75 widens it to 225 x 300.
    np.testing.assert_allclose(person_boxes(joints, aspect=0.75), [[37.5, 50.0, 262.5, 350.0]])
    # A wide person: 600 x 300 after padding; aspect 1 heightens it to 600 x 600 about y=50.
    wide = np.array([[[0.0, 0.0], [400.0, 100.0]]])
    np.testing.assert_allclose(person_boxes(wide), [[-100.0, -250.0, 500.0, 350.0]])
    with pytest.raises(ValueError, match="frame 0 has no finite joint"):
        person_boxes(np.full((1, 2, 2), np.nan))


def test_unit_scale_crop_is_the_exact_sub_image(rng):
    frame = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    box = np.array([10 - 0.5, 5 - 0.5, 10 - 0.5 + 32, 5 - 0.5 + 24])  # pixel edges
    np.testing.assert_array_equal(crop_image(frame, box, (24, 32)), frame[5:29, 10:42])


def test_zoomed_dot_lands_where_the_affine_says():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[40, 70] = 255  # a dot at x=70, y=40
    box = np.array([50.0, 20.0, 90.0, 60.0])  # 40 x 40 source -> 160 x 160: 4x zoom
    crop = crop_image(frame, box, (160, 160)).max(-1)
    expected = to_crop_pixels(np.array([[70.0, 40.0]]), crop_affine(box, (160, 160)))[0]
    np.testing.assert_allclose(expected, [4 * 20.0 - 0.5, 4 * 20.0 - 0.5])
    peak = np.argwhere(crop == crop.max()).mean(0)[::-1]  # (x, y)
    np.testing.assert_allclose(peak, expected, atol=1.0)


def test_person_crops_pick_the_listed_frames(tmp_path):
    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for t in range(5):
        w.write(np.full((48, 64, 3), 40 * t, np.uint8))  # frame t has grey level 40 t
    w.release()
    joints = np.tile(np.array([[20.0, 10.0], [40.0, 30.0]]), (5, 1, 1))
    crops = person_crops(path, joints, size=(32, 24), frames=[3, 1])
    assert crops.images.shape == (2, 32, 24, 3) and crops.images.dtype == np.uint8
    np.testing.assert_allclose(crops.images[:, 16, 12].mean(-1), [120, 40], atol=4)
    np.testing.assert_allclose(crops.joints_2d, to_crop_pixels(joints[[3, 1]], crops.affines))
    x = crops_to_tensor(crops.images)
    assert tuple(x.shape) == (2, 3, 32, 24) and 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
    with pytest.raises(ValueError, match="video shorter than the joints"):
        person_crops(path, np.tile(joints[:1], (7, 1, 1)), frames=[6])


def test_crop_inputs_for_an_image_model(tmp_path):
    from poseviz.geometry import normalize_screen_coordinates
    from poseviz.inference.crops import crop_inputs

    path = tmp_path / "v.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for _ in range(3):
        w.write(np.full((48, 64, 3), 200, np.uint8))
    w.release()
    joints = np.tile(np.array([[20.0, 10.0], [40.0, 30.0], [30.0, 20.0]]), (3, 1, 1))
    occ = np.zeros((3, 3), bool)
    occ[1, 2] = True
    out = crop_inputs(path, joints, occluded=occ, size=(32, 24))
    assert tuple(out["image"].shape) == (3, 3, 32, 24)
    crops = person_crops(path, joints, size=(32, 24))
    expected = normalize_screen_coordinates(crops.joints_2d, 24, 32)
    np.testing.assert_allclose(out["keypoints_2d"].numpy(), expected, rtol=1e-6)
    # the box's centre is crop pixel (W/2 - 0.5, H/2 - 0.5) (pixel centres at integers):
    # normalised, half a pixel short of (0, 0), i.e. -1 / W on both axes
    np.testing.assert_allclose(out["keypoints_2d"][:, 2].numpy(), -1 / 24, atol=1e-6)
    assert out["occlusion"].dtype.is_floating_point and out["occlusion"][1, 2] == 1.0
