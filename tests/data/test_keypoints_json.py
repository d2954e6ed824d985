"""COCO-17 and OpenPose / Pose2Sim per-frame JSON readers: layouts, person choice, gaps,
format detection and malformed files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from poseviz.data import FormatError, detect_format, load
from poseviz.skeleton import convert, get_skeleton

T = 8


def _coco_pose(t: int, x0: float) -> np.ndarray:
    """(17, 2) COCO-17 pixels of a person at x0 moving 5 px per frame."""
    base = np.stack([np.linspace(-30, 30, 17), np.linspace(-90, 90, 17)], -1)
    return base + [x0 + 5 * t, 400]


def _triplets(xy: np.ndarray, score) -> list[float]:
    s = np.broadcast_to(score, (len(xy),))
    return np.concatenate([xy, s[:, None]], 1).ravel().tolist()


def test_coco_results_list_two_people_and_a_missing_frame(tmp_path):
    results = []
    for t in range(T):
        if t != 3:  # the main person is missing in frame 3
            results.append(
                {
                    "image_id": 100 + t,
                    "category_id": 1,
                    "keypoints": _triplets(_coco_pose(t, 200), 0.8),
                    "score": 0.9,
                }
            )
        results.append(
            {
                "image_id": 100 + t,
                "category_id": 1,
                "keypoints": _triplets(_coco_pose(t, 900) * [1, 0.5] + [0, 200], 0.7),
                "score": 0.5,
            }
        )
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(results))
    assert detect_format(path) == "coco_json"
    (seq,) = load(path, camera="c1", fps=25.0)
    assert seq.skeleton == "h36m17" and seq.fps == 25.0 and seq.num_frames == T
    expected = convert(np.stack([_coco_pose(t, 200) for t in range(T)]), "coco17")
    seen = np.arange(T) != 3
    np.testing.assert_allclose(seq.joints_2d["c1"][seen], expected[seen])
    np.testing.assert_allclose(seq.joints_2d["c1"][3], (expected[2] + expected[4]) / 2)
    assert (seq.confidence["c1"][3] == 0).all() and (seq.confidence["c1"][seen] == 0.8).all()
    (raw,) = load(path, raw=True)
    assert raw.skeleton == "coco17" and raw.joints_2d["cam0"].shape == (T, 17, 2)


def test_coco_annotation_file_visibility_flags(tmp_path):
    images = [{"id": f"f{t}", "file_name": f"frame{t:03d}.jpg"} for t in range(T)]
    anns = []
    for t in range(T):
        v = np.full(17, 2)
        v[9] = 1  # left wrist labelled but hidden
        v[0] = 0 if t == 5 else 2  # nose not labelled in frame 5
        kp = np.concatenate([_coco_pose(t, 300), v[:, None]], 1)
        kp[v == 0, :2] = 0
        anns.append({"image_id": f"f{t}", "keypoints": kp.ravel().tolist(), "num_keypoints": 17})
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": []}))
    (seq,) = load(path)
    occ, conf = seq.occluded["cam0"], seq.confidence["cam0"]
    h36m = get_skeleton("h36m17")
    assert occ[:, h36m.index("l_wrist")].all() and not occ[:, h36m.index("r_wrist")].any()
    nose = h36m.index("neck_nose")
    assert conf[5, nose] == 0 and occ[5, nose] and (conf[np.arange(T) != 5, nose] == 1).all()
    np.testing.assert_allclose(
        seq.joints_2d["cam0"][5, nose],
        (_coco_pose(4, 300)[0] + _coco_pose(6, 300)[0]) / 2,  # interpolated, not (0, 0)
    )


def _openpose_frame(people: list[np.ndarray]) -> dict:
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p} for p in people]}


def test_openpose_body25_folder_follows_one_person(tmp_path):
    sk = get_skeleton("openpose_body25")
    folder = tmp_path / "cam02_json"
    folder.mkdir()
    rng = np.random.default_rng(1)
    template = rng.uniform([-40, -100], [40, 100], size=(25, 2))
    main = [template + [300 + 4 * t, 500] for t in range(12)]
    other = [template * 0.8 + [1200 - 4 * t, 480] for t in range(12)]
    for t in range(12):  # frame numbers beyond 9 check numeric (not lexicographic) order
        a = np.concatenate([main[t], np.full((25, 1), 0.9)], 1)
        a[sk.index("l_wrist")] = 0  # OpenPose writes a missing joint as 0, 0, 0
        b = np.concatenate([other[t], np.full((25, 1), 0.6)], 1)
        people = [b.ravel().tolist(), a.ravel().tolist()][:: 1 if t % 2 else -1]
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(_openpose_frame(people)))
    assert detect_format(folder) == "openpose_json"
    (seq,) = load(folder)
    assert seq.camera_ids == ["cam02"] and seq.num_frames == 12
    expected = convert(np.stack(main), "openpose_body25")
    h36m = get_skeleton("h36m17")
    keep = [j for j in range(17) if j != h36m.index("l_wrist")]
    np.testing.assert_allclose(seq.joints_2d["cam02"][:, keep], expected[:, keep])
    assert (seq.confidence["cam02"][:, h36m.index("l_wrist")] == 0).all()
    (raw,) = load(folder, raw=True)
    assert raw.skeleton == "openpose_body25"


def test_openpose_halpe26_uses_the_coco_body_joints(tmp_path):
    xy = np.concatenate([_coco_pose(0, 200), np.full((9, 2), 7.0)])  # 17 COCO + 9 extra
    path = tmp_path / "f_000000000000_keypoints.json"
    path.write_text(json.dumps(_openpose_frame([_triplets(xy, 0.9)])))
    (seq,) = load(path, format="openpose_json")
    (cam,) = seq.camera_ids
    np.testing.assert_allclose(seq.joints_2d[cam][0], convert(_coco_pose(0, 200), "coco17"))


def test_malformed_json_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"image_id": 1, "keypoints": [1, 2, 3]}]))
    with pytest.raises(FormatError, match=r"\[0\]\.keypoints: expected 51 numbers"):
        load(bad)
    bad.write_text(json.dumps(_openpose_frame([[1.0] * 54])))
    with pytest.raises(FormatError, match="pose_keypoints_2d: expected x, y, c triplets"):
        load(bad)
    bad.write_text(json.dumps(_openpose_frame([])))
    with pytest.raises(FormatError, match="at least one detected person"):
        load(bad)
    bad.write_text("{not json")
    with pytest.raises(FormatError):
        load(bad, format="coco_json")
