"""Overlay MP4 export: frames read back with OpenCV, the 3D panel's rotation, and no file
left behind by a failed or interrupted export."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from poseviz.viz import render
from poseviz.viz.render import draw_pose_3d, write_overlay_video

T = 10


def _video(path, frames=T, size=(200, 150)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 20.0, size)
    for _ in range(frames):
        w.write(np.full((size[1], size[0], 3), 90, dtype=np.uint8))
    w.release()
    return path


def _poses(rng):
    j2 = rng.uniform([40, 30], [160, 120], size=(T, 17, 2))
    j3 = rng.normal(scale=0.3, size=(T, 17, 3))
    j3 -= j3[:, :1]
    return j2, j3


def test_overlay_video_reads_back(tmp_path, rng):
    src = _video(tmp_path / "src.mp4")
    j2, j3 = _poses(rng)
    conf = np.ones((T, 17))
    conf[4] = 0  # a filled-in frame
    out = write_overlay_video(
        tmp_path / "o.mp4", src, j2, j3, confidence=conf, panel_height=240, progress=False
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4", "src.mp4"]
    cap = cv2.VideoCapture(str(out))
    frames = []
    while (f := cap.read())[0]:
        frames.append(f[1])
    cap.release()
    assert len(frames) == T
    h, w = frames[0].shape[:2]
    assert (h, w) == (240, 320 + 240)  # video scaled to 320x240, beside a 240x240 panel
    left, right = frames[0][:, :320].astype(int), frames[0][:, 320:].astype(int)
    assert np.abs(left - 90).max() > 100  # the 2D skeleton was drawn on the frame
    assert (right.max(-1) > 150).sum() > 20  # white joints in the 3D panel


def test_draw_pose_3d_turns_about_the_vertical_axis():
    pose = np.zeros((17, 3))
    pose[16] = [0.5, 0.0, 0.0]  # the right wrist half a metre to the right of the pelvis
    size, scale = 200, 100.0

    def white_columns(img):
        return np.flatnonzero((img[100] > 200).all(-1))

    front = draw_pose_3d(pose, size=(size, size), azimuth=0, elevation=0, scale=scale)
    side = draw_pose_3d(pose, size=(size, size), azimuth=90, elevation=0, scale=scale)
    assert abs(white_columns(front).max() - (size / 2 + 0.5 * scale)) <= 3
    assert abs(white_columns(side).max() - size / 2) <= 3  # seen edge-on


def test_failed_or_interrupted_export_leaves_no_file(tmp_path, rng, monkeypatch):
    src = _video(tmp_path / "src.mp4", frames=4)
    j2, j3 = _poses(rng)
    with pytest.raises(ValueError, match="frame 4 does not decode"):
        write_overlay_video(tmp_path / "o.mp4", src, j2, j3, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["src.mp4"]

    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.zeros((kwargs["size"][1], kwargs["size"][0], 3), np.uint8)

    monkeypatch.setattr(render, "draw_pose_3d", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_overlay_video(tmp_path / "o.mp4", src, j2[:4], j3[:4], progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["src.mp4"]
    with pytest.raises(ValueError, match=r"joints_2d \(T, J, 2\) and joints_3d"):
        write_overlay_video(tmp_path / "o.mp4", src, j2, j3[:3], progress=False)
