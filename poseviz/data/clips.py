"""Clip sampling for training and evaluation: a PyTorch ``Dataset`` of fixed-length windows
that yields batches following the contract of `poseviz.data.batch`.

**Windows.** A window has ``length`` (T) frames ``dilation`` apart. In ``"center"`` mode
(sequence-to-centre-frame, VideoPose3D) there is one window per target frame, every
``stride`` frames, centred on it; in ``"sequence"`` mode (sequence-to-sequence) windows
start every ``stride`` frames and the last one ends on the last frame. Frames before the
start or after the end of the sequence repeat the first or last frame (VideoPose3D's edge
padding by replication). Windows are index arithmetic on flat arrays: a batch is gathered
in a few vectorised numpy operations, never frame by frame.

**Views.** ``views="own"`` uses each sequence's cameras (every ``(sequence, camera)`` pair
is a view): 2D keypoints are the sequence's ``joints_2d`` (or the projection of its 3D
when it has none) and targets its 3D in that camera. ``views="virtual"`` trains on mocap:
each sequence gets a pool of ``VirtualViews.views_per_sequence`` random cameras, each with
its own random body proportions (`poseviz.data.augment.BoneScaling`), drawn once from the
seed (or again at every epoch, ``redraw_each_epoch``); every item picks one view of its
sequence at random. The 2D detector noise model
(`poseviz.data.cameras.DetectorNoise`) applies to either source when given.

**Outputs.** ``keypoints_2d`` are normalised ``x / w * 2 - [1, h / w]`` (plus a confidence
channel when ``confidence`` is on), ``pose_3d`` / ``pose_3d_sequence`` are root-relative
camera-frame metres, ``frame`` is the target (centre) frame's index in its sequence and
the labels name subject, action, sequence and camera.

**Zoom.** With ``zoom`` > 1 every item's 2D is scaled about the view's principal point by a
factor drawn log-uniformly from ``[1, zoom]``, capped so that every keypoint of the window
stays in the image. That is exactly the view through the same camera with a focal length
that many times longer (root-relative camera-frame 3D does not depend on the focal length),
so 3D targets are unchanged. Virtual cameras are placed to keep a clip's whole motion in
view, which makes people small in the frame; zoom adds the close framings of hand-held
video (`benchmarks/framing.py` measures both).

**Flip.** With probability ``flip`` an item is mirrored: x of the normalised 2D and of the
camera-frame 3D is negated and left and right joints are swapped. This equals seeing the
mirrored 3D through `poseviz.data.cameras.mirror_camera` (``cx -> w - cx``), so 2D and 3D
stay consistent.

**Randomness.** Every random choice of an item (its view, noise, flip) comes from a stream
keyed by ``(seed, epoch, index)`` (`poseviz.data._random.KeyedRandom`): the same item is
the same whether fetched alone, in any batch, or in any DataLoader worker, and `set_epoch`
draws new augmentations. Shuffling uses the same seed and epoch. DataLoader workers get a
copy of the dataset when an epoch's iterator starts: call `set_epoch` before iterating
(and do not use ``persistent_workers``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from poseviz.data._random import KeyedRandom, mix_keys
from poseviz.data.augment import BoneScaling, bone_lengths, scale_bones
from poseviz.data.cameras import DetectorNoise, project_stacked, sample_cameras, stack_cameras
from poseviz.data.occlusion import occlusion_labels, occlusion_severity
from poseviz.geometry import project, world_to_camera
from poseviz.skeleton import get_skeleton
from poseviz.structures import Camera, PoseSequence

__all__ = [
    "H36M_TEST_SUBJECTS",
    "H36M_TRAIN_SUBJECTS",
    "ClipDataset",
    "VirtualViews",
    "collate",
    "h36m_split",
    "split_by_subject",
    "window_offsets",
    "window_starts",
]

H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")


def split_by_subject(
    sequences: Sequence[PoseSequence],
    train: Sequence[str] = H36M_TRAIN_SUBJECTS,
    test: Sequence[str] = H36M_TEST_SUBJECTS,
) -> tuple[list[PoseSequence], list[PoseSequence]]:
    """Split sequences by ``subject`` into ``(train, test)`` lists; other subjects are left
    out. Raises ``ValueError`` when a subject is in both lists or a split comes out empty."""
    if set(train) & set(test):
        raise ValueError(
            f"split_by_subject: subjects in both splits: {sorted(set(train) & set(test))}"
        )
    tr = [s for s in sequences if s.subject in set(train)]
    te = [s for s in sequences if s.subject in set(test)]
    if not tr or not te:
        found = sorted({s.subject for s in sequences})
        raise ValueError(
            f"split_by_subject: no sequences for {'train' if not tr else 'test'} subjects "
            f"{list(train if not tr else test)}; subjects present: {found}"
        )
    return tr, te


def h36m_split(
    sequences: Sequence[PoseSequence],
) -> tuple[list[PoseSequence], list[PoseSequence]]:
    """Human3.6M's protocol split: train S1, S5, S6, S7, S8; test S9, S11."""
    return split_by_subject(sequences, H36M_TRAIN_SUBJECTS, H36M_TEST_SUBJECTS)


Mode = Literal["center", "sequence"]


def window_offsets(length: int, dilation: int = 1, mode: Mode = "center") -> np.ndarray:
    """``(length,)`` frame offsets of a window from its anchor: centred on the target frame
    (``dilation * (k - length // 2)``) or from the first frame (``dilation * k``)."""
    k = np.arange(length)
    return dilation * (k - length // 2) if mode == "center" else dilation * k


def window_starts(num_frames: int, length: int, dilation: int, stride: int, mode: Mode):
    """Anchors of the windows of a sequence of ``num_frames`` frames: target frames
    ``0, stride, ...`` (centre mode) or first frames ``0, stride, ...`` with the last window
    ending on the last frame (sequence mode; one window from 0 when the sequence is
    shorter than the window's span)."""
    if mode == "center":
        return np.arange(0, num_frames, stride)
    span = dilation * (length - 1) + 1
    last = max(num_frames - span, 0)
    starts = np.arange(0, last + 1, stride)
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts


@dataclass(frozen=True)
class VirtualViews:
    """Random virtual views for mocap (``ClipDataset(views="virtual")``).

    Attributes:
        views_per_sequence: size of each sequence's pool of (camera, body proportions).
        up: the world's up axis (``"z"``; ``"y"`` for BVH).
        azimuth, elevation, roll: ranges in degrees; distance: metres (raised so the whole
            motion stays in view); focal: pixels; principal_jitter: fraction of the
            image size; size: image width and height (see `sample_cameras`).
        bone_scaling: random body proportions per view (None: the mocap's own skeleton).
        redraw_each_epoch: draw new pools at every `ClipDataset.set_epoch` (virtual
            occlusion labels are then recomputed for each epoch's views). Off: the pools
            are drawn once from the seed.
    """

    views_per_sequence: int = 16
    up: str = "z"
    azimuth: tuple[float, float] = (-180.0, 180.0)
    elevation: tuple[float, float] = (-5.0, 35.0)
    distance: tuple[float, float] = (3.0, 8.0)
    focal: tuple[float, float] = (700.0, 1600.0)
    roll: tuple[float, float] = (0.0, 0.0)
    principal_jitter: float = 0.05
    size: tuple[int, int] = (1000, 1000)
    bone_scaling: BoneScaling | None = field(default_factory=BoneScaling)
    redraw_each_epoch: bool = False


def _tensor(x: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(dtype)


def _zoom(px: np.ndarray, principal: np.ndarray, size: np.ndarray, factor: np.ndarray):
    """Scale ``(B, T, J, 2)`` pixels about each item's ``principal`` point ``(B, 2)`` by
    ``factor`` ``(B,)``, lowered where needed so every keypoint stays inside its image
    ``size`` ``(B, 2)`` (never below 1: a window is never zoomed out)."""
    B = len(px)
    c = principal[:, None, None, :]
    d = px - c
    room = np.where(d > 0, size[:, None, None, :] - c, c)  # pixels to the image border
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = np.where(d != 0, room / np.abs(d), np.inf).reshape(B, -1).min(axis=1)
    s = np.maximum(np.minimum(factor, 0.98 * fit), 1.0).astype(px.dtype)
    return c + d * s[:, None, None, None]


def collate(items: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> dict[str, Any]:
    """Batch items of `ClipDataset.__getitem__` (tensors stacked, labels listed). A batch
    that `ClipDataset.__getitems__` already built passes through unchanged."""
    if isinstance(items, Mapping):
        return dict(items)
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else list(values)
    return out


class ClipDataset(Dataset):
    """Windows of T frames over sequences, as batches of the `poseviz.data.batch` contract.

    Args:
        sequences: `PoseSequence` records in the ``skeleton`` layout with world
            ``joints_3d`` (metres, no NaN) and, for ``views="own"``, cameras.
        length: frames per window (T).
        dilation: frame step inside a window.
        stride: step between windows (target frames in centre mode, starts otherwise).
        mode: ``"center"`` (targets ``pose_3d`` ``(B, 1, J, 3)``) or ``"sequence"``
            (``(B, T, J, 3)``).
        views: ``"own"`` (the sequences' cameras) or ``"virtual"`` (see `VirtualViews`).
        virtual: settings of the virtual views.
        cameras: with own views, only these camera ids (default all).
        flip: probability of the left/right flip of an item (``True`` means 0.5).
        zoom: largest focal-length factor of the zoom augmentation (1: off; see above).
        noise: a detector noise model applied to the 2D keypoints (pixels), or None.
        confidence: add a confidence channel to ``keypoints_2d`` and the ``confidence``
            key; default: on when ``noise`` is given or every own view has confidence
            (views without one get confidence 1).
        occlusion: add ``occlusion`` ``(B, T, J)`` and ``severity`` ``(B,)`` from the
            sequences' ``occluded`` labels or, where a view has none,
            `poseviz.data.occlusion.occlusion_labels` (computed once per view, cached).
        seed: seeds the virtual views, the per-item augmentation streams and shuffling.
        skeleton: the joint layout (default h36m17).
    """

    def __init__(
        self,
        sequences: Sequence[PoseSequence],
        *,
        length: int = 27,
        dilation: int = 1,
        stride: int = 1,
        mode: Mode = "center",
        views: Literal["own", "virtual"] = "own",
        virtual: VirtualViews | None = None,
        cameras: Sequence[str] | None = None,
        flip: float | bool = 0.0,
        zoom: float = 1.0,
        noise: DetectorNoise | None = None,
        confidence: bool | None = None,
        occlusion: bool = False,
        seed: int = 0,
        skeleton: str = "h36m17",
    ):
        if mode not in ("center", "sequence"):
            raise ValueError(f"ClipDataset: mode must be 'center' or 'sequence', got {mode!r}")
        if views not in ("own", "virtual"):
            raise ValueError(f"ClipDataset: views must be 'own' or 'virtual', got {views!r}")
        for name, value in (("length", length), ("dilation", dilation), ("stride", stride)):
            if int(value) != value or value < 1:
                raise ValueError(f"ClipDataset: {name} must be a positive integer, got {value!r}")
        flip = 0.5 if flip is True else float(flip)
        if not 0.0 <= flip <= 1.0:
            raise ValueError(f"ClipDataset: flip must be a probability in [0, 1], got {flip}")
        if not zoom >= 1.0:
            raise ValueError(f"ClipDataset: zoom must be a factor >= 1 (1: off), got {zoom}")
        if not sequences:
            raise ValueError("ClipDataset: no sequences")
        self.length, self.dilation, self.stride, self.mode = (
            int(length),
            int(dilation),
            int(stride),
            mode,
        )
        self.views, self.flip, self.noise, self.seed = views, flip, noise, int(seed)
        self.occlusion = bool(occlusion)
        self.zoom = float(zoom)
        self.skeleton = get_skeleton(skeleton)
        self.epoch = 0
        self._offsets = window_offsets(self.length, self.dilation, mode)
        self._perm = np.array(self.skeleton.flip_permutation)
        for seq in sequences:
            if seq.skeleton != skeleton:
                raise ValueError(
                    f"ClipDataset: sequence {seq.name!r} is in layout {seq.skeleton!r}, expected "
                    f"{skeleton!r} (convert it with poseviz.skeleton.convert)"
                )
            if seq.joints_3d is None:
                raise ValueError(f"ClipDataset: sequence {seq.name!r} has no joints_3d")
            if not np.isfinite(seq.joints_3d).all():
                raise ValueError(
                    f"ClipDataset: sequence {seq.name!r} has NaN gaps in joints_3d; fill them "
                    "(the readers' max_gap= option) or cut the sequence"
                )
        self.sequences = list(sequences)
        if views == "own":
            self._build_own(cameras)
            has_conf = all(bool(self._view_has_conf[v]) for v in range(len(self._view_has_conf)))
        else:
            self._build_virtual(virtual or VirtualViews())
            has_conf = False
        self.confidence = (
            (noise is not None or has_conf) if confidence is None else bool(confidence)
        )
        anchors, sources = [], []
        for v, (a, b) in enumerate(zip(self._start, self._stop, strict=True)):
            starts = window_starts(int(b - a), self.length, self.dilation, self.stride, mode)
            anchors.append(a + starts)
            sources.append(np.full(len(starts), v, dtype=np.int64))
        self._win_anchor = np.concatenate(anchors).astype(np.int64)
        self._win_source = np.concatenate(sources)

    # ----------------------------------------------------------------------- construction
    def _build_own(self, cameras: Sequence[str] | None) -> None:
        px, cam3d, conf, occ = [], [], [], []
        starts, stops, sizes, centres, labels, has_conf = [], [], [], [], [], []
        n = 0
        for seq in self.sequences:
            ids = [c for c in seq.cameras if cameras is None or c in cameras]
            for cam_id in ids:
                camera: Camera = seq.cameras[cam_id]
                X = world_to_camera(seq.joints_3d, camera)
                if seq.joints_2d.get(cam_id) is not None:
                    uv = seq.joints_2d[cam_id]
                    if not np.isfinite(uv).all():
                        raise ValueError(
                            f"ClipDataset: sequence {seq.name!r} camera {cam_id!r}: joints_2d "
                            "has NaN; fill or drop those frames first"
                        )
                else:
                    uv = project(seq.joints_3d, camera)
                T = seq.num_frames
                px.append(uv.astype(np.float32))
                cam3d.append(X.astype(np.float32))
                c = seq.confidence.get(cam_id)
                has_conf.append(c is not None)
                conf.append(
                    np.ones(uv.shape[:2], np.float32) if c is None else c.astype(np.float32)
                )
                if self.occlusion:
                    o = seq.occluded.get(cam_id)
                    if o is None:
                        o = occlusion_labels(X, camera, skeleton=self.skeleton)
                    occ.append(np.asarray(o, dtype=bool))
                starts.append(n)
                n += T
                stops.append(n)
                sizes.append((camera.width, camera.height))
                centres.append((camera.cx, camera.cy))
                labels.append((seq.subject, seq.action, seq.name, cam_id))
        if not starts:
            raise ValueError(
                "ClipDataset(views='own'): no (sequence, camera) views; the sequences have no "
                f"cameras{' among ' + str(list(cameras)) if cameras is not None else ''} "
                "(use views='virtual' for mocap without cameras)"
            )
        self._px = np.concatenate(px)
        self._cam3d = np.concatenate(cam3d)
        self._conf = np.concatenate(conf)
        self._occ = np.concatenate(occ) if self.occlusion else None
        self._start, self._stop = np.array(starts), np.array(stops)
        self._size = np.array(sizes, dtype=np.float32)
        self._centre = np.array(centres, dtype=np.float32)
        self._labels = labels
        self._label_table = np.array(labels, dtype=object)  # (views, 4): gathered per batch
        self._view_has_conf = np.array(has_conf)

    def _build_virtual(self, cfg: VirtualViews) -> None:
        if cfg.views_per_sequence < 1:
            raise ValueError("VirtualViews.views_per_sequence must be >= 1")
        world, starts, stops, labels = [], [], [], []
        n = 0
        for seq in self.sequences:
            world.append(seq.joints_3d.astype(np.float32))
            starts.append(n)
            n += seq.num_frames
            stops.append(n)
            labels.append((seq.subject, seq.action, seq.name))
        self._world = np.concatenate(world)
        self._start, self._stop = np.array(starts), np.array(stops)
        self._labels = labels
        self._label_table = np.array(labels, dtype=object)  # (sequences, 3)
        self._virtual = cfg
        self._lengths = [
            np.median(bone_lengths(s.joints_3d, self.skeleton), axis=0) for s in self.sequences
        ]
        self._draw_views(0)

    def _draw_views(self, draw: int) -> None:
        """Draw every sequence's pool of (body proportions, camera) from (seed, draw)."""
        cfg = self._virtual
        rng = np.random.default_rng(mix_keys(self.seed, 0x7631, draw).item())
        J = self.skeleton.num_joints
        cams, scales = [], []
        for seq, lengths in zip(self.sequences, self._lengths, strict=True):
            for j in range(cfg.views_per_sequence):
                s = (
                    cfg.bone_scaling.sample(rng, lengths=lengths)
                    if cfg.bone_scaling is not None
                    else np.ones(J)
                )
                camera = sample_cameras(
                    rng,
                    1,
                    scale_bones(seq.joints_3d, s, self.skeleton),
                    up=cfg.up,
                    azimuth=cfg.azimuth,
                    elevation=cfg.elevation,
                    distance=cfg.distance,
                    focal=cfg.focal,
                    principal_jitter=cfg.principal_jitter,
                    size=cfg.size,
                    roll=cfg.roll,
                )[0]
                cams.append(replace(camera, id=f"virtual{j}"))
                scales.append(s)
        self._views_drawn = draw
        self._virtual_cameras = cams
        self._camera_ids = np.array([c.id for c in cams], dtype=object)
        self._stacked = stack_cameras(cams)
        self._scales = np.array(scales, dtype=np.float32)  # (S * K, J)
        self._occ_cache: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self._win_anchor)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation streams (and shuffling) of ``epoch``; with
        ``VirtualViews(redraw_each_epoch=True)`` also draw the epoch's virtual views."""
        self.epoch = int(epoch)
        if self.views == "virtual" and self._virtual.redraw_each_epoch:
            if self._views_drawn != self.epoch:
                self._draw_views(self.epoch)

    @property
    def num_views(self) -> int:
        """Own views: (sequence, camera) pairs; virtual: sequences x views per sequence."""
        if self.views == "own":
            return len(self._labels)
        return len(self._virtual_cameras)

    def virtual_camera(self, sequence: int, view: int) -> Camera:
        """The ``view``-th virtual camera of sequence number ``sequence``."""
        return self._virtual_cameras[sequence * self._virtual.views_per_sequence + view]

    def virtual_view(self, sequence: int, view: int) -> tuple[np.ndarray, Camera]:
        """World joints ``(T, J, 3)`` (m, with that view's body proportions) and camera of
        the ``view``-th virtual view of sequence number ``sequence``."""
        k = sequence * self._virtual.views_per_sequence + view
        a, b = self._start[sequence], self._stop[sequence]
        joints = scale_bones(self._world[a:b], self._scales[k], self.skeleton)
        return joints, self._virtual_cameras[k]

    def _virtual_occlusion(self, k: int) -> np.ndarray:
        if k not in self._occ_cache:
            s = k // self._virtual.views_per_sequence
            joints, camera = self.virtual_view(s, k % self._virtual.views_per_sequence)
            X = world_to_camera(joints.astype(np.float64), camera)
            self._occ_cache[k] = np.asarray(
                occlusion_labels(X, camera, skeleton=self.skeleton), dtype=bool
            )
        return self._occ_cache[k]

    def precompute_occlusion(self, *, progress: bool = True) -> None:
        """Label every virtual view now (otherwise each is labelled on its first use)."""
        if not self.occlusion or self.views != "virtual":
            return
        from tqdm.auto import tqdm

        for k in tqdm(
            range(self.num_views), desc="occlusion labels", unit="view", disable=not progress
        ):
            self._virtual_occlusion(k)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One item: the batch of ``[index]`` without its batch axis."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"ClipDataset index {index} out of range ({len(self)} windows)")
        batch = self.__getitems__([index % len(self)])
        return {k: (v[0] if isinstance(v, torch.Tensor | list) else v) for k, v in batch.items()}

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        """A batch dict (`poseviz.data.batch` contract) of the windows ``indices`` (B):

        ``keypoints_2d`` ``(B, T, J, 2 or 3)`` normalised screen coordinates (+ confidence),
        ``pose_3d`` ``(B, 1 or T, J, 3)`` and ``pose_3d_sequence`` ``(B, T, J, 3)``
        root-relative camera-frame metres, ``confidence`` ``(B, T, J)`` and ``occlusion``
        ``(B, T, J)`` / ``severity`` ``(B,)`` when enabled, ``frame`` ``(B,)`` and the
        label lists ``subject``, ``action``, ``sequence``, ``camera``. Built in one
        vectorised pass; DataLoader calls it with each batch's indices.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size == 0:
            raise ValueError("ClipDataset.__getitems__: empty index list")
        if idx.min() < 0 or idx.max() >= len(self):
            raise IndexError(f"ClipDataset indices out of range ({len(self)} windows)")
        B, T = len(idx), self.length
        rng = KeyedRandom(mix_keys(self.seed, self.epoch, idx))
        source = self._win_source[idx]
        lo, hi = self._start[source], self._stop[source] - 1
        frames = np.clip(self._win_anchor[idx][:, None] + self._offsets, lo[:, None], hi[:, None])
        occ = None
        if self.views == "virtual":
            K = self._virtual.views_per_sequence
            view = source * K + rng.integers(0, K, (B,))
            X = scale_bones(self._world[frames], self._scales[view][:, None], self.skeleton)
            cam3d, px = project_stacked(X, self._stacked.take(view))
            size = self._stacked.size[view].astype(np.float32)
            conf = None
            if self.occlusion:
                occ = np.stack(
                    [
                        self._virtual_occlusion(int(k))[f - a]
                        for k, f, a in zip(view, frames, lo, strict=True)
                    ]
                )
            cameras = self._camera_ids[view]
        else:
            cam3d, px = self._cam3d[frames], self._px[frames]
            size = self._size[source]
            conf = self._conf[frames]
            if self.occlusion:
                occ = self._occ[frames]
            cameras = self._label_table[source, 3]
        if self.noise is not None:
            px, conf = self.noise(px, rng, occluded=occ)
        if self.zoom > 1:
            virtual = self.views == "virtual"
            principal = self._stacked.center[view] if virtual else self._centre[source]
            px = _zoom(px, principal.astype(np.float32), size, self.zoom ** rng.random((B,)))
        w, h = size[:, 0][:, None, None, None], size[:, 1][:, None, None, None]
        kp = px / w * 2 - np.concatenate([np.ones_like(h), h / w], axis=-1)
        root = self.skeleton.root
        pose = cam3d - cam3d[:, :, root : root + 1]
        flipped = rng.random((B,)) < self.flip if self.flip > 0 else np.zeros(B, bool)
        if flipped.any():
            kp[flipped] = kp[flipped][:, :, self._perm]
            kp[flipped, ..., 0] *= -1
            pose[flipped] = pose[flipped][:, :, self._perm]
            pose[flipped, ..., 0] *= -1
            if conf is not None:
                conf[flipped] = conf[flipped][:, :, self._perm]
            if occ is not None:
                occ[flipped] = occ[flipped][:, :, self._perm]
        centre = T // 2 if self.mode == "center" else None
        batch: dict[str, Any] = {}
        if self.confidence:
            c = np.ones(kp.shape[:-1], np.float32) if conf is None else conf
            batch["keypoints_2d"] = _tensor(np.concatenate([kp, c[..., None]], axis=-1))
            batch["confidence"] = _tensor(c)
        else:
            batch["keypoints_2d"] = _tensor(kp)
        pose_t = _tensor(pose)
        batch["pose_3d"] = pose_t[:, centre : centre + 1].clone() if centre is not None else pose_t
        batch["pose_3d_sequence"] = pose_t
        if occ is not None:
            target = occ[:, T // 2]
            batch["occlusion"] = _tensor(occ)
            batch["severity"] = torch.from_numpy(occlusion_severity(target, skeleton=self.skeleton))
        batch["frame"] = torch.from_numpy(frames[:, T // 2] - self._start[source])
        labels = self._label_table[source]
        batch["subject"] = labels[:, 0].tolist()
        batch["action"] = labels[:, 1].tolist()
        batch["sequence"] = labels[:, 2].tolist()
        batch["camera"] = cameras.tolist()
        return batch

    # ------------------------------------------------------------------------ iteration
    def _order(self, shuffle: bool) -> np.ndarray:
        if not shuffle:
            return np.arange(len(self))
        key = mix_keys(self.seed, self.epoch, 0x5F).item()
        return np.random.default_rng(key).permutation(len(self))

    def batches(
        self, batch_size: int, *, shuffle: bool = True, drop_last: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Batches of the current epoch without a DataLoader (seeded order when shuffled)."""
        order = self._order(shuffle)
        stop = len(order) - (len(order) % batch_size if drop_last else 0)
        for i in range(0, stop, batch_size):
            yield self.__getitems__(order[i : i + batch_size])

    def loader(
        self,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        num_workers: int = 0,
        **kwargs: Any,
    ) -> DataLoader:
        """A ``DataLoader`` that builds each batch with one `__getitems__` call, in the same
        order as `batches` (seeded; call `set_epoch` before each epoch)."""
        return DataLoader(
            self,
            batch_size=batch_size,
            sampler=_EpochOrder(self, shuffle),
            drop_last=drop_last,
            num_workers=num_workers,
            collate_fn=collate,
            **kwargs,
        )


class _EpochOrder(Sampler[int]):
    """The dataset's seeded order of its current epoch."""

    def __init__(self, dataset: ClipDataset, shuffle: bool):
        self.dataset, self.shuffle = dataset, shuffle

    def __iter__(self) -> Iterator[int]:
        return iter(self.dataset._order(self.shuffle).tolist())

    def __len__(self) -> int:
        return len(self.dataset)
