"""Plug-in-Gait joint centres: constructed cases and the real tennis-serve C3D."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.data import load
from poseviz.skeleton.plugin_gait import (
    PLUGIN_GAIT_MARKERS,
    PluginGaitOptions,
    _chord,
    is_plugin_gait,
    plugin_gait_to_h36m17,
)
from tests.data._read_helpers import bone_lengths, implausible_bones


def _standing_markers() -> dict[str, np.ndarray]:
    """A hand-built standing subject (metres; x right, y forward, z up), one frame."""
    m = {
        "LASI": (-0.12, 0.08, 1.00), "RASI": (0.12, 0.08, 1.00),
        "LPSI": (-0.05, -0.10, 1.02), "RPSI": (0.05, -0.10, 1.02),
        "LTHI": (-0.16, 0.01, 0.75), "RTHI": (0.16, 0.01, 0.75),
        "LKNE": (-0.14, 0.0, 0.52), "RKNE": (0.14, 0.0, 0.52),
        "LTIB": (-0.13, 0.01, 0.30), "RTIB": (0.13, 0.01, 0.30),
        "LANK": (-0.13, -0.01, 0.09), "RANK": (0.13, -0.01, 0.09),
        "C7": (0.0, -0.08, 1.50), "T10": (0.0, -0.10, 1.28), "CLAV": (0.0, 0.07, 1.45),
        "STRN": (0.0, 0.10, 1.30), "LSHO": (-0.19, 0.0, 1.47), "RSHO": (0.19, 0.0, 1.47),
        "LELB": (-0.23, -0.02, 1.18), "RELB": (0.23, -0.02, 1.18),
        "LWRA": (-0.22, 0.12, 1.05), "LWRB": (-0.26, 0.09, 1.04),
        "RWRA": (0.22, 0.12, 1.05), "RWRB": (0.26, 0.09, 1.04),
        "LFHD": (-0.06, 0.09, 1.66), "RFHD": (0.06, 0.09, 1.66),
        "LBHD": (-0.06, -0.09, 1.68), "RBHD": (0.06, -0.09, 1.68),
    }  # fmt: skip
    return {k: np.asarray(v, dtype=np.float64)[None] for k, v in m.items()}


def test_harrington_hip_centres_on_a_built_pelvis():
    m = _standing_markers()
    J = plugin_gait_to_h36m17(m)
    # Pelvis frame by hand: x anterior (+y world), y superior (+z world, PSIS slightly
    # higher tilts it), z right (+x world).
    asis = (m["LASI"][0] + m["RASI"][0]) / 2
    psis = (m["LPSI"][0] + m["RPSI"][0]) / 2
    z = np.array([1.0, 0, 0])
    y = np.cross(z, asis - psis)
    y /= np.linalg.norm(y)
    x = np.cross(y, z)
    pw, pd = 240.0, np.linalg.norm(asis - psis) * 1000
    for side, idx in ((1, 1), (-1, 4)):  # r_hip, l_hip
        local = np.array([-0.24 * pd - 9.9, -0.30 * pw - 10.9, side * (0.33 * pw + 7.3)]) / 1000
        np.testing.assert_allclose(
            J[0, idx], asis + local[0] * x + local[1] * y + local[2] * z, atol=1e-12
        )
    np.testing.assert_allclose(J[0, 0], (J[0, 1] + J[0, 4]) / 2)
    assert implausible_bones(J) == []


def test_chord_rule_geometry(rng):
    P = rng.normal(size=(50, 3))
    M = P + rng.normal(size=(50, 3)) * 0.4
    W = M + rng.normal(size=(50, 3)) * 0.2
    medial = rng.normal(size=(50, 3))
    d = 0.06
    Jc = _chord(P, W, M, d, medial)
    np.testing.assert_allclose(np.linalg.norm(Jc - M, axis=-1), d, atol=1e-12)
    np.testing.assert_allclose(np.sum((P - Jc) * (Jc - M), axis=-1), 0, atol=1e-12)
    normal = np.cross(W - P, M - P)
    np.testing.assert_allclose(np.sum((Jc - P) * normal, axis=-1), 0, atol=1e-12)  # in plane
    u = (M - P) / np.linalg.norm(M - P, axis=-1, keepdims=True)
    w = (Jc - M) - np.sum((Jc - M) * u, -1, keepdims=True) * u
    assert (np.sum(w * medial, axis=-1) >= -1e-12).all()


def test_knee_and_ankle_are_medial_and_widths_matter():
    m = _standing_markers()
    J = plugin_gait_to_h36m17(m)
    assert J[0, 2, 0] < m["RKNE"][0, 0] and J[0, 5, 0] > m["LKNE"][0, 0]
    assert J[0, 3, 0] < m["RANK"][0, 0] and J[0, 6, 0] > m["LANK"][0, 0]
    wide = plugin_gait_to_h36m17(m, PluginGaitOptions(knee_width=0.12))
    assert np.linalg.norm(wide[0, 2] - m["RKNE"][0]) == pytest.approx(0.06 + 0.007)
    with pytest.raises(ValueError, match="knee_width"):
        PluginGaitOptions(knee_width=-1)


def test_missing_marker_is_named():
    m = _standing_markers()
    del m["RKNE"]
    assert not is_plugin_gait(list(m))
    with pytest.raises(ValueError, match="RKNE"):
        plugin_gait_to_h36m17(m)
    m = _standing_markers()
    m["RTIB"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match="RTIB"):
        plugin_gait_to_h36m17(m)
    assert is_plugin_gait([f"Bob:{k}" for k in PLUGIN_GAIT_MARKERS])


def test_tennis_serve_bone_lengths(shared_data):
    path = shared_data / "ktk_tennis_serve" / "kinematics_tennis_serve.c3d"
    seq = load(path)[0]
    assert seq.skeleton == "h36m17" and seq.num_frames == 1092 and seq.fps == 50.0
    assert np.isfinite(seq.joints_3d).all()
    b = bone_lengths(seq.joints_3d)
    for name in ("r_knee", "l_knee", "r_ankle", "l_ankle"):  # thighs and shanks
        assert b[name].min() >= 0.30 and b[name].max() <= 0.55, name
    # Left/right limb lengths (mean over all 1092 frames) within 3 cm.
    for left, right in (
        ("l_knee", "r_knee"),
        ("l_ankle", "r_ankle"),
        ("l_elbow", "r_elbow"),
        ("l_wrist", "r_wrist"),
    ):
        assert abs(b[left].mean() - b[right].mean()) < 0.03, (left, right)
    # Per frame, the thighs agree within 3 cm everywhere.
    assert np.abs(b["l_knee"] - b["r_knee"]).max() < 0.03
    # Subject upright: head above pelvis above ankles (Z up in this lab).
    assert (seq.joints_3d[:, 10, 2] > seq.joints_3d[:, 0, 2]).all()
