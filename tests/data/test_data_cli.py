"""``poseviz data info`` and ``poseviz data demo``."""

from __future__ import annotations

import sys
import types

import numpy as np

from poseviz.cli import main
from poseviz.data.keypoints import write_keypoints


def test_data_info_prints_what_is_inside(tmp_path, rng, capsys):
    data = {
        "S1": {"Walking 1": rng.normal(size=(12, 32, 3)), "Eating": rng.normal(size=(5, 32, 3))},
        "S9": {"Sitting": rng.normal(size=(7, 32, 3))},
    }
    path = tmp_path / "data_3d_h36m.npz"
    np.savez(path, positions_3d=data)
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format h36m, 3 sequence(s)" in out
    assert "subjects: S1 (2), S9 (1)" in out
    assert "actions:  Eating, Sitting, Walking 1" in out
    assert "frames:   24" in out
    assert "54138969" in out and "layout:   h36m17 (17 joints)" in out
    assert main(["data", "info", str(path), "-o", "raw=true"]) == 0
    assert "h36m32 (32 joints)" in capsys.readouterr().out


def test_data_info_bad_file_is_a_clean_error(tmp_path, capsys):
    bad = tmp_path / "x.trc"
    bad.write_text("nonsense\n")
    assert main(["data", "info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "x.trc" in err and "PathFileType" in err and "Traceback" not in err


def test_data_info_keypoints_2d(tmp_path, rng, capsys):
    path = write_keypoints(tmp_path / "k.csv", rng.uniform(0, 100, (4, 17, 2)), "coco17")
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2D in 1" in out and "cam0" in out


def test_data_demo_calls_load_demo_lazily(monkeypatch, capsys):
    from poseviz.structures import PoseSequence

    calls = []
    fake = types.ModuleType("poseviz.data.demo")

    def load_demo(*, rebuild=False, progress=True):
        calls.append((rebuild, progress))
        return [
            PoseSequence(
                "demo/walk", "demo", "walk", 30.0, "h36m17", joints_3d=np.zeros((3, 17, 3))
            )
        ]

    fake.load_demo = load_demo
    monkeypatch.setitem(sys.modules, "poseviz.data.demo", fake)
    assert main(["data", "demo", "--quiet"]) == 0
    assert calls == [(False, False)] and "1 sequence(s)" in capsys.readouterr().out


def test_data_demo_without_builder_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "poseviz.data.demo", None)  # import fails
    assert main(["data", "demo"]) == 1
    assert "poseviz.data.demo" in capsys.readouterr().err
