"""C3D (written with ezc3d) and TRC readers: round trips, units, gaps, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.data import FormatError, load
from poseviz.data.c3d import read_c3d_markers
from poseviz.data.trc import read_trc_markers, write_trc
from poseviz.skeleton import get_skeleton

HALPE_NAMES = [
    "Hip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Neck", "Head", "Nose",
    "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
]  # fmt: skip


def _write_c3d(path, labels, xyz_m, rate=100.0, units="mm"):
    import ezc3d

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [rate]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(labels)
    c["parameters"]["POINT"]["UNITS"]["value"] = [units]
    scale = {"mm": 1000.0, "m": 1.0, "cm": 100.0}[units]
    pts = np.ones((4, len(labels), xyz_m.shape[0]))
    pts[:3] = xyz_m.transpose(2, 1, 0) * scale
    c["data"]["points"] = pts
    c.write(str(path))
    return path


@pytest.mark.parametrize("units", ["mm", "m"])
def test_c3d_round_trip_units_and_gaps(tmp_path, rng, units):
    xyz = rng.uniform(-1, 2, (6, 3, 3))
    xyz[2:4, 1] = np.nan
    path = _write_c3d(tmp_path / "tiny.c3d", ["Sub:a", "Sub:b", "Sub:c"], xyz, units=units)
    labels, got, rate = read_c3d_markers(path)
    assert labels == ["a", "b", "c"] and rate == 100.0
    np.testing.assert_allclose(got, xyz, atol=1e-5)
    seq = load(path, raw=True)[0]
    assert np.isnan(seq.joints_3d[2:4, 1]).all() and seq.fps == 100.0
    filled = load(path, raw=True, max_gap=2)[0].joints_3d
    np.testing.assert_allclose(filled[2, 1], xyz[1, 1] + (xyz[4, 1] - xyz[1, 1]) / 3, atol=1e-5)
    with pytest.raises(FormatError, match=r"'b'.*gap of 2 frames \(frames 2-3\)"):
        load(path, raw=True, max_gap=1)


def test_c3d_named_keypoints_convert_to_h36m17(tmp_path, rng):
    xyz = rng.uniform(-1, 1, (4, len(HALPE_NAMES), 3))
    seq = load(_write_c3d(tmp_path / "halpe.c3d", HALPE_NAMES, xyz))[0]
    assert seq.skeleton == "h36m17"
    h = get_skeleton("h36m17")
    np.testing.assert_allclose(seq.joints_3d[:, h.index("r_knee")], xyz[:, 2], atol=1e-5)
    np.testing.assert_allclose(
        seq.joints_3d[:, h.index("spine")], (xyz[:, 0] + xyz[:, 7]) / 2, atol=1e-5
    )


def test_c3d_unknown_markers_and_bad_files(tmp_path, rng):
    path = _write_c3d(tmp_path / "odd.c3d", ["foo", "bar"], rng.uniform(size=(3, 2, 3)))
    with pytest.raises(FormatError, match="odd.c3d: marker labels.*raw=True"):
        load(path)
    truncated = tmp_path / "cut.c3d"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(FormatError, match="cut.c3d"):
        load(truncated)


def test_trc_round_trip_mm_with_gaps(tmp_path, rng):
    xyz = rng.uniform(-1, 2, (5, len(HALPE_NAMES), 3))
    xyz[1, 3] = np.nan
    path = write_trc(tmp_path / "p2s.trc", HALPE_NAMES, xyz, 60.0, units="mm")
    names, got, rate = read_trc_markers(path)
    assert names == HALPE_NAMES and rate == 60.0
    np.testing.assert_allclose(got, xyz, atol=1e-9)
    seq = load(path)[0]
    assert seq.skeleton == "h36m17" and np.isnan(seq.joints_3d[1, 3]).all()
    np.testing.assert_allclose(seq.joints_3d[:, 10], xyz[:, 8], atol=1e-9)  # head = Head


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ls: ls[:-2], "NumFrames=5 rows"),
        (lambda ls: ls[:-1] + ["\t".join(ls[-1].split("\t")[:10])], "cells"),
        (lambda ls: [ls[0], ls[1].replace("Units", "Unit"), *ls[2:]], "'Units'"),
        (lambda ls: [ls[0], ls[1], ls[2].replace("\tmm\t", "\tfurlong\t"), *ls[3:]], "length unit"),
        (lambda ls: ls[:3] + [ls[3].rsplit("\t", 3)[0]] + ls[4:], "NumMarkers"),
        (lambda ls: ls[:-1] + [ls[-1].replace("\t", "\tx", 3)], "a number"),
        (lambda ls: ["Hello"] + ls[1:], "PathFileType"),
    ],
)
def test_malformed_trc(tmp_path, rng, mutate, message):
    path = write_trc(
        tmp_path / "a.trc", HALPE_NAMES, rng.uniform(size=(5, 16, 3)), 30.0, units="mm"
    )
    lines = path.read_text().splitlines()
    path.write_text("\n".join(mutate(lines)) + "\n")
    with pytest.raises(FormatError, match=message) as info:
        load(path)
    assert "a.trc" in str(info.value)
