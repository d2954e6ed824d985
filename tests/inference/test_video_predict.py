"""`predict_video`: what the compare app and ``poseviz lift`` run for a view with a video:
keypoint models lift the 2D, image models see real crops of the video's frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from poseviz.geometry import project
from poseviz.inference import predict_sequence
from poseviz.inference.crops import crop_inputs, person_boxes
from poseviz.inference.video import predict_video
from poseviz.models.registry import create_test_model
from poseviz.structures import Camera, PoseSequence
from tests.viz.conftest import synthetic_motion

W, H, T = 320, 240, 12
CAMERA = Camera(
    "video", W, H, 320.0, 320.0, W / 2, H / 2, R=np.diag([1.0, -1.0, -1.0]), t=[0, 1, 4]
)


@pytest.fixture
def sequence(tmp_path) -> PoseSequence:
    path = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (W, H))
    rng = np.random.default_rng(0)
    for _ in range(T):
        writer.write(rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    writer.release()
    occ = np.zeros((T, 17), bool)
    occ[T // 2 :, 16] = True
    return PoseSequence(
        name="walk",
        subject="video",
        action="walk",
        fps=25.0,
        skeleton="h36m17",
        cameras={"video": CAMERA},
        joints_2d={"video": project(synthetic_motion(T), CAMERA)},
        confidence={"video": np.where(occ, 0.2, 0.95)},
        occluded={"video": occ},
        video={"video": str(path)},
    )


def test_image_models_see_crops_of_the_video(sequence):
    torch.manual_seed(0)
    model = create_test_model("lifting_by_image").eval()
    size = tuple(model.config.image_size)
    pred = predict_video(model, sequence, "video", model_id="lbi")
    assert pred.model_id == "lbi" and pred.joints_3d.shape == (T, 17, 3)
    uv, conf = sequence.joints_2d["video"], sequence.confidence["video"]
    inputs = crop_inputs(sequence.video["video"], uv, conf, sequence.occluded["video"], size=size)
    expected = predict_sequence(model, sequence, "video", inputs=inputs)
    np.testing.assert_allclose(pred.joints_3d, expected.joints_3d, atol=1e-6)
    # the boxes the crops were cut from, for the attention panel
    np.testing.assert_allclose(
        pred.aux["crop_box"], person_boxes(uv, conf, aspect=size[1] / size[0])
    )
    assert (pred.aux["crop_size"] == np.array(size)).all() and pred.aux["crop_size"].shape == (T, 2)
    # no video to crop from: said clearly (synthetic crops would need 3D ground truth)
    sequence.video = {}
    with pytest.raises(ValueError, match="an image model needs the view's video"):
        predict_video(model, sequence, "video")


def test_keypoint_models_lift_the_2d(sequence):
    model = create_test_model("martinez_baseline").eval()
    pred = predict_video(model, sequence, "video", model_id="m")
    np.testing.assert_allclose(
        pred.joints_3d, predict_sequence(model, sequence, "video").joints_3d, atol=1e-6
    )
    assert "crop_box" not in pred.aux
    # flip test-time augmentation reaches the model (``poseviz lift --flip-tta``)
    flipped = predict_video(model, sequence, "video", flip_tta=True)
    np.testing.assert_allclose(
        flipped.joints_3d,
        predict_sequence(model, sequence, "video", flip_tta=True).joints_3d,
        atol=1e-6,
    )
    assert np.abs(flipped.joints_3d - pred.joints_3d).max() > 1e-4
