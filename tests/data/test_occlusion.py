"""Occlusion labels (capsule method, seed 000 §5.2) and severity (§5.1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poseviz.data.batch import SEVERITIES
from poseviz.data.occlusion import (
    H36M17_CAPSULES,
    body_capsules,
    capsule_segments,
    covered_parts,
    label_sequence,
    occlusion_labels,
    occlusion_severity,
    part_names,
    severity_names,
)
from poseviz.geometry import camera_to_world
from poseviz.skeleton import get_skeleton
from poseviz.structures import Camera, PoseSequence
from tests.data._poses import BACK, FRONT, LEFT_SIDE, STANDING, TOP, camera, random_poses, to_camera

H36M = get_skeleton("h36m17")
J = {name: i for i, name in enumerate(H36M.names)}


def occluded_names(joints_cam: np.ndarray, **kwargs) -> set[str]:
    occ = occlusion_labels(joints_cam[None], camera(), **kwargs)[0]
    return {H36M.names[j] for j in np.flatnonzero(occ)}


def with_left_wrist(position) -> np.ndarray:
    body = STANDING.copy()
    body[J["l_elbow"]] = [0.20, 1.20, -0.10]
    body[J["l_wrist"]] = position
    return body


# --- hand-built poses ------------------------------------------------------------------------


def test_standing_pose_seen_from_the_front_has_no_occlusion():
    assert occluded_names(to_camera(STANDING, FRONT)) == set()


def test_wrist_behind_the_torso_is_occluded_and_in_front_is_not():
    behind = with_left_wrist([0.03, 1.10, -0.17])  # behind the lower back
    front = with_left_wrist([0.03, 1.10, 0.20])  # in front of the belly
    assert "l_wrist" in occluded_names(to_camera(behind, FRONT))
    assert "l_wrist" not in occluded_names(to_camera(front, FRONT))
    # Seen from behind, the roles swap.
    assert "l_wrist" not in occluded_names(to_camera(behind, BACK))
    assert "l_wrist" in occluded_names(to_camera(front, BACK))


def test_side_view_hides_the_far_arm_and_leg_but_not_the_near_ones():
    hidden = occluded_names(to_camera(STANDING, LEFT_SIDE))  # camera at the person's left
    assert {"r_shoulder", "r_elbow", "r_wrist", "r_knee", "r_ankle"} <= hidden
    assert not hidden & {"l_shoulder", "l_elbow", "l_wrist", "l_knee", "l_ankle", "head"}


def test_hand_behind_the_head_is_hidden_by_the_head():
    body = STANDING.copy()
    body[J["r_elbow"]] = [-0.25, 1.55, -0.10]
    body[J["r_wrist"]] = [-0.02, 1.68, -0.16]  # behind the back of the head
    assert occluded_names(to_camera(body, FRONT)) == {"r_wrist"}
    assert "r_wrist" not in occluded_names(to_camera(body, BACK))


def test_back_view_of_the_standing_pose_has_no_occlusion():
    # Joint 9 (neck/nose) belongs to the neck and head segments, so the head never hides
    # it: from behind its front surface is the back of the neck.
    assert occluded_names(to_camera(STANDING, BACK)) == set()


def test_adjacent_bone_occludes_but_own_bone_does_not():
    # Forearm folded straight back behind the upper arm, seen from the front: the wrist
    # hides behind the upper arm (adjacent bone), the elbow is not hidden by its own bones.
    body = STANDING.copy()
    body[J["l_elbow"]] = [0.22, 1.17, 0.0]
    body[J["l_wrist"]] = [0.22, 1.30, -0.12]
    hidden = occluded_names(to_camera(body, FRONT))
    assert "l_wrist" in hidden
    assert "l_elbow" not in hidden


def test_thin_radii_remove_occlusion_and_radii_are_validated():
    behind = to_camera(with_left_wrist([0.03, 1.10, -0.17]), FRONT)
    thin = {c.name: 0.005 for c in H36M17_CAPSULES}
    assert "l_wrist" in occluded_names(behind)
    assert "l_wrist" not in occluded_names(behind, radii=thin)
    with pytest.raises(ValueError, match="unknown capsule names"):
        body_capsules("h36m17", {"tail": 0.1})
    with pytest.raises(ValueError, match="positive radii"):
        body_capsules("h36m17", {"head": -1.0})


def test_capsule_segments_apply_the_inset():
    capsules = body_capsules("h36m17")
    k = [c.name for c in capsules].index("upper_spine")
    pose = to_camera(STANDING, FRONT)
    a, b = capsule_segments(pose, capsules)
    assert np.allclose(a[k], pose[J["spine"]])
    # the segment stops capsules[k].inset_b short of the thorax, toward the spine joint
    assert np.linalg.norm(b[k] - pose[J["thorax"]]) == pytest.approx(capsules[k].inset_b)
    assert np.linalg.norm(b[k] - a[k]) == pytest.approx(0.25 - capsules[k].inset_b)
    folded = pose.copy()
    folded[J["thorax"]] = folded[J["spine"]] + [0.0, 0.0, 0.05]  # shorter than the inset
    a, b = capsule_segments(folded, capsules)
    assert np.allclose(b[k], a[k])
    others = [i for i in range(len(capsules)) if i != k]
    assert np.allclose(b[others], folded[[capsules[i].b for i in others]])


def test_labels_do_not_depend_on_intrinsics():
    x = random_poses(np.random.default_rng(3), 50)
    wide = Camera(id="w", width=640, height=480, fx=300, fy=320, cx=300, cy=250, k1=-0.2)
    assert np.array_equal(occlusion_labels(x, camera()), occlusion_labels(x, wide))


def test_nan_joints_are_not_occluded_and_do_not_occlude():
    behind = to_camera(with_left_wrist([0.03, 1.10, -0.17]), FRONT)
    x = np.stack([behind, behind])
    x[1, [J["spine"], J["pelvis"]]] = np.nan  # the occluding spine capsules vanish
    x[0, J["r_wrist"]] = np.nan
    occ = occlusion_labels(x, camera())
    assert not occ[0, J["r_wrist"]] and occ[0, J["l_wrist"]]
    assert not occ[1, J["spine"]] and not occ[1, J["l_wrist"]]


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match=r"expected joints_cam of shape \(T, 17, 3\)"):
        occlusion_labels(np.zeros((4, 16, 3)), camera())
    behind_camera = to_camera(STANDING, FRONT)[None].copy()
    behind_camera[0, 3, 2] = -1.0
    with pytest.raises(ValueError, match="joint 3 in frame 0 .* not in front of the camera"):
        occlusion_labels(behind_camera, camera())
    with pytest.raises(ValueError, match="expected occluded of shape"):
        occlusion_severity(np.zeros((3, 5), bool))


def test_label_sequence_labels_every_camera_from_world_joints():
    behind = with_left_wrist([0.03, 1.10, -0.17])
    front_cam = Camera(id="front", width=1000, height=1000, fx=1100, fy=1100, cx=500, cy=500,
                       R=FRONT, t=[0, 1.0, 4.0])  # fmt: skip
    back_cam = Camera(id="back", width=1000, height=1000, fx=1100, fy=1100, cx=500, cy=500,
                      R=BACK, t=[0, 1.0, 4.0])  # fmt: skip
    seq = PoseSequence("s", "S1", "test", 50.0, "h36m17", joints_3d=behind[None],
                       cameras={"front": front_cam, "back": back_cam})  # fmt: skip
    labels = label_sequence(seq)
    assert labels["front"][0, J["l_wrist"]] and not labels["back"][0, J["l_wrist"]]
    # The world -> camera transform is the one the hand-built views use.
    assert np.allclose(camera_to_world(to_camera(behind, FRONT), front_cam), behind)
    with pytest.raises(ValueError, match="no camera 'side'"):
        label_sequence(seq, cameras=["side"])


# --- independent reference: ray-capsule entry distance, one joint and capsule at a time -----


def _ray_enters_before(direction, length, a, b, r) -> bool:
    """True if the ray from the origin along unit ``direction`` enters the capsule a-b before
    travelling ``length``: solved as ray/sphere and ray/cylinder quadratics."""
    entries = []
    for centre in (a, b):  # the two spherical ends: |t d - c|^2 = r^2
        half_b = direction @ centre
        disc = half_b**2 - (centre @ centre - r * r)
        if disc >= 0:
            entries.append(half_b - math.sqrt(disc))
    axis = b - a
    length_axis = np.linalg.norm(axis)
    if length_axis > 0:  # the side of the cylinder, kept where the hit is between the ends
        u = axis / length_axis
        dp = direction - (direction @ u) * u
        ap = -a - (-a @ u) * u
        qa, qb, qc = dp @ dp, 2 * dp @ ap, ap @ ap - r * r
        disc = qb * qb - 4 * qa * qc
        if qa > 0 and disc >= 0:
            t = (-qb - math.sqrt(disc)) / (2 * qa)
            along = (t * direction - a) @ u
            if 0 <= along <= length_axis:
                entries.append(t)
    entries = [t for t in entries if t >= 0]
    return bool(entries) and min(entries) < length


def reference_labels(joints_cam: np.ndarray) -> np.ndarray:
    capsules = H36M17_CAPSULES
    out = np.zeros(joints_cam.shape[:2], bool)
    for t, pose in enumerate(joints_cam):
        seg_a, seg_b = capsule_segments(pose, capsules)
        for j in range(17):
            own_groups = {c.group for c in capsules if j in (c.a, c.b)}
            front = min(c.radius for c in capsules if j in (c.a, c.b))
            dist = np.linalg.norm(pose[j])
            for k, c in enumerate(capsules):
                if c.group in own_groups:
                    continue
                if _ray_enters_before(pose[j] / dist, dist - front, seg_a[k], seg_b[k], c.radius):
                    out[t, j] = True
                    break
    return out


def test_matches_a_per_joint_per_capsule_ray_reference_on_random_poses():
    x = random_poses(np.random.default_rng(0), 300)
    fast = occlusion_labels(x, camera(), chunk=64)  # several chunks
    ref = reference_labels(x)
    assert 0.05 < ref.mean() < 0.6  # the poses exercise both outcomes
    np.testing.assert_array_equal(fast, ref)


def test_other_layouts_get_one_capsule_per_bone():
    coco = get_skeleton("coco17")
    capsules = body_capsules(coco)
    assert len(capsules) == len(coco.bones)
    x = np.random.default_rng(1).normal([0, 0, 4], 0.4, (20, coco.num_joints, 3))
    assert occlusion_labels(x, None, skeleton=coco).shape == (20, coco.num_joints)


# --- severity ---------------------------------------------------------------------------------


def _frame(*names: str) -> np.ndarray:
    occ = np.zeros(17, bool)
    occ[[J[n] for n in names]] = True
    return occ


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ((), "none"),
        (("l_wrist",), "joint"),
        (("l_wrist", "r_ankle", "head", "pelvis"), "joint"),  # 4 joints, no part covered
        (("l_elbow", "l_wrist"), "body_part"),  # 2 of 3 left-arm joints: arm covered
        (("spine", "thorax", "neck_nose"), "body_part"),  # 3 of 4 spine joints
        (("pelvis", "l_wrist", "r_wrist", "l_knee", "r_knee", "head"), "body_part"),  # 6 joints
        (("l_elbow", "l_wrist", "r_elbow", "r_wrist"), "body_part"),  # two parts
        (("l_elbow", "l_wrist", "r_elbow", "r_wrist", "r_knee", "r_ankle"), "half_body"),
        (tuple(H36M.names), "half_body"),
    ],
)
def test_severity_of_constructed_frames(names, expected):
    assert SEVERITIES[occlusion_severity(_frame(*names)[None])[0]] == expected


def test_covered_parts_counts_a_majority_of_each_part():
    occ = np.stack(
        [_frame("spine", "thorax"), _frame("spine", "thorax", "head"), _frame("l_ankle")]
    )
    cov = covered_parts(occ)
    names = part_names()
    assert names == ("left_arm", "right_arm", "left_leg", "right_leg", "spine")
    assert cov.tolist() == [[False] * 5, [False, False, False, False, True], [False] * 5]


def test_severity_of_views_of_the_standing_pose():
    views = np.stack([to_camera(STANDING, v) for v in (FRONT, BACK, LEFT_SIDE, TOP)])
    sev = occlusion_severity(occlusion_labels(views, camera()))
    # front and back: all visible; side: the far arm and leg; from above: both arms and
    # both legs below the shoulders and hips.
    assert list(severity_names(sev)) == ["none", "none", "body_part", "half_body"]
    assert sev.dtype == np.int64
