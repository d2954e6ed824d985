"""The demo and motion data sources, with real model families through the trainer."""

import numpy as np
import pytest
import torch

from poseviz.data.batch import check_batch
from poseviz.models import create_model
from poseviz.training.config import config_from_mapping
from poseviz.training.data import build_datasets
from poseviz.training.evaluate import mean_training_pose
from poseviz.training.sources import ConcatClips, clip_options, clip_shape, expand_path
from poseviz.training.trainer import Trainer
from tests.models.test_lifting_by_image import SMALL
from tests.training.tiny import TinyDataset

SMALL_VP3D = {"name": "videopose3d_t27", "channels": 16, "filter_widths": [3, 3], "dropout": 0.0}


def _config(tmp_path, **sections):
    raw = {
        "name": "src",
        "model": SMALL_VP3D,
        "data": {"source": "demo", "batch_size": 16, "options": {"views_per_sequence": 2}},
        "trainer": {"steps": 3, "out": str(tmp_path / "run"), "progress": False, "log_every": 1},
    }
    raw.update(sections)
    return config_from_mapping(raw)


def test_demo_source_follows_the_model(tmp_path):
    config = _config(tmp_path)
    model = create_model(**SMALL_VP3D)
    train, val = build_datasets(config.data, model=model, seed=0)
    assert clip_shape(model) == (9, "center") and train.mirrors_itself
    batch = train.__getitems__(list(range(8)))
    check_batch(batch)
    assert batch["keypoints_2d"].shape == (8, 9, 17, 2) and batch["pose_3d"].shape == (8, 1, 17, 3)
    assert set(batch["subject"]) == {"train"} and all(
        c.startswith("virtual") for c in batch["camera"]
    )
    vb = val.__getitems__([0, 1])
    assert set(vb["subject"]) == {"val"} and vb["camera"][0].startswith("cam")
    # a sequence model reading a confidence channel (RePOSE: in_channels 3)
    repose = create_model("repose_small", max_frames=16)
    config = _config(tmp_path, data={"source": "demo", "options": {"length": 16}})
    train, _ = build_datasets(config.data, model=repose, seed=0)
    assert train.__getitems__([0])["keypoints_2d"].shape == (1, 16, 17, 3)
    config = _config(tmp_path, data={"source": "demo", "options": {"lenght": 3}})
    with pytest.raises(
        ValueError, match=r"config\.data\.options\.lenght: unknown key; did you mean 'length'"
    ):
        build_datasets(config.data, model=model, seed=0)


def test_demo_repeat_counts_the_demo_clips_several_times(tmp_path):
    model = create_model(**SMALL_VP3D)
    once, _ = build_datasets(_config(tmp_path).data, model=model, seed=0)
    data = {
        "source": "demo",
        "batch_size": 16,
        "options": {"views_per_sequence": 2, "demo_repeat": 3},
    }
    thrice, _ = build_datasets(_config(tmp_path, data=data).data, model=model, seed=0)
    assert len(thrice) == 3 * len(once)
    n = len(once)
    first, copy = once.__getitems__([5]), thrice.__getitems__([5 + n])
    # the same window of the same clip, seen through another copy's virtual cameras
    assert first["sequence"] == copy["sequence"]
    assert not torch.equal(first["keypoints_2d"], copy["keypoints_2d"])
    torch.testing.assert_close(
        first["pose_3d"].norm(dim=-1), copy["pose_3d"].norm(dim=-1), rtol=0.2, atol=0.05
    )
    data["options"]["demo_repeat"] = 0
    with pytest.raises(ValueError, match="demo_repeat: expected an integer >= 1"):
        build_datasets(_config(tmp_path, data=data).data, model=model, seed=0)


def test_real_families_train_through_the_engine(tmp_path):
    # centre-frame model, demo source, flip inside the dataset
    result = Trainer(_config(tmp_path)).fit()
    assert result.step == 3 and np.isfinite(result.val["mpjpe_mm"])
    # SCoTL's alternating loss-net / pose-net steps around the same pose-net
    scotl = {
        "name": "scotl+videopose3d_t27",
        "pose_net_config": {k: v for k, v in SMALL_VP3D.items() if k != "name"},
        "hidden": 16,
        "layers": 1,
        "heads": 2,
    }
    trainer = Trainer(
        _config(
            tmp_path,
            model=scotl,
            trainer={"steps": 2, "out": str(tmp_path / "s"), "progress": False, "log_every": 1},
        )
    )
    trainer.fit()
    assert set(trainer.optimizers) == {"loss_net", "pose_net"}


def test_concat_keeps_the_requested_order():
    a, b = TinyDataset(5, seed=0), TinyDataset(4, seed=1)
    both = ConcatClips([a, b])
    batch = both.__getitems__([6, 0, 8, 2])
    want = [b[1], a[0], b[3], a[2]]
    for got, item in zip(batch["pose_3d"], want, strict=True):
        assert torch.equal(got, item["pose_3d"])
    assert batch["action"] == [w["action"] for w in want]


def test_expand_path_and_mean_pose(monkeypatch):
    monkeypatch.delenv("POSEVIZ_TEST_DIR", raising=False)
    assert str(expand_path("${POSEVIZ_TEST_DIR:-../shared}/x")) == "../shared/x"
    monkeypatch.setenv("POSEVIZ_TEST_DIR", "/d")
    assert str(expand_path("${POSEVIZ_TEST_DIR:-../shared}/x")) == "/d/x"
    monkeypatch.delenv("POSEVIZ_TEST_DIR")
    with pytest.raises(ValueError, match="unset environment variable POSEVIZ_TEST_DIR"):
        expand_path("$POSEVIZ_TEST_DIR/x")
    ds = TinyDataset(7, frames=4)
    want = np.mean([ds[i]["pose_3d"][2].numpy() for i in range(7)], axis=0)  # centre frame
    np.testing.assert_allclose(mean_training_pose(ds), want, rtol=1e-6)


def test_motion_source_with_cmu_clips(tmp_path, shared_data):
    config = _config(
        tmp_path,
        data={
            "source": "motion",
            "paths": [str(shared_data / "cmu_deepmimic_jump")],
            "include_demo": True,
            "batch_size": 16,
            "options": {"views_per_sequence": 2, "target_fps": 30},
        },
    )
    model = create_model("videopose3d_t27", channels=16, filter_widths=[3, 3])
    train, val = build_datasets(config.data, model=model, seed=0)
    subjects = {s.subject for part in getattr(train, "parts", [train]) for s in part.sequences}
    assert "train" in subjects and len(subjects) > 1 and val is not None
    check_batch(train.__getitems__([0, len(train) - 1]))


def test_bvh_mapping_option_reaches_the_motion_files(tmp_path, shared_data):
    from poseviz.training.sources import _motion

    clip = sorted((shared_data / "cmu_bvh_acrnn").glob("*/*.bvh"))[0]
    ((_, (plain,)),) = _motion([str(clip)], None)
    ((_, (det,)),) = _motion([str(clip)], None, "cmu_daz_detector")
    moved = np.abs(det.joints_3d - plain.joints_3d).max(axis=(0, 2))
    derived = [7, 8, 9, 10]  # spine, thorax, neck_nose, head
    assert (moved[derived] > 0.02).all() and (np.delete(moved, derived) == 0).all()
    with pytest.raises(ValueError, match=r"data\.options\.bvh_mapping: unknown map 'x'"):
        _motion([str(clip)], None, "x")
    config = _config(
        tmp_path, data={"source": "demo", "options": {"bvh_mapping": "cmu_daz_detector"}}
    )
    assert clip_options(config.data).bvh_mapping == "cmu_daz_detector"  # a known option


def test_roll_option_turns_the_virtual_cameras(tmp_path):
    def rolls(options):
        config = _config(
            tmp_path, data={"source": "demo", "options": {"views_per_sequence": 3, **options}}
        )
        model = create_model("videopose3d_t27", channels=16, filter_widths=[3, 3])
        train, _ = build_datasets(config.data, model=model, seed=0)
        (part,) = getattr(train, "parts", [train])
        out = []
        for s in range(3):
            for v in range(3):
                # The image's x axis leaves the ground plane: by the roll at elevation 0,
                # by less when the camera looks down.
                cam = part.virtual_camera(s, v)
                out.append(np.degrees(np.arcsin(abs(cam.R[0] @ [0.0, 0.0, 1.0]))))
        return np.array(out)

    assert rolls({}).max() < 1e-6
    turned = rolls({"roll": [-30.0, 30.0]})
    assert turned.max() > 10 and turned.max() <= 30 + 1e-6


def test_image_models_refuse_camera_augmentations_they_do_not_get(tmp_path):
    model = create_model("lifting_by_image", **SMALL)
    for options in ({"roll": [-30.0, 30.0]}, {"zoom": 2.0}):
        config = _config(tmp_path, data={"source": "demo", "options": options})
        with pytest.raises(ValueError, match="roll and zoom .* image models"):
            build_datasets(config.data, model=model, seed=0)
