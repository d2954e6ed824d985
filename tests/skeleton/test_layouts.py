import numpy as np
import pytest
import torch

from poseviz.skeleton import convert, flip_pose, get_skeleton, list_skeletons

H36M_NAMES = [
    "pelvis",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "spine",
    "thorax",
    "neck_nose",
    "head",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
]


def test_h36m17_is_pinned():
    sk = get_skeleton("h36m17")
    assert list(sk.names) == H36M_NAMES
    assert list(sk.parents) == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
    assert list(sk.left) == [4, 5, 6, 11, 12, 13]
    assert list(sk.right) == [1, 2, 3, 14, 15, 16]
    parts = {k: (v.origin, v.joints) for k, v in sk.body_parts.items()}
    assert parts == {
        "left_arm": (8, (11, 12, 13)),
        "right_arm": (8, (14, 15, 16)),
        "left_leg": (0, (4, 5, 6)),
        "right_leg": (0, (1, 2, 3)),
        "spine": (0, (7, 8, 9, 10)),
    }
    assert sk.hops("spine") == ((0, 7), (0, 8), (0, 9), (0, 10))
    assert len(sk.bones) == 16 and len(sk.symmetric_bones) == 6


def test_skeleton_is_frozen():
    sk = get_skeleton("h36m17")
    with pytest.raises(AttributeError):
        sk.parents = ()
    with pytest.raises(TypeError):
        sk.body_parts["extra"] = None


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown skeleton layout 'no_such_layout'.*known layouts"):
        get_skeleton("no_such_layout")


@pytest.mark.parametrize(
    "name", ["h36m17", "coco17", "blazepose33", "mpi_inf_3dhp17", "openpose_body25", "deepmimic"]
)
def test_every_layout_is_registered_with_consistent_sides(name):
    sk = get_skeleton(name)
    assert name in list_skeletons()
    for lj, rj in zip(sk.left, sk.right, strict=True):
        assert sk.names[lj].replace("left", "right").replace("l_", "r_", 1) == sk.names[rj]


def test_flip_twice_is_identity_and_swaps_arms(rng):
    sk = get_skeleton("h36m17")
    pose = rng.normal(size=(5, 17, 3))
    flipped = flip_pose(pose, sk)
    np.testing.assert_array_equal(flip_pose(flipped, sk), pose)
    left_arm, right_arm = [11, 12, 13], [14, 15, 16]
    np.testing.assert_array_equal(flipped[:, left_arm, 0], -pose[:, right_arm, 0])
    np.testing.assert_array_equal(flipped[:, left_arm, 1:], pose[:, right_arm, 1:])
    t = torch.as_tensor(pose)
    torch.testing.assert_close(flip_pose(t, sk), torch.as_tensor(flipped))


def test_flip_rejects_wrong_joint_count():
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 17, C\)"):
        flip_pose(np.zeros((4, 16, 3)), get_skeleton("h36m17"))


def _expected(src: np.ndarray, recipe: dict[int, list[int]]) -> np.ndarray:
    """Reference conversion written from each format's documentation, index by index."""
    return np.stack([src[..., recipe[j], :].mean(-2) for j in range(17)], -2)


# h36m17 joint -> source indices, from each format's published keypoint order.
REFERENCE = {
    "coco17": {
        0: [11, 12],
        1: [12],
        2: [14],
        3: [16],
        4: [11],
        5: [13],
        6: [15],
        7: [11, 12, 5, 6],
        8: [5, 6],
        9: [0],
        10: [1, 2],
        11: [5],
        12: [7],
        13: [9],
        14: [6],
        15: [8],
        16: [10],
    },
    "blazepose33": {
        0: [23, 24],
        1: [24],
        2: [26],
        3: [28],
        4: [23],
        5: [25],
        6: [27],
        7: [23, 24, 11, 12],
        8: [11, 12],
        9: [0],
        10: [2, 5],
        11: [11],
        12: [13],
        13: [15],
        14: [12],
        15: [14],
        16: [16],
    },
    "mpi_inf_3dhp17": {
        0: [14],
        1: [8],
        2: [9],
        3: [10],
        4: [11],
        5: [12],
        6: [13],
        7: [15],
        8: [1],
        9: [16],
        10: [0],
        11: [5],
        12: [6],
        13: [7],
        14: [2],
        15: [3],
        16: [4],
    },
    "openpose_body25": {
        0: [8],
        1: [9],
        2: [10],
        3: [11],
        4: [12],
        5: [13],
        6: [14],
        7: [8, 1],
        8: [1],
        9: [0],
        10: [15, 16],
        11: [5],
        12: [6],
        13: [7],
        14: [2],
        15: [3],
        16: [4],
    },
    "deepmimic": {
        0: [0],
        1: [3],
        2: [4],
        3: [5],
        4: [9],
        5: [10],
        6: [11],
        7: [1],
        8: [2],
        9: [16],
        10: [15],
        11: [12],
        12: [13],
        13: [14],
        14: [6],
        15: [7],
        16: [8],
    },
    "h36m17": {j: [j] for j in range(17)},
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_conversion_on_hand_built_pose(name, rng):
    J = get_skeleton(name).num_joints
    src = rng.normal(size=(3, J, 3))
    expected = _expected(src, REFERENCE[name])
    np.testing.assert_allclose(convert(src, name), expected, atol=1e-12)
    torch.testing.assert_close(convert(torch.as_tensor(src), name), torch.as_tensor(expected))
    # 2D pixels with confidence: derived joints take their sources' minimum confidence
    conf = rng.uniform(size=(3, J))
    pts, c = convert(src[..., :2], name, confidence=conf)
    np.testing.assert_allclose(pts, expected[..., :2], atol=1e-12)
    for j, sources in REFERENCE[name].items():
        np.testing.assert_allclose(c[:, j], conf[:, sources].min(-1))


def test_conversion_rejects_wrong_joint_count():
    with pytest.raises(
        ValueError, match=r"convert from 'coco17': expected points of shape \(\.\.\., 17, C\)"
    ):
        convert(np.zeros((2, 33, 2)), "coco17")
