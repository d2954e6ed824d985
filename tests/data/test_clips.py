"""ClipDataset: windows and padding against plain loops, targets against poseviz.geometry,
flip consistency, virtual views, determinism, the batch contract, splits."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from poseviz.data.augment import bone_lengths
from poseviz.data.batch import check_batch
from poseviz.data.cameras import DetectorNoise, h36m_like_rig, mirror_camera
from poseviz.data.clips import (
    ClipDataset,
    VirtualViews,
    collate,
    h36m_split,
    split_by_subject,
    window_offsets,
    window_starts,
)
from poseviz.data.deepmimic import find_pybullet_motions, read_deepmimic
from poseviz.geometry import camera_to_image, normalize_screen_coordinates, project, world_to_camera
from poseviz.skeleton import flip_pose, get_skeleton
from poseviz.structures import Camera, PoseSequence

H36M = get_skeleton("h36m17")


@pytest.fixture(scope="module")
def mocap():
    """Three pybullet clips (walk 39, run 25, kick 47 frames), world metres, no cameras."""
    clips = {p.stem.removeprefix("humanoid3d_"): p for p in find_pybullet_motions()}
    return [read_deepmimic(clips[n])[0] for n in ("walk", "run", "kick")]


@pytest.fixture(scope="module")
def filmed(mocap):
    """The same clips with a 4-camera rig, 2D projections and (fake) detector confidence."""
    out = []
    for i, seq in enumerate(mocap):
        rig = h36m_like_rig(seq.joints_3d, seed=i)
        out.append(
            PoseSequence(
                name=seq.name,
                subject=f"S{i + 1}",
                action=seq.action,
                fps=seq.fps,
                skeleton="h36m17",
                joints_3d=seq.joints_3d,
                cameras=rig,
                joints_2d={c: project(seq.joints_3d, cam) for c, cam in rig.items()},
                confidence={c: np.full(seq.joints_3d.shape[:2], 0.5) for c in rig},
            )
        )
    return out


def windows_loop(n: int, length: int, dilation: int, stride: int, mode: str) -> list[list[int]]:
    """Reference windows with edge replication, written as plain loops (VideoPose3D-style)."""
    out = []
    if mode == "center":
        for c in range(0, n, stride):
            out.append(
                [min(max(c + dilation * (k - length // 2), 0), n - 1) for k in range(length)]
            )
    else:
        span = dilation * (length - 1) + 1
        starts = list(range(0, max(n - span, 0) + 1, stride))
        if starts[-1] != max(n - span, 0):
            starts.append(max(n - span, 0))
        for s in starts:
            out.append([min(s + dilation * k, n - 1) for k in range(length)])
    return out


@pytest.mark.parametrize("mode", ["center", "sequence"])
@pytest.mark.parametrize(
    ("n", "length", "dilation", "stride"),
    [(10, 5, 1, 1), (10, 3, 3, 2), (4, 9, 1, 3), (25, 9, 2, 4)],
)
def test_windows_match_loops(mode, n, length, dilation, stride):
    starts = window_starts(n, length, dilation, stride, mode)
    got = np.clip(starts[:, None] + window_offsets(length, dilation, mode), 0, n - 1)
    assert got.tolist() == windows_loop(n, length, dilation, stride, mode)


def test_own_views_targets_and_padding(filmed):
    ds = ClipDataset(filmed, length=9, dilation=2, mode="center")
    assert len(ds) == sum(s.num_frames for s in filmed) * 4  # one window per frame and view
    batch = ds.__getitems__(np.arange(len(ds)))
    check_batch(batch)
    assert batch["keypoints_2d"].shape == (len(ds), 9, 17, 3)  # fake confidence: 3 channels
    assert batch["pose_3d"].shape == (len(ds), 1, 17, 3)
    np.testing.assert_allclose(batch["confidence"], 0.5)
    seqs = {s.name: s for s in filmed}
    for b in (0, 5, 40, len(ds) - 1):  # first frames (padded), middle, last
        seq, cam = seqs[batch["sequence"][b]], batch["camera"][b]
        camera, f = seq.cameras[cam], int(batch["frame"][b])
        frames = [min(max(f + 2 * (k - 4), 0), seq.num_frames - 1) for k in range(9)]
        X = world_to_camera(seq.joints_3d[frames], camera)
        np.testing.assert_allclose(batch["pose_3d_sequence"][b], X - X[:, :1], atol=1e-5)
        np.testing.assert_allclose(batch["pose_3d"][b, 0], (X - X[:, :1])[4], atol=1e-5)
        uv = normalize_screen_coordinates(
            project(seq.joints_3d[frames], camera), camera.width, camera.height
        )
        np.testing.assert_allclose(batch["keypoints_2d"][b, ..., :2], uv, atol=1e-5)
        assert batch["subject"][b] == seq.subject and batch["action"][b] == seq.action
    # the first window of a sequence repeats frame 0 (edge padding by replication)
    first = batch["keypoints_2d"][0, :, :, :2]
    assert all(torch.equal(first[k], first[4]) for k in range(4))


def test_sequence_mode_covers_every_frame(filmed):
    ds = ClipDataset(
        filmed[:1], length=16, stride=16, mode="sequence", cameras=["cam1"], confidence=False
    )
    batch = ds.__getitems__(range(len(ds)))
    check_batch(batch)
    assert batch["keypoints_2d"].shape[-1] == 2 and "confidence" not in batch
    assert batch["pose_3d"].shape == batch["pose_3d_sequence"].shape == (len(ds), 16, 17, 3)
    assert set(batch["camera"]) == {"cam1"}
    seq = filmed[0]
    X = world_to_camera(seq.joints_3d, seq.cameras["cam1"])
    covered = np.concatenate(
        [
            X[s : s + 16] - X[s : s + 16, :1]
            for s in window_starts(seq.num_frames, 16, 1, 16, "sequence")
        ]
    )
    got = batch["pose_3d"].reshape(-1, 17, 3).numpy()
    np.testing.assert_allclose(got, covered, atol=1e-5)
    assert len(ds) == 3  # 39 frames: starts 0, 16, 23


def test_flip_is_the_mirror_through_a_mirrored_camera(filmed):
    plain = ClipDataset(filmed, length=5, flip=0.0)
    flipped = ClipDataset(filmed, length=5, flip=1.0)
    idx = [0, 17, 100, 300]
    a, b = plain.__getitems__(idx), flipped.__getitems__(idx)
    torch.testing.assert_close(b["keypoints_2d"], flip_pose(a["keypoints_2d"], H36M))
    torch.testing.assert_close(b["pose_3d_sequence"], flip_pose(a["pose_3d_sequence"], H36M))
    # the flipped left arm is the old right arm, mirrored
    mirror = torch.tensor([-1.0, 1.0, 1.0])
    torch.testing.assert_close(b["pose_3d"][:, 0, 11:14], a["pose_3d"][:, 0, 14:17] * mirror)
    # consistent 2D and 3D: the flipped 2D is the mirrored camera-frame pose seen through the
    # mirrored camera (cx -> w - cx)
    seq = {s.name: s for s in filmed}[b["sequence"][1]]
    cam = seq.cameras[b["camera"][1]]
    f = int(b["frame"][1])
    Xc = world_to_camera(seq.joints_3d[f], cam)
    mirrored = (Xc * [-1, 1, 1])[list(H36M.flip_permutation)]
    uv = camera_to_image(mirrored, mirror_camera(cam))
    np.testing.assert_allclose(
        b["keypoints_2d"][1, 2, :, :2],
        normalize_screen_coordinates(uv, cam.width, cam.height),
        atol=1e-5,
    )


def test_virtual_views(mocap):
    views = VirtualViews(views_per_sequence=4)
    ds = ClipDataset(mocap, length=27, views="virtual", virtual=views, seed=1)
    assert len(ds) == sum(s.num_frames for s in mocap) and ds.num_views == 12
    batch = ds.__getitems__(np.arange(len(ds)))
    check_batch(batch)
    assert batch["keypoints_2d"].shape == (len(ds), 27, 17, 2)
    assert (
        set(batch["camera"]) <= {f"virtual{k}" for k in range(4)} and len(set(batch["camera"])) == 4
    )
    order = {s.name: i for i, s in enumerate(mocap)}
    for b in (0, 50, 90):
        s, k = order[batch["sequence"][b]], int(batch["camera"][b].removeprefix("virtual"))
        joints, cam = ds.virtual_view(s, k)
        f = int(batch["frame"][b])
        uv = normalize_screen_coordinates(project(joints[f], cam), cam.width, cam.height)
        np.testing.assert_allclose(batch["keypoints_2d"][b, 13], uv, atol=1e-4)
        X = world_to_camera(joints[f], cam)
        np.testing.assert_allclose(batch["pose_3d"][b, 0], X - X[:1], atol=1e-5)
        # the view's body proportions differ from the mocap's, symmetrically
        lengths = bone_lengths(batch["pose_3d"][b, 0].double().numpy())
        original = bone_lengths(mocap[s].joints_3d[f])
        assert not np.allclose(lengths, original, rtol=1e-3)
        np.testing.assert_allclose(lengths[list(H36M.left)], lengths[list(H36M.right)], atol=1e-4)
        assert cam.width == 1000 and 700 <= cam.fx <= 1600
    # every view sees the whole motion: normalised 2D stays inside the image
    assert batch["keypoints_2d"][..., 0].abs().max() <= 1.0


def test_noise_confidence_and_determinism(mocap):
    kwargs = dict(
        length=9,
        views="virtual",
        virtual=VirtualViews(views_per_sequence=3),
        noise=DetectorNoise(),
        flip=0.5,
        seed=7,
    )
    ds = ClipDataset(mocap, **kwargs)
    idx = [3, 1, 60, 2, 99]
    a = ds.__getitems__(idx)
    check_batch(a)
    assert a["keypoints_2d"].shape[-1] == 3 and "confidence" in a
    torch.testing.assert_close(a["keypoints_2d"][..., 2], a["confidence"])
    # same seed: same batch; an item is the same alone, in another batch, or via the loader
    b = ClipDataset(mocap, **kwargs).__getitems__(idx)
    torch.testing.assert_close(a["keypoints_2d"], b["keypoints_2d"])
    alone = ds[60]
    torch.testing.assert_close(alone["keypoints_2d"], a["keypoints_2d"][2])
    torch.testing.assert_close(alone["pose_3d"], a["pose_3d"][2])
    assert alone["camera"] == a["camera"][2]
    other = ds.__getitems__([60, 0])
    torch.testing.assert_close(other["keypoints_2d"][0], a["keypoints_2d"][2])
    # a new epoch draws new augmentations; another seed other views
    ds.set_epoch(1)
    assert not torch.allclose(ds.__getitems__(idx)["keypoints_2d"], a["keypoints_2d"])
    assert ClipDataset(mocap, **{**kwargs, "seed": 8}).virtual_camera(0, 0) != ds.virtual_camera(
        0, 0
    )
    # views are drawn once, unless redrawn each epoch
    assert ds.virtual_camera(1, 2) == ClipDataset(mocap, **kwargs).virtual_camera(1, 2)
    redraw = ClipDataset(mocap, **{**kwargs, "virtual": VirtualViews(3, redraw_each_epoch=True)})
    first = redraw.virtual_camera(1, 2)
    redraw.set_epoch(1)
    assert redraw.virtual_camera(1, 2) != first
    redraw.set_epoch(0)
    assert redraw.virtual_camera(1, 2) == first
    # the noise is detector-like: small on average relative to the clean 2D
    clean = ClipDataset(mocap, **{**kwargs, "noise": None}).__getitems__(idx)
    err = (a["keypoints_2d"][..., :2] - clean["keypoints_2d"]).norm(dim=-1)
    assert 0.001 < err.median() < 0.05


def test_flip_probability_and_loader(mocap):
    ds = ClipDataset(
        mocap,
        length=3,
        views="virtual",
        virtual=VirtualViews(views_per_sequence=2, bone_scaling=None),
        flip=0.5,
    )
    plain = ClipDataset(
        mocap,
        length=3,
        views="virtual",
        virtual=VirtualViews(views_per_sequence=2, bone_scaling=None),
    )
    a, b = ds.__getitems__(range(len(ds))), plain.__getitems__(range(len(ds)))
    same = (a["pose_3d"] - b["pose_3d"]).abs().amax(dim=(1, 2, 3)) < 1e-6
    assert 0.35 < 1 - same.float().mean() < 0.65  # about half flipped
    # the DataLoader path builds whole batches through __getitems__ in batches()' order
    ds.set_epoch(3)
    from_loader = list(ds.loader(16, shuffle=True))
    from_batches = list(ds.batches(16, shuffle=True))
    assert len(from_loader) == len(from_batches) == -(-len(ds) // 16)
    for x, y in zip(from_loader, from_batches, strict=True):
        torch.testing.assert_close(x["keypoints_2d"], y["keypoints_2d"])
        assert x["sequence"] == y["sequence"]
    # worker processes build the same batches (per-item keys, not per-process state)
    with_workers = list(ds.loader(16, shuffle=True, num_workers=2))
    for x, y in zip(with_workers, from_batches, strict=True):
        torch.testing.assert_close(x["pose_3d"], y["pose_3d"])
    items = collate([ds[0], ds[1]])
    check_batch(items)
    assert items["keypoints_2d"].shape == (2, 3, 17, 2) and len(items["camera"]) == 2


def test_bad_input(mocap, filmed):
    with pytest.raises(ValueError, match="no \\(sequence, camera\\) views.*views='virtual'"):
        ClipDataset(mocap)
    coco = PoseSequence("x", "S1", "a", 30, "coco17", joints_3d=np.zeros((5, 17, 3)))
    with pytest.raises(ValueError, match="'x' is in layout 'coco17', expected 'h36m17'"):
        ClipDataset([coco])
    gap = mocap[0].joints_3d.copy()
    gap[3, 4] = np.nan
    holed = PoseSequence("gap", "S1", "a", 30, "h36m17", joints_3d=gap)
    with pytest.raises(ValueError, match="'gap' has NaN gaps"):
        ClipDataset([holed], views="virtual")
    with pytest.raises(ValueError, match="mode must be"):
        ClipDataset(filmed, mode="middle")
    with pytest.raises(ValueError, match="length must be a positive integer"):
        ClipDataset(filmed, length=0)
    with pytest.raises(ValueError, match="flip must be a probability"):
        ClipDataset(filmed, flip=1.5)
    ds = ClipDataset(filmed, length=3)
    with pytest.raises(IndexError):
        ds.__getitems__([len(ds)])


def test_subject_split():
    cam = Camera("c", 10, 10, 5, 5, 5, 5)
    seqs = [
        PoseSequence(
            f"{s}/walk", s, "walk", 50, "h36m17", joints_3d=np.zeros((2, 17, 3)), cameras={"c": cam}
        )
        for s in ("S1", "S2", "S5", "S6", "S7", "S8", "S9", "S11")
    ]
    train, test = h36m_split(seqs)
    assert [s.subject for s in train] == ["S1", "S5", "S6", "S7", "S8"]
    assert [s.subject for s in test] == ["S9", "S11"]
    with pytest.raises(ValueError, match="no sequences for test subjects \\['S3'\\]"):
        split_by_subject(seqs, train=["S1"], test=["S3"])
    with pytest.raises(ValueError, match="in both splits"):
        split_by_subject(seqs, train=["S1"], test=["S1"])


def test_occlusion_labels_and_severity(filmed, mocap):
    from poseviz.data.occlusion import occlusion_labels, occlusion_severity

    # own views without labels: computed per (sequence, camera) in its camera frame
    ds = ClipDataset(filmed, length=5, occlusion=True, flip=1.0)
    idx = np.arange(0, len(ds), 7)
    batch = ds.__getitems__(idx)
    check_batch(batch)
    seqs = {s.name: s for s in filmed}
    perm = list(H36M.flip_permutation)
    for b in range(0, len(idx), 5):
        seq, cam = seqs[batch["sequence"][b]], batch["camera"][b]
        f = int(batch["frame"][b])
        X = world_to_camera(seq.joints_3d, seq.cameras[cam])
        expected = occlusion_labels(X, seq.cameras[cam])[f][perm]  # flipped: swapped joints
        np.testing.assert_array_equal(batch["occlusion"][b, 2].numpy(), expected)
        assert int(batch["severity"][b]) == occlusion_severity(expected[None])[0]
    assert batch["occlusion"].dtype == torch.float32 and batch["occlusion"].any()
    # labels a sequence carries are used as they are
    labelled = [
        PoseSequence(
            **{
                **vars(filmed[0]),
                "occluded": {c: np.ones((39, 17), bool) for c in filmed[0].cameras},
            }
        )
    ]
    assert ClipDataset(labelled, occlusion=True).__getitems__([0])["occlusion"].all()
    # virtual views: labelled once per view (with that view's body proportions), cached
    virtual = ClipDataset(
        mocap, length=5, views="virtual", virtual=VirtualViews(views_per_sequence=2), occlusion=True
    )
    batch = virtual.__getitems__(np.arange(0, len(virtual), 3))
    check_batch(batch)
    order = {s.name: i for i, s in enumerate(mocap)}
    for b in (0, 10, 20):
        s, k = order[batch["sequence"][b]], int(batch["camera"][b].removeprefix("virtual"))
        joints, cam = virtual.virtual_view(s, k)
        expected = occlusion_labels(world_to_camera(joints, cam), cam)[int(batch["frame"][b])]
        np.testing.assert_array_equal(batch["occlusion"][b, 2].numpy(), expected)
    cached = len(virtual._occ_cache)
    virtual.precompute_occlusion(progress=False)
    assert cached <= len(virtual._occ_cache) == virtual.num_views == 6


def test_zoom_is_a_longer_focal_length_and_stays_in_the_image(filmed):
    # principal points off the image centre: the zoom must scale about them, not the centre
    off_centre = []
    for seq in filmed:
        cams = {c: replace(cam, cx=420.0, cy=560.0) for c, cam in seq.cameras.items()}
        joints_2d = {c: project(seq.joints_3d, cam) for c, cam in cams.items()}
        off_centre.append(replace(seq, cameras=cams, joints_2d=joints_2d))
    filmed = off_centre
    idx = list(range(0, 400, 7))
    plain = ClipDataset(filmed, length=5, stride=1)
    zoomed = ClipDataset(filmed, length=5, stride=1, zoom=3.0)
    a, b = plain.__getitems__(idx), zoomed.__getitems__(idx)
    torch.testing.assert_close(b["pose_3d_sequence"], a["pose_3d_sequence"])  # 3D unchanged
    factors = []
    for i in range(len(idx)):
        seq = {s.name: s for s in filmed}[b["sequence"][i]]
        cam = seq.cameras[b["camera"][i]]
        frames = np.clip(int(b["frame"][i]) + np.arange(-2, 3), 0, seq.num_frames - 1)
        Xc = world_to_camera(seq.joints_3d[frames], cam)
        # the factor from one joint's offset to the principal point, then every joint checked
        # against the projection through the same camera with that many times its focal length
        uv0 = camera_to_image(Xc, cam)
        got = b["keypoints_2d"][i, ..., :2].numpy()
        px = (got + [1.0, cam.height / cam.width]) * cam.width / 2
        s = np.median((px - [cam.cx, cam.cy]) / (uv0 - [cam.cx, cam.cy]))
        longer = Camera(
            id="zoomed", R=cam.R, t=cam.t, fx=cam.fx * s, fy=cam.fy * s, cx=cam.cx, cy=cam.cy,
            width=cam.width, height=cam.height,
        )  # fmt: skip
        np.testing.assert_allclose(px, camera_to_image(Xc, longer), atol=2e-3 * cam.width)
        assert (px >= 0).all() and (px[..., 0] <= cam.width).all()
        assert (px[..., 1] <= cam.height).all()
        factors.append(s)
    factors = np.array(factors)
    assert factors.min() >= 1 - 1e-4 and factors.max() <= 3 + 1e-4
    assert (factors > 1.2).mean() > 0.5  # most windows really zoomed in
    off = ClipDataset(filmed, length=5, stride=1, zoom=1.0).__getitems__(idx)
    torch.testing.assert_close(off["keypoints_2d"], a["keypoints_2d"])  # 1 = off, same stream
    with pytest.raises(ValueError, match="zoom must be a factor >= 1"):
        ClipDataset(filmed, zoom=0.5)
