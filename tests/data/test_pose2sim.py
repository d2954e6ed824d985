"""Pose2Sim / Qualisys calibration: conversion, project-and-triangulate, the real demo rig."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.data import FormatError, load
from poseviz.data.pose2sim import read_qca
from poseviz.geometry import project, triangulate

QCA = """<?xml version='1.0' encoding='ASCII'?>
<calibration source="x" type="regular">
  <cameras>
    <camera active="1" serial="camA">
      <fov_video bottom="1079" left="8" right="1927" top="0"/>
      <transform r11="{r11}" r12="{r12}" r13="{r13}" r21="{r21}" r22="{r22}" r23="{r23}" r31="{r31}" r32="{r32}" r33="{r33}" x="1000" y="-2000" z="1500"/>
      <intrinsic centerPointU="{cu}" centerPointV="{cv}" focalLengthU="{fu}" focalLengthV="{fv}" radialDistortion1="-0.064" radialDistortion2="0.128" radialDistortion3="0" tangentalDistortion1="0.0064" tangentalDistortion2="-0.0032"/>
    </camera>
  </cameras>
</calibration>
"""


def _qca(tmp_path, M):
    values = {f"r{i + 1}{j + 1}": M[i, j] for i in range(3) for j in range(3)}
    text = QCA.format(**values, cu=64 * 968.0, cv=64 * 540.0, fu=64 * 1400.0, fv=64 * 1401.0)
    path = tmp_path / "Calib.qca.txt"
    path.write_text(text)
    return path


def test_qca_conversion_stated_in_the_docstring(tmp_path):
    from scipy.spatial.transform import Rotation

    M = Rotation.from_euler("xyz", [20, -35, 110], degrees=True).as_matrix()
    cam = read_qca(_qca(tmp_path, M))["camA"]
    assert (cam.width, cam.height) == (1920, 1080)
    np.testing.assert_allclose([cam.fx, cam.fy, cam.cx, cam.cy], [1400.0, 1401.0, 960.0, 540.0])
    np.testing.assert_allclose([cam.k1, cam.k2, cam.p1, cam.p2], [-0.001, 0.002, 0.0001, -0.00005])
    np.testing.assert_allclose(cam.R, np.diag([1.0, -1.0, -1.0]) @ M, atol=1e-12)
    np.testing.assert_allclose(cam.center, [1.0, -2.0, 1.5], atol=1e-12)


def test_qca_errors_name_camera_and_attribute(tmp_path):
    path = _qca(tmp_path, np.eye(3))
    path.write_text(path.read_text().replace('focalLengthU="89600.0" ', ""))
    with pytest.raises(
        FormatError, match=r"Calib.qca.txt: camera 'camA' intrinsic attribute 'focalLengthU'"
    ):
        read_qca(path)
    path.write_text(
        QCA.format(
            **{f"r{i}{j}": 2.0 for i in (1, 2, 3) for j in (1, 2, 3)}, cu=1, cv=1, fu=64, fv=64
        )
    )
    with pytest.raises(FormatError, match="orthonormal"):
        read_qca(path)
    path.write_text("<calibration><cameras>")
    with pytest.raises(FormatError, match="XML"):
        read_qca(path)


def test_pose2sim_demo_rig(shared_data):
    seq = load(shared_data / "pose2sim_demo")[0]
    cams = [seq.cameras[c] for c in ("cam01", "cam02", "cam03", "cam04")]
    assert sorted(seq.video) == ["cam01", "cam02", "cam03", "cam04"]
    for cam in cams:
        assert 1.0 < np.linalg.norm(cam.center) < 10.0
        assert cam.R[2] @ (-cam.center) / np.linalg.norm(cam.center) > 0.9  # faces the origin
        assert (cam.width, cam.height) in ((1080, 1920), (1088, 1920))
    rng = np.random.default_rng(1)
    points = rng.uniform([-0.5, -0.5, 0.0], [0.5, 0.5, 1.8], (20, 3))  # a person-sized volume
    pixels = np.stack([project(points, cam) for cam in cams])  # (4, 20, 2)
    back = triangulate(pixels, cams)
    assert np.abs(back - points).max() < 1e-6
