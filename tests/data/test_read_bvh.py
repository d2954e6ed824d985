"""BVH reader: parsing, forward kinematics against scipy, units, CMU clips, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from poseviz.data import FormatError, load
from poseviz.data.bvh import BVH_MAPS, CMU_DAZ_DETECTOR_MAP, CMU_DAZ_MAP, parse_bvh, read_bvh
from poseviz.skeleton import get_skeleton
from tests.data._read_helpers import bone_lengths, implausible_bones

TWO_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 20 0
    }
  }
}
MOTION
Frames: {frames}
Frame Time: 0.04
{rows}
"""


def _write_two_joint(path: Path, values: np.ndarray) -> Path:
    rows = "\n".join(" ".join(f"{v:.10g}" for v in row) for row in values)
    path.write_text(TWO_JOINTS.replace("{frames}", str(len(values))).replace("{rows}", rows))
    return path


def test_two_joint_forward_kinematics_matches_scipy(tmp_path, rng):
    T = 7
    values = np.concatenate([rng.normal(0, 5, (T, 3)), rng.uniform(-180, 180, (T, 6))], axis=1)
    path = _write_two_joint(tmp_path / "two.bvh", values)
    seq = read_bvh(path, raw=True, unit="cm")[0]
    assert seq.fps == pytest.approx(25.0)
    sk = get_skeleton(seq.skeleton)
    assert sk.names == ("Hips", "Arm") and sk.parents == (-1, 0)
    # Independent reference: scipy's intrinsic Euler rotations, chained by hand.
    R_root = Rotation.from_euler("ZXY", values[:, 3:6], degrees=True).as_matrix()
    R_arm = Rotation.from_euler("ZYX", values[:, 6:9], degrees=True).as_matrix()
    root = values[:, :3]
    arm = root + R_root @ np.array([10.0, 0, 0])
    np.testing.assert_allclose(seq.joints_3d[:, 0], root / 100, atol=1e-12)
    np.testing.assert_allclose(seq.joints_3d[:, 1], arm / 100, atol=1e-12)
    # The end site is reachable through a user mapping with the "<joint>_end" name.
    tip = arm + np.einsum("tij,j->ti", R_root @ R_arm, [0.0, 20.0, 0.0])
    from poseviz.data.bvh import bvh_forward_kinematics

    sk_b, vals, _ = parse_bvh(path)
    pos, _ = bvh_forward_kinematics(sk_b, vals)
    np.testing.assert_allclose(pos[:, sk_b.index("Arm_end")], tip, atol=1e-9)


def test_unit_detection_and_override(tmp_path):
    # A 1.75-unit tall stick figure reads as metres; scaled by 100 it reads as centimetres.
    def figure(scale: float) -> str:
        return (
            "HIERARCHY\nROOT r\n{\n OFFSET 0 0 0\n CHANNELS 3 Xposition Yposition Zposition\n"
            f" JOINT a\n {{\n  OFFSET 0 {1.75 * scale} 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
            "  End Site\n  {\n   OFFSET 0 0 0\n  }\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.01\n"
            "0 0 0 0 0 0\n"
        )

    from poseviz.data.bvh import detect_unit

    for scale, unit in ((1.0, "m"), (100.0, "cm"), (1000.0, "mm"), (1.75 / 0.0254 / 1.75, "inch")):
        p = tmp_path / f"s{scale}.bvh"
        p.write_text(figure(scale))
        assert detect_unit(parse_bvh(p)[0]) == unit
        top = read_bvh(p, raw=True)[0].joints_3d[0, 1, 1]
        assert top == pytest.approx(1.75, rel=1e-6)
    p = tmp_path / "tiny.bvh"
    p.write_text(figure(0.01))
    with pytest.raises(FormatError, match="unit="):
        read_bvh(p, raw=True)
    assert read_bvh(p, raw=True, scale=100.0)[0].joints_3d[0, 1, 1] == pytest.approx(1.75)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.replace("MOTION", "MOTIONX"), "MOTION"),
        (lambda t: t.rsplit("\n", 2)[0] + "\n", "truncated"),
        (lambda t: t.replace("Frames: 3", "Frames: x"), "Frames"),
        (
            lambda t: t.replace(
                "CHANNELS 3 Zrotation Yrotation Xrotation", "CHANNELS 3 Zrotation Yrotation"
            ),
            "channel names",
        ),
        (lambda t: t.replace("OFFSET 10 0 0", "OFFSET 10 0"), "OFFSET"),
        (
            lambda t: (
                "\n".join(t.splitlines()[:-1] + [" ".join(t.splitlines()[-1].split()[:-2])]) + "\n"
            ),
            "9 channel values",
        ),
        (lambda t: t.replace("HIERARCHY", "HIERARCH"), "HIERARCHY"),
        (lambda t: t.split("MOTION")[0].rsplit("}", 1)[0], "balanced braces"),
        (lambda t: t.replace("0.5 ", "nan "), "finite"),
    ],
)
def test_malformed_bvh_names_file_and_line(tmp_path, mutate, message):
    values = np.full((3, 9), 0.5)
    good = _write_two_joint(tmp_path / "good.bvh", values).read_text()
    bad = tmp_path / "bad.bvh"
    bad.write_text(mutate(good))
    with pytest.raises(FormatError, match=message) as info:
        read_bvh(bad, raw=True, unit="cm")
    assert "bad.bvh" in str(info.value)


def test_unknown_rig_needs_mapping_or_raw(tmp_path):
    path = _write_two_joint(tmp_path / "two.bvh", np.zeros((2, 9)))
    with pytest.raises(FormatError, match="mapping= or raw=True"):
        read_bvh(path, unit="cm")
    with pytest.raises(FormatError, match="mapping"):
        read_bvh(path, unit="cm", mapping={"pelvis": ("Hips",)})


def test_hips_rig_maps_by_name(tmp_path):
    # A minimal Hips/Spine1/LeftUpLeg-style rig (Mixamo prefix, centimetres) maps to h36m17.
    def joint(name, off, children="", end=None):
        end_site = f"End Site\n{{\nOFFSET {end}\n}}\n" if end else ""
        return f"JOINT mixamorig:{name}\n{{\nOFFSET {off}\nCHANNELS 3 Zrotation Xrotation Yrotation\n{children}{end_site}}}\n"

    def leg(side, x):
        return joint(
            f"{side}UpLeg",
            f"{x} -5 0",
            joint(f"{side}Leg", "0 -42 0", joint(f"{side}Foot", "0 -42 0", end="0 -5 10")),
        )

    def arm(side, x):
        return joint(
            f"{side}Shoulder",
            f"{x / 4} 20 0",
            joint(
                f"{side}Arm",
                f"{x} 0 0",
                joint(
                    f"{side}ForeArm",
                    f"{x * 3} 0 0",
                    joint(f"{side}Hand", f"{x * 2.5} 0 0", end=f"{x} 0 0"),
                ),
            ),
        )

    head = joint("Neck", "0 22 0", joint("Head", "0 10 0", end="0 15 0"))
    spine = joint(
        "Spine", "0 10 0", joint("Spine1", "0 15 0", head + arm("Left", 10) + arm("Right", -10))
    )
    text = (
        "HIERARCHY\nROOT mixamorig:Hips\n{\nOFFSET 0 0 0\nCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        + spine
        + leg("Left", 9)
        + leg("Right", -9)
        + "}\nMOTION\nFrames: 2\nFrame Time: 0.0333333\n"
    )
    n_ch = text.count("CHANNELS 3") * 3 + 6
    text += "\n".join(" ".join(["0"] * n_ch) for _ in range(2)) + "\n"
    path = tmp_path / "mixamo.bvh"
    path.write_text(text)
    seq = load(path)[0]
    assert seq.skeleton == "h36m17" and seq.joints_3d.shape == (2, 17, 3)
    lengths = bone_lengths(seq.joints_3d)
    assert lengths["r_knee"][0] == pytest.approx(0.42) and lengths["l_ankle"][0] == pytest.approx(
        0.42
    )
    assert lengths["l_elbow"][0] == pytest.approx(0.30) and lengths["head"][0] == pytest.approx(
        0.15
    )


def _cmu_clips(shared_data: Path) -> list[Path]:
    clips = sorted((shared_data / "cmu_bvh_acrnn").glob("*/*.bvh"))
    if not clips:
        pytest.skip("no CMU BVH clips in the shared data")
    return clips


def _check_cmu(path: Path) -> None:
    seq = load(path)[0]
    assert seq.skeleton == "h36m17"
    assert np.isfinite(seq.joints_3d).all()
    assert implausible_bones(seq.joints_3d) == [], path
    lengths = bone_lengths(seq.joints_3d)
    for left, right in (
        ("l_knee", "r_knee"),
        ("l_ankle", "r_ankle"),
        ("l_elbow", "r_elbow"),
        ("l_wrist", "r_wrist"),
    ):
        assert np.abs(lengths[left] - lengths[right]).max() < 0.03
    # Y up and metres: the head is typically ~1 m or more above the ankle (crouching
    # martial-arts clips included).
    assert np.nanmedian(seq.joints_3d[:, 10, 1] - seq.joints_3d[:, 3, 1]) > 0.9


def test_cmu_bvh_subset_loads_to_h36m17(shared_data):
    clips = _cmu_clips(shared_data)
    for path in (clips[0], clips[len(clips) // 2]):
        _check_cmu(path)


@pytest.mark.slow
def test_every_cmu_bvh_clip_loads_to_h36m17(shared_data):
    clips = _cmu_clips(shared_data)
    assert len(clips) == 43
    for path in clips:
        _check_cmu(path)


def test_cmu_map_covers_h36m17():
    assert set(CMU_DAZ_MAP) == set(get_skeleton("h36m17").names)
    assert set(CMU_DAZ_DETECTOR_MAP) == set(get_skeleton("h36m17").names)


def test_cmu_detector_map_builds_the_derived_joints_as_detectors_do(shared_data):
    path = _cmu_clips(shared_data)[0]
    default = load(path)[0].joints_3d
    det = load(path, mapping="cmu_daz_detector")[0].joints_3d
    raw_seq = read_bvh(path, raw=True)[0]
    raw = {n: raw_seq.joints_3d[:, k] for k, n in enumerate(get_skeleton(raw_seq.skeleton).names)}
    # Limbs and pelvis unchanged; the derived joints as in CONVERSIONS["blazepose33"].
    derived = [7, 8, 9, 10]  # spine, thorax, neck_nose, head
    others = [j for j in range(17) if j not in derived]
    np.testing.assert_array_equal(det[:, others], default[:, others])
    shoulders = (raw["lShldr"] + raw["rShldr"]) / 2
    np.testing.assert_allclose(det[:, 8], shoulders, atol=1e-9)
    np.testing.assert_allclose(det[:, 7], (shoulders + (raw["lThigh"] + raw["rThigh"]) / 2) / 2)
    np.testing.assert_allclose(det[:, 10], (raw["leftEye"] + raw["rightEye"]) / 2, atol=1e-9)
    np.testing.assert_allclose(default[:, 9], raw["head"], atol=1e-9)  # skull base by default
    # The nose is a point fixed in the head's frame, (0, 4, 11) cm from the head joint:
    # rigid distances to the head joint and to the eyes (eyes at (+-4.15, 8.05, 8.05) cm).
    to_head = np.linalg.norm(det[:, 9] - raw["head"], axis=-1)
    np.testing.assert_allclose(to_head, np.hypot(0.04, 0.11), atol=1e-9)
    to_eyes = np.linalg.norm(det[:, 9] - det[:, 10], axis=-1)
    np.testing.assert_allclose(to_eyes, np.hypot(0.08047 - 0.04, 0.11 - 0.08047), atol=1e-4)
    # In front of the face: the nose is ahead of the head joint in the direction the body
    # faces (Y-up clips: left hip minus right hip, crossed with up) nearly always.
    facing = np.cross(default[:, 4] - default[:, 1], [0.0, 1.0, 0.0])
    assert (np.einsum("td,td->t", det[:, 9] - raw["head"], facing) > 0).mean() > 0.95


def test_named_bvh_maps(tmp_path):
    assert {"cmu_daz", "cmu_daz_detector", "hips"} <= set(BVH_MAPS)
    path = _write_two_joint(tmp_path / "two.bvh", np.zeros((2, 9)))
    with pytest.raises(ValueError, match=r"two\.bvh.*unknown mapping 'nope'.*cmu_daz_detector"):
        read_bvh(path, mapping="nope")
