"""The batch contract's checker and prediction files (round trip, atomic write, bad files)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from poseviz.data._formats import FormatError
from poseviz.data.batch import check_batch
from poseviz.data.predictions import is_prediction_file, load_predictions, save_predictions
from poseviz.structures import Prediction


def _batch(B=2, T=5, J=17):
    return {
        "keypoints_2d": torch.zeros(B, T, J, 2),
        "pose_3d": torch.zeros(B, 1, J, 3),
        "occlusion": torch.zeros(B, T, J),
        "severity": torch.zeros(B, dtype=torch.int64),
        "subject": ["S1"] * B,
    }


def test_check_batch_accepts_the_contract():
    check_batch(_batch())


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("keypoints_2d", torch.zeros(2, 5, 17, 4), "keypoints_2d"),
        ("occlusion", torch.zeros(2, 6, 17), "occlusion"),  # T disagrees with keypoints_2d
        ("severity", torch.zeros(2), "int"),
        ("pose_3d", np.zeros((2, 1, 17, 3)), "tensor"),
        ("subject", ["S1"], "labels"),
    ],
)
def test_check_batch_names_the_bad_key(key, value, message):
    batch = _batch()
    batch[key] = value
    with pytest.raises(ValueError, match=message):
        check_batch(batch)


def test_check_batch_requires_pose_and_keypoints():
    batch = _batch()
    del batch["pose_3d"]
    with pytest.raises(ValueError, match="pose_3d"):
        check_batch(batch)


def test_predictions_round_trip(tmp_path, rng):
    preds = [
        Prediction("vp3d", "S9/Walk", "cam0", rng.normal(size=(10, 17, 3)),
                   aux={"occlusion_prob": rng.random((10, 17))}),
        Prediction("dgcnn", "S9/Walk", "cam1", rng.normal(size=(4, 17, 3)),
                   frame_indices=np.arange(3, 7)),
    ]  # fmt: skip
    path = save_predictions(tmp_path / "out" / "preds.npz", preds)
    assert is_prediction_file(path)
    assert [p.name for p in path.parent.iterdir()] == ["preds.npz"]  # no temp file left
    back = load_predictions(path)
    assert [(p.model_id, p.sequence_id, p.camera_id) for p in back] == [
        ("vp3d", "S9/Walk", "cam0"),
        ("dgcnn", "S9/Walk", "cam1"),
    ]
    np.testing.assert_array_equal(back[0].joints_3d, preds[0].joints_3d)
    np.testing.assert_array_equal(back[0].aux["occlusion_prob"], preds[0].aux["occlusion_prob"])
    np.testing.assert_array_equal(back[1].frame_indices, [3, 4, 5, 6])


def test_failed_write_keeps_the_old_file(tmp_path, rng):
    path = save_predictions(tmp_path / "p.npz", [Prediction("m", "s", "c", np.zeros((2, 17, 3)))])
    before = path.read_bytes()
    with pytest.raises(ValueError, match="not a Prediction"):
        save_predictions(path, ["oops"])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.npz"]


def test_malformed_prediction_files(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, keypoints=np.zeros((2, 17, 3)))
    assert not is_prediction_file(plain)
    with pytest.raises(FormatError, match="__poseviz_predictions__"):
        load_predictions(plain)

    missing = tmp_path / "missing.npz"
    header = {"version": 1, "records": [{"model_id": "m", "sequence_id": "s", "camera_id": "c"}]}
    np.savez(missing, __poseviz_predictions__=np.array(json.dumps(header)))
    with pytest.raises(FormatError, match="record 0.*missing"):
        load_predictions(missing)

    bad_shape = tmp_path / "shape.npz"
    np.savez(bad_shape, __poseviz_predictions__=np.array(json.dumps(header)),
             **{"p0/joints_3d": np.zeros((2, 17)), "p0/frame_indices": np.arange(2)})  # fmt: skip
    with pytest.raises(FormatError, match="joints_3d"):
        load_predictions(bad_shape)

    truncated = tmp_path / "cut.npz"
    good = save_predictions(
        tmp_path / "good.npz", [Prediction("m", "s", "c", np.zeros((2, 17, 3)))]
    )
    truncated.write_bytes(good.read_bytes()[:50])
    with pytest.raises(FormatError, match="cut.npz"):
        load_predictions(truncated)
    assert not zipfile.is_zipfile(truncated)
