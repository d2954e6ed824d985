"""VideoPose3D Human3.6M / HumanEva npz files, written here with the real key structure."""

from __future__ import annotations

import numpy as np
import pytest

from poseviz.data import FormatError, load
from poseviz.data.h36m import H36M32_TO_H36M17, h36m_cameras, humaneva_extrinsics
from poseviz.geometry import project
from poseviz.skeleton import get_skeleton

META_H36M = {"layout_name": "h36m", "num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}  # fmt: skip


def _poses(rng, T, J=32):
    return (rng.normal(size=(T, J, 3)) * 0.3 + [0.2, -0.1, 0.9]).astype(np.float32)


def _write_3d(path, data):
    np.savez_compressed(path, positions_3d=data)
    return path


def test_3d_round_trip_selection_and_cameras(tmp_path, rng):
    data = {
        "S1": {"Walking 1": _poses(rng, 12), "Eating": _poses(rng, 5)},
        "S9": {"Sitting": _poses(rng, 7)},
    }
    path = _write_3d(tmp_path / "data_3d_h36m.npz", data)
    seqs = {s.name: s for s in load(path)}
    assert set(seqs) == {"S1/Walking 1", "S1/Eating", "S9/Sitting"}
    s = seqs["S1/Walking 1"]
    assert s.skeleton == "h36m17" and s.fps == 50.0 and s.subject == "S1"
    np.testing.assert_allclose(
        s.joints_3d, data["S1"]["Walking 1"][:, list(H36M32_TO_H36M17)], atol=1e-6
    )
    raw = load(path, raw=True, subjects=["S9"])
    assert [r.name for r in raw] == ["S9/Sitting"] and raw[0].skeleton == "h36m32"
    np.testing.assert_allclose(raw[0].joints_3d, data["S9"]["Sitting"], atol=1e-6)
    assert sorted(s.cameras) == ["54138969", "55011271", "58860488", "60457274"]


def test_published_cameras_look_at_the_capture_volume():
    for subject in ("S1", "S5", "S6", "S7", "S8", "S9", "S11"):
        for cam in h36m_cameras(subject).values():
            centre = cam.center
            assert 4.0 < np.linalg.norm(centre) < 6.5  # metres from the room's origin
            view = cam.R[2] @ (-centre) / np.linalg.norm(centre)
            assert view > 0.98  # optical axis points at the origin
            assert cam.R[1] @ [0, 0, 1] < -0.9  # image y points down the world's Z-up
    assert h36m_cameras("S2") == {}
    # Pinned value: S1's first camera centre, VideoPose3D's translation in metres.
    np.testing.assert_allclose(
        h36m_cameras("S1")["54138969"].center,
        [1.8411070556640625, 4.95528466796875, 1.5634454345703125],
        atol=1e-9,
    )


def test_2d_file_and_merge_trims_to_3d_length(tmp_path, rng):
    pos = _poses(rng, 10)
    cams = h36m_cameras("S11")
    views = [project(pos[:, list(H36M32_TO_H36M17)].astype(np.float64), c) for c in cams.values()]
    conf = rng.uniform(0, 1, (12, 17, 1))
    longer = [
        np.concatenate([np.concatenate([v, v[:2]]), conf], axis=-1) for v in views
    ]  # 12 frames
    p2d = tmp_path / "data_2d_h36m_cpn.npz"
    np.savez_compressed(p2d, positions_2d={"S11": {"Phoning": longer}}, metadata=META_H36M)
    p3d = _write_3d(tmp_path / "data_3d_h36m.npz", {"S11": {"Phoning": pos}})
    only2d = load(p2d)[0]
    assert only2d.joints_3d is None and only2d.num_frames == 12
    np.testing.assert_allclose(only2d.confidence["54138969"], conf[..., 0])
    merged = load(p3d, keypoints_2d=p2d)[0]
    assert merged.num_frames == 10
    for cid, cam in merged.cameras.items():  # 2D are the projections of the 3D joints
        np.testing.assert_allclose(merged.joints_2d[cid], project(merged.joints_3d, cam), atol=1e-3)


def test_coco_layout_2d_converts(tmp_path, rng):
    coco = rng.uniform(0, 1000, (4, 17, 2))
    p2d = tmp_path / "data_2d_h36m_detectron_pt_coco.npz"
    np.savez_compressed(
        p2d,
        positions_2d={"S1": {"Posing": [coco] * 4}},
        metadata={"layout_name": "coco", "num_joints": 17},
    )
    s = load(p2d)[0]
    h, c = get_skeleton("h36m17"), get_skeleton("coco17")
    np.testing.assert_allclose(
        s.joints_2d["55011271"][:, h.index("pelvis")],
        (coco[:, c.index("l_hip")] + coco[:, c.index("r_hip")]) / 2,
    )
    assert load(p2d, raw=True)[0].skeleton == "coco17"


def test_humaneva_fits_intrinsics_from_ground_truth_2d(tmp_path, rng):
    pos = (rng.normal(size=(30, 15, 3)) * 0.4 + [0.0, 0.0, 1.0]).astype(np.float64)
    extr = humaneva_extrinsics("Train/S2")
    truth = {
        "C1": (765.8, 765.3, 299.8, 232.3),
        "C2": (690.0, 688.0, 310.0, 240.0),
        "C3": (724.3, 723.6, 302.6, 204.9),
    }
    views = []
    for cid in ("C1", "C2", "C3"):
        R, t = extr[cid]
        X = pos @ R.T + t
        fx, fy, cx, cy = truth[cid]
        views.append(
            np.stack([fx * X[..., 0] / X[..., 2] + cx, fy * X[..., 1] / X[..., 2] + cy], -1)
        )
    p3d = _write_3d(tmp_path / "data_3d_humaneva15.npz", {"Train/S2": {"Jog 1 chunk0": pos}})
    p2d = tmp_path / "data_2d_humaneva15_gt.npz"
    np.savez_compressed(
        p2d,
        positions_2d={"Train/S2": {"Jog 1 chunk0": views}},
        metadata={"layout_name": "humaneva15", "num_joints": 15},
    )
    s = load(p3d, keypoints_2d=p2d)[0]
    assert s.fps == 60.0 and s.skeleton == "h36m17" and sorted(s.cameras) == ["C1", "C2", "C3"]
    for cid, (fx, fy, cx, cy) in truth.items():
        cam = s.cameras[cid]
        np.testing.assert_allclose([cam.fx, cam.fy, cam.cx, cam.cy], [fx, fy, cx, cy], rtol=1e-9)
    he = get_skeleton("humaneva15")
    np.testing.assert_allclose(
        s.joints_3d[:, 7], (pos[:, he.index("pelvis")] + pos[:, he.index("thorax")]) / 2
    )
    assert load(p3d)[0].cameras == {}  # no intrinsics without 2D


@pytest.mark.parametrize(
    "content, message",
    [
        (
            {"positions_3d": {"S1": {"A": np.zeros((5, 31, 3))}}},
            r"positions_3d\['S1'\]\['A'\]: expected an array of shape \(T, 32\|17\|15, 3\)",
        ),
        ({"positions_3d": {"S1": {"A": np.zeros((5, 32))}}}, "shape"),
        ({"positions_3d": {"S1": np.zeros(3)}}, r"positions_3d\['S1'\]: expected a dict"),
        ({"poses": np.zeros(3)}, "'positions_3d' or 'positions_2d'"),
        ({"positions_2d": {"S1": {"A": [np.zeros((4, 17, 2))]}}}, "metadata"),
        (
            {
                "positions_2d": {"S1": {"A": [np.zeros((4, 17, 2))]}},
                "metadata": {"layout_name": "openpose"},
            },
            "layout_name",
        ),
        (
            {"positions_2d": {"S1": {"A": [np.zeros((4, 16, 2))] * 4}}, "metadata": META_H36M},
            r"\[0\]: expected an array of shape \(T, 17, 2\)",
        ),
    ],
)
def test_malformed_npz(tmp_path, content, message):
    path = tmp_path / "data_3d_h36m.npz"
    np.savez(path, **content)
    with pytest.raises(FormatError, match=message) as info:
        load(path, format="h36m")
    assert "data_3d_h36m.npz" in str(info.value)


def test_nan_run_and_truncated_file(tmp_path, rng):
    pos = _poses(rng, 20)
    pos[5:9, 3] = np.nan
    path = _write_3d(tmp_path / "data_3d_h36m.npz", {"S5": {"Greeting": pos}})
    with pytest.raises(
        FormatError,
        match=r"\['S5'\]\['Greeting'\].*NaN or inf in 4 frames, first at frame 5, joint 3",
    ):
        load(path)
    good = _write_3d(tmp_path / "good.npz", {"S5": {"Greeting": _poses(rng, 200)}})
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FormatError, match="cut.npz"):
        load(cut, format="h36m")


def test_2d_shorter_than_3d_is_an_error(tmp_path, rng):
    p3d = _write_3d(tmp_path / "data_3d_h36m.npz", {"S1": {"A": _poses(rng, 10)}})
    p2d = tmp_path / "data_2d_h36m_gt.npz"
    np.savez(p2d, positions_2d={"S1": {"A": [np.zeros((8, 17, 2))] * 4}}, metadata=META_H36M)
    with pytest.raises(FormatError, match="at least the 10 frames"):
        load(p3d, keypoints_2d=p2d)
