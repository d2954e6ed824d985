"""DeepMimic reader: URDF parsing, forward kinematics (checked against pybullet itself),
world frame, left/right, every real clip's bone lengths, malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseviz.data import load
from poseviz.data._formats import FormatError
from poseviz.data.deepmimic import (
    DEEPMIMIC_TO_WORLD,
    deepmimic_forward_kinematics,
    find_humanoid_urdf,
    find_pybullet_motions,
    load_humanoid,
    parse_deepmimic,
    read_deepmimic,
)
from poseviz.skeleton import get_skeleton
from tests.data._read_helpers import implausible_bones

H36M = get_skeleton("h36m17")
REST = [1.0, 0.0, 0.0, 0.0]


def rest_frame(root=(0.0, 0.9, 0.0), duration=1 / 30, **overrides) -> list[float]:
    """One humanoid3d keyframe in DeepMimic's order; ``overrides`` set joint values."""
    joints = {
        "chest": REST, "neck": REST, "right_hip": REST, "right_knee": [0.0],
        "right_ankle": REST, "right_shoulder": REST, "right_elbow": [0.0], "left_hip": REST,
        "left_knee": [0.0], "left_ankle": REST, "left_shoulder": REST, "left_elbow": [0.0],
    }  # fmt: skip
    joints.update(overrides)
    frame = [duration, *root, *REST]
    for values in joints.values():
        frame.extend(values)
    return frame


def write_motion(path, frames, loop="none"):
    path.write_text(json.dumps({"Loop": loop, "Frames": frames}))
    return path


def test_urdf_is_found_and_parsed_with_deepmimic_scaling():
    model = load_humanoid()
    assert find_humanoid_urdf().name == "humanoid.urdf"
    assert model.names == (
        "root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder",
        "right_elbow", "right_wrist", "left_hip", "left_knee", "left_ankle", "left_shoulder",
        "left_elbow", "left_wrist",
    )  # fmt: skip
    assert model.frame_size == 44
    # humanoid.urdf's numbers times DeepMimic's globalScaling 0.25
    np.testing.assert_allclose(model.offsets[model.names.index("chest")], [0, 0.944604 / 4, 0])
    np.testing.assert_allclose(
        model.offsets[model.names.index("left_shoulder")], [-0.0962 / 4, 0.974 / 4, -0.73244 / 4]
    )
    np.testing.assert_allclose(model.head_center, [0, 0.7 / 4, 0])
    assert model.head_radius == pytest.approx(0.41 / 4)
    assert model.kinds[model.names.index("right_knee")] == "revolute"
    np.testing.assert_array_equal(model.axes[model.names.index("right_knee")], [0, 0, 1])


def test_rest_pose_by_hand(tmp_path):
    """Identity rotations: every link hangs at the URDF offsets (hand-summed here), Z up."""
    path = write_motion(tmp_path / "rest.txt", [rest_frame(), rest_frame()])
    raw = read_deepmimic(path, raw=True)[0].joints_3d[0]
    names = get_skeleton("deepmimic").names
    at = {n: raw[names.index(n)] for n in names}
    # DeepMimic (x, y, z) -> world (x, -z, y); the left hip is at DeepMimic z = -0.339548 / 4
    np.testing.assert_allclose(at["root"], [0, 0, 0.9])
    np.testing.assert_allclose(at["left_hip"], [0, 0.339548 / 4, 0.9])
    np.testing.assert_allclose(at["right_hip"], [0, -0.339548 / 4, 0.9])
    np.testing.assert_allclose(
        at["left_ankle"], [0, 0.339548 / 4, 0.9 - (1.686184 + 1.639480) / 4], atol=1e-12
    )
    neck_z = 0.9 + (0.944604 + 0.895576) / 4
    np.testing.assert_allclose(at["neck"], [0, 0, neck_z])
    np.testing.assert_allclose(at["head_top"], [0, 0, neck_z + (0.7 + 0.41) / 4])
    np.testing.assert_allclose(at["nose"], [0.41 / 4, 0, neck_z + 0.7 / 4])
    np.testing.assert_allclose(
        at["left_wrist"],
        [-0.0962 / 4, 0.73244 / 4, 0.9 + (0.944604 + 0.974 - 1.099152 - 1.035788) / 4],
        atol=1e-12,
    )


def test_forward_kinematics_matches_pybullet():
    """Independent reference: pybullet's own kinematics of the URDF (loaded as DeepMimic
    does: globalScaling 0.25, URDF link order) at frames of the walking clip."""
    pybullet = pytest.importorskip("pybullet")
    model = load_humanoid()
    frames, _ = parse_deepmimic(find_pybullet_motions()[-1])
    ours = deepmimic_forward_kinematics(frames, model) @ DEEPMIMIC_TO_WORLD  # back to Y up
    client = pybullet.connect(pybullet.DIRECT)
    try:
        body = pybullet.loadURDF(
            str(find_humanoid_urdf()),
            globalScaling=0.25,
            flags=pybullet.URDF_MAINTAIN_LINK_ORDER,
            physicsClientId=client,
        )
        n = pybullet.getNumJoints(body, physicsClientId=client)
        info = [pybullet.getJointInfo(body, j, physicsClientId=client) for j in range(n)]
        for f in range(0, len(frames), 5):
            fr = frames[f]
            pybullet.resetBasePositionAndOrientation(
                body, fr[1:4], [*fr[5:8], fr[4]], physicsClientId=client
            )
            col = 8
            for j in range(n):
                if info[j][2] == pybullet.JOINT_SPHERICAL:
                    w, x, y, z = fr[col : col + 4]
                    pybullet.resetJointStateMultiDof(body, j, [x, y, z, w], physicsClientId=client)
                    col += 4
                elif info[j][2] == pybullet.JOINT_REVOLUTE:
                    pybullet.resetJointState(body, j, fr[col], physicsClientId=client)
                    col += 1
            for j in range(n):
                state = pybullet.getLinkState(
                    body, j, computeForwardKinematics=True, physicsClientId=client
                )
                name = info[j][12].decode()
                np.testing.assert_allclose(ours[f, model.names.index(name)], state[4], atol=1e-5)
    finally:
        pybullet.disconnect(client)


def test_knee_bends_backwards_and_matches_urdf_axis(tmp_path):
    frames = [rest_frame(right_knee=[-0.8]), rest_frame(right_knee=[-0.8])]
    raw = read_deepmimic(write_motion(tmp_path / "knee.txt", frames), raw=True)[0].joints_3d[0]
    names = get_skeleton("deepmimic").names
    knee, ankle = raw[names.index("right_knee")], raw[names.index("right_ankle")]
    shank = 1.639480 / 4
    # rotation about DeepMimic +z by -0.8 rad swings the shank to -x (behind the knee)
    np.testing.assert_allclose(ankle - knee, [-shank * np.sin(0.8), 0, -shank * np.cos(0.8)])


@pytest.fixture(scope="module")
def pybullet_clips():
    return {p.stem: read_deepmimic(p)[0] for p in find_pybullet_motions()}


def test_all_pybullet_clips_load_with_plausible_bones(pybullet_clips):
    assert len(pybullet_clips) == 15
    for name, seq in pybullet_clips.items():
        assert seq.skeleton == "h36m17" and seq.joints_3d.shape[1:] == (17, 3)
        assert seq.subject == "deepmimic" and name.endswith(seq.action)
        assert implausible_bones(seq.joints_3d) == [], name
        # Z up, floor at 0: ankles stay near the floor level, nothing far below it
        assert seq.joints_3d[..., 2].min() > -0.1, name
    assert pybullet_clips["humanoid3d_walk"].fps == 30
    assert pybullet_clips["humanoid3d_jump"].fps == 60
    standing = pybullet_clips["humanoid3d_walk"].joints_3d
    assert (standing[:, 10, 2] > standing[:, 0, 2] + 0.5).all()  # head well above pelvis


def test_left_and_right_are_not_swapped(pybullet_clips):
    # the URDF's left_* links become h36m17's l_* joints
    assert [get_skeleton("deepmimic").names[i] for i in (9, 10, 11, 12, 13, 14)] == [
        "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow", "left_wrist",
    ]  # fmt: skip
    # the clips that list their mirror joints agree with the URDF names
    data = json.loads(find_pybullet_motions()[11].read_text())  # humanoid3d_run
    model = load_humanoid()
    assert all(model.names[j].startswith("left_") for j in data["LeftJoints"])
    assert all(model.names[j].startswith("right_") for j in data["RightJoints"])
    # walking forward, the left foot and hand move on the walker's left side
    J = pybullet_clips["humanoid3d_walk"].joints_3d
    heading = J[-1, 0] - J[0, 0]
    heading[2] = 0
    left = np.cross([0, 0, 1], heading / np.linalg.norm(heading))
    lateral = (J - J[:, :1]) @ left
    assert (lateral[:, H36M.index("l_ankle")] > lateral[:, H36M.index("r_ankle")]).all()
    assert (lateral[:, H36M.index("l_wrist")] > 0.1).all()
    assert (lateral[:, H36M.index("r_wrist")] < -0.1).all()
    # and the face (nose) looks where the walker goes
    assert ((J[:, 9] - J[:, 8]) @ (heading / np.linalg.norm(heading)) > 0.05).all()


def test_cmu_deepmimic_clips(shared_data):
    clips = sorted((shared_data / "cmu_deepmimic_jump" / "clips").rglob("*.txt"))
    assert len(clips) == 84
    frames = 0
    for path in clips:
        seq = load(path)[0]
        assert seq.skeleton == "h36m17"
        assert implausible_bones(seq.joints_3d) == [], path.name
        # Z up, floor at 0: the lowest joint is usually near the floor (retargeting lets a
        # foot dip up to ~0.2 m below it in a few frames)
        lowest = seq.joints_3d[..., 2].min(axis=1)
        assert 0.0 < np.median(lowest) < 0.4 and lowest.min() > -0.25, path.name
        frames += seq.num_frames
    assert 8000 < frames < 12000
    # the folder loader serves the same reader
    assert len(load(shared_data / "cmu_deepmimic_jump")) == 84


def test_irregular_durations_are_resampled(tmp_path):
    # keyframes at t = 0, 0.1, 0.3, 0.4 (one doubled step); root x = 10 t
    times = [0.0, 0.1, 0.3, 0.4]
    frames = [
        rest_frame(root=(10 * t, 0.9, 0.0), duration=d)
        for t, d in zip(times, [0.1, 0.2, 0.1, 0.0], strict=True)
    ]
    seq = read_deepmimic(write_motion(tmp_path / "irregular.txt", frames))[0]
    assert seq.fps == 10 and seq.num_frames == 5
    np.testing.assert_allclose(seq.joints_3d[:, 0, 0], [0.0, 1.0, 2.0, 3.0, 4.0], atol=1e-12)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "file: expected DeepMimic motion JSON"),
        (json.dumps({"Loop": "none"}), "Frames: expected a JSON object with 'Loop' and 'Frames'"),
        (json.dumps({"Loop": "none", "Frames": []}), "Frames: expected a non-empty list"),
        (json.dumps({"Loop": "none", "Frames": [[0.1] * 43]}), r"Frames\[0\]: expected 44 numbers"),
        (
            json.dumps({"Loop": "none", "Frames": [rest_frame(), rest_frame()[:-1]]}),
            r"Frames\[1\]: expected 44 numbers.*got 43",
        ),
        (
            '{"Loop": "none", "Frames": [' + json.dumps(rest_frame()).replace("0.9", "NaN") + "]}",
            r"Frames\[0\]\[2\]: expected a finite number",
        ),
        (
            json.dumps({"Loop": "none", "Frames": [rest_frame(chest=[0, 0, 0, 0])]}),
            r"Frames\[0\] chest rotation: expected a non-zero quaternion",
        ),
    ],
)
def test_malformed_motion_files(tmp_path, content, match):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(FormatError, match=match) as err:
        read_deepmimic(path)
    assert "bad.txt" in str(err.value)


def test_malformed_urdf(tmp_path):
    bad = tmp_path / "robot.urdf"
    bad.write_text("<robot><joint name='a' type='fixed'><parent link='base'/></joint></robot>")
    with pytest.raises(FormatError, match="robot.urdf: joint 'a': expected <parent> and <child>"):
        load_humanoid(bad)
    bad.write_text("<robot")
    with pytest.raises(FormatError, match="robot.urdf: file: expected a URDF"):
        load_humanoid(bad)
