"""Plain keypoint files and the `load` dispatcher (detection, options, DeepMimic routing)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseviz.data import FORMATS, FormatError, detect_format, load
from poseviz.data.keypoints import write_keypoints
from poseviz.skeleton import convert


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_2d_keypoints_round_trip(tmp_path, rng, suffix):
    pts = rng.uniform(0, 640, (8, 17, 2))
    conf = rng.uniform(0, 1, (8, 17))
    path = write_keypoints(
        tmp_path / f"clip{suffix}",
        pts,
        "coco17",
        confidence=conf,
        fps=25,
        extra={"camera": "front"},
    )
    s = load(path)[0]
    assert (
        s.skeleton == "h36m17"
        and s.fps == 25.0
        and s.camera_ids == ["front"]
        and s.joints_3d is None
    )
    want, want_conf = convert(pts, "coco17", conf)
    np.testing.assert_allclose(s.joints_2d["front"], want, atol=1e-6)
    np.testing.assert_allclose(s.confidence["front"], want_conf, atol=1e-6)
    raw = load(path, raw=True)[0]
    assert raw.skeleton == "coco17"
    np.testing.assert_allclose(raw.joints_2d["front"], pts, atol=1e-6)


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_3d_keypoints_round_trip_in_mm(tmp_path, rng, suffix):
    pts = rng.uniform(-1, 1, (5, 17, 3))
    path = write_keypoints(tmp_path / f"mocap{suffix}", pts, "h36m17", unit="mm")
    s = load(path)[0]
    np.testing.assert_allclose(s.joints_3d, pts, atol=1e-9)


def test_csv_layout_inferred_from_columns_and_gaps(tmp_path, rng):
    pts = rng.uniform(0, 1, (6, 17, 3))
    pts[2, 4] = np.nan
    path = write_keypoints(tmp_path / "k.csv", pts, "mpi_inf_3dhp17")
    text = "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("# layout"))
    path.write_text(text + "\n")
    s = load(path, raw=True)[0]
    assert s.skeleton == "mpi_inf_3dhp17" and np.isnan(s.joints_3d[2, 4]).all()
    filled = load(path, raw=True, max_gap=1)[0].joints_3d
    np.testing.assert_allclose(filled[2, 4], (pts[1, 4] + pts[3, 4]) / 2)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda t: t.replace("# layout: coco17\n", "").replace("nose_", "snout_"),
            "declared layout",
        ),
        (
            lambda t: t.rsplit("\n", 2)[0] + "\n" + t.rsplit("\n", 2)[1].rsplit(",", 3)[0] + "\n",
            "line 9: expected 35 cells",
        ),
        (lambda t: t.replace(",nose_y", ",nose_q"), "'nose_y'"),
        (lambda t: t.replace("\n3,", "\nthree,"), "numbers"),
    ],
)
def test_malformed_csv(tmp_path, rng, edit, message):
    path = write_keypoints(tmp_path / "bad.csv", rng.uniform(0, 9, (5, 17, 2)), "coco17")
    path.write_text(edit(path.read_text()))
    with pytest.raises(FormatError, match=message) as info:
        load(path)
    assert "bad.csv" in str(info.value)


def test_malformed_npz_keypoints(tmp_path, rng):
    np.savez(tmp_path / "a.npz", keypoints=rng.uniform(size=(4, 16, 2)), layout="coco17")
    with pytest.raises(FormatError, match=r"a.npz: keypoints: expected shape \(T, 17, 2\|3\)"):
        load(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", keypoints=rng.uniform(size=(4, 17, 2)))
    with pytest.raises(FormatError, match="b.npz: layout"):
        load(tmp_path / "b.npz")
    np.savez(
        tmp_path / "c.npz",
        keypoints=rng.uniform(size=(4, 17, 2)),
        layout="coco17",
        confidence=np.full((4, 17), 3.0),
    )
    with pytest.raises(FormatError, match=r"confidence: expected values in \[0, 1\]"):
        load(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", keypoints=rng.uniform(size=(40, 17, 2)), layout="coco17")
    pts = np.load(tmp_path / "d.npz")["keypoints"]
    pts[5:30, 3] = np.nan
    np.savez(tmp_path / "d.npz", keypoints=pts, layout="coco17")
    with pytest.raises(FormatError, match=r"'l_ear'.*gap of 25 frames \(frames 5-29\)"):
        load(tmp_path / "d.npz", max_gap=10)


def test_detection_by_extension_and_content(tmp_path):
    (tmp_path / "motion.txt").write_text(
        json.dumps({"Loop": "wrap", "Frames": [[0.03] + [0.0] * 43]})
    )
    assert detect_format(tmp_path / "motion.txt") == "deepmimic"
    (tmp_path / "noext").write_text("HIERARCHY\nROOT a\n")
    assert detect_format(tmp_path / "noext") == "bvh"
    (tmp_path / "x.data").write_text("PathFileType\t4\n")
    assert detect_format(tmp_path / "x.data") == "trc"
    (tmp_path / "c.qca.txt").write_text("<?xml version='1.0'?><calibration/>")
    assert detect_format(tmp_path / "c.qca.txt") == "pose2sim"
    (tmp_path / "junk.txt").write_text("hello")
    with pytest.raises(FormatError, match="junk.txt: format"):
        detect_format(tmp_path / "junk.txt")
    np.savez(tmp_path / "other.npz", foo=np.zeros(2))
    with pytest.raises(FormatError, match=r"other.npz: keys: .*'foo'"):
        load(tmp_path / "other.npz")
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.bvh")
    assert set(FORMATS) >= {
        "h36m",
        "motionbert",
        "mpi_inf_3dhp",
        "c3d",
        "bvh",
        "trc",
        "keypoints",
        "pose2sim",
        "deepmimic",
    }


def test_unknown_option_and_format(tmp_path, rng):
    path = write_keypoints(tmp_path / "k.npz", rng.uniform(size=(3, 17, 3)), "h36m17")
    with pytest.raises(
        ValueError, match=r"option\(s\) \['colour'\] not understood by the 'keypoints' reader"
    ):
        load(path, colour="red")
    with pytest.raises(ValueError, match="unknown format 'fbx'"):
        load(path, format="fbx")


def test_deepmimic_files_route_to_the_deepmimic_reader(tmp_path, monkeypatch):
    import types

    calls = []
    fake = types.ModuleType("poseviz.data.deepmimic")
    fake.read_deepmimic = lambda path: calls.append(path) or []
    monkeypatch.setitem(__import__("sys").modules, "poseviz.data.deepmimic", fake)
    path = tmp_path / "humanoid3d_walk.txt"
    path.write_text(json.dumps({"Loop": "wrap", "Frames": [[0.03] + [0.0] * 43]}))
    assert load(path) == [] and calls == [path]


def test_plain_folder_reads_every_data_file(tmp_path, rng):
    (tmp_path / "a").mkdir()
    write_keypoints(tmp_path / "a" / "one.csv", rng.uniform(size=(3, 17, 3)), "h36m17")
    write_keypoints(tmp_path / "two.npz", rng.uniform(size=(4, 17, 3)), "h36m17")
    (tmp_path / "README.txt").write_text("notes, not data")
    assert detect_format(tmp_path) == "folder"
    seqs = load(tmp_path)
    assert sorted(s.num_frames for s in seqs) == [3, 4]
    assert [s.num_frames for s in load(tmp_path, format="keypoints")] == [3, 4]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FormatError, match="empty: folder"):
        load(empty)
