"""The demo dataset: built offline from the pybullet clips, split, cached without pickle,
read back identically; ``poseviz data demo`` and ``data info`` on it."""

from __future__ import annotations

import numpy as np
import pytest

import poseviz.data.demo as demo
from poseviz.cli import main
from poseviz.data import load, load_demo
from poseviz.data.batch import check_batch
from poseviz.data.clips import ClipDataset
from poseviz.geometry import project
from tests.data._read_helpers import implausible_bones


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    return folder, load_demo(cache_dir=folder, progress=False)


def test_demo_builds_all_clips(cache):
    folder, seqs = cache
    assert len(seqs) == 15
    assert (folder / f"demo_v{demo.DEMO_VERSION}.npz").is_file()
    val = sorted(s.action for s in seqs if s.subject == "val")
    assert val == sorted(demo.VALIDATION_CLIPS)
    assert sum(s.subject == "train" for s in seqs) == 12
    assert {s.name for s in seqs} == {f"{s.subject}/{s.action}" for s in seqs}
    assert sum(s.num_frames for s in seqs) == 1621
    for s in seqs:
        assert s.skeleton == "h36m17" and implausible_bones(s.joints_3d) == [], s.name
        assert sorted(s.cameras) == ["cam0", "cam1", "cam2", "cam3"]
        for cid, cam in s.cameras.items():
            np.testing.assert_allclose(s.joints_2d[cid], project(s.joints_3d, cam), atol=1e-9)
            assert (s.joints_2d[cid] > 0).all() and (s.joints_2d[cid] < 1000).all()
        # occlusion labels per camera: some joints hidden in some views, not most
        assert sorted(s.occluded) == sorted(s.cameras)
    hidden = np.mean([o.mean() for s in seqs for o in s.occluded.values()])
    assert 0.02 < hidden < 0.4
    # rigs differ between clips (seeded per clip), reproducibly
    assert seqs[0].cameras["cam0"] != seqs[1].cameras["cam0"]


def test_second_load_reads_the_cache_without_pickle(cache, monkeypatch):
    folder, built = cache

    def no_build(**_):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(demo, "build_demo", no_build)
    again = load_demo(cache_dir=folder)
    for a, b in zip(built, again, strict=True):
        assert (a.name, a.subject, a.action, a.fps) == (b.name, b.subject, b.action, b.fps)
        np.testing.assert_array_equal(a.joints_3d, b.joints_3d)
        assert a.cameras == b.cameras
        for cid in a.joints_2d:
            np.testing.assert_array_equal(a.joints_2d[cid], b.joints_2d[cid])
        assert sorted(a.occluded) == sorted(b.occluded)
    with np.load(folder / f"demo_v{demo.DEMO_VERSION}.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)


def test_stale_or_broken_cache_is_rebuilt(tmp_path, cache, monkeypatch):
    _, built = cache
    calls = []
    monkeypatch.setattr(demo, "build_demo", lambda **_: calls.append(1) or built)
    path = demo.save_demo(built[:2], demo.demo_cache_path(tmp_path), stamp="another wheel")
    assert len(load_demo(cache_dir=tmp_path, progress=False)) == 15  # stamp differs: rebuilt
    path.write_bytes(b"not a zip")
    assert len(load_demo(cache_dir=tmp_path, progress=False)) == 15
    assert len(demo.read_demo(path)) == 15 and len(calls) == 2
    assert len(load_demo(cache_dir=tmp_path, rebuild=True)) == 15 and len(calls) == 3


def test_demo_feeds_the_clip_dataset(cache):
    _, seqs = cache
    train = [s for s in seqs if s.subject == "train"]
    ds = ClipDataset(train, length=27, flip=True)
    batch = next(ds.batches(32))
    check_batch(batch)
    assert set(batch["subject"]) == {"train"}


def test_cli_demo_and_info(cache, monkeypatch, capsys):
    folder, _ = cache
    monkeypatch.setenv("POSEVIZ_CACHE_DIR", str(folder))
    assert main(["data", "demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "15 sequence(s)" in out and "train (12), val (3)" in out and "cam3" in out
    path = folder / f"demo_v{demo.DEMO_VERSION}.npz"
    assert main(["data", "info", str(path)]) == 0
    assert "format demo, 15 sequence(s)" in capsys.readouterr().out
    assert len(load(path)) == 15


def test_read_demo_errors(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, header=np.array('{"format": "something else"}'), **{"s0.joints_3d": np.zeros(3)})
    with pytest.raises(ValueError, match="other.npz: header.format: expected 'poseviz-demo'"):
        demo.read_demo(path)
    header = '{"format": "poseviz-demo", "sequences": [{"name": "a", "frames": 4}]}'
    np.savez(path, header=np.array(header), joints_3d=np.zeros((4, 17, 3)))
    with pytest.raises(ValueError, match="other.npz: arrays: expected joints_3d, joints_2d"):
        demo.read_demo(path)
