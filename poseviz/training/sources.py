"""The built-in data sources of training configs: ``demo`` and ``motion``.

``source: demo``
    trains on the demo dataset's training clips (`poseviz.data.load_demo`, subject
    ``"train"``) seen by random virtual cameras with random body proportions
    (`poseviz.data.clips.ClipDataset` with ``views="virtual"``: a pool of
    ``views_per_sequence`` cameras per clip, each with its own `BoneScaling` draw), and
    validates on the held-out clips (subject ``"val"``) through their four fixed cameras.
    ``paths`` adds motion files, as ``motion`` does.
``source: motion``
    trains on the motion files or folders in ``paths`` (anything `poseviz.data.load` reads
    into h36m17 3D: BVH, C3D, TRC, DeepMimic, ...), plus the demo training clips when
    ``include_demo``; validation is the demo's held-out clips. Each file's up axis is
    detected over all of its clips (`poseviz.data.axes.up_axis`), so Y-up BVH and the Z-up
    demo mix. The CMU clips of
    ``../shared/data`` are the public CMU Graphics Lab motions (see that folder's README for
    where anyone gets them); configs point at them as
    ``${POSEVIZ_SHARED_DATA:-../shared/data}/cmu_bvh_acrnn`` (`expand_path`: the variable
    when set, else the folder beside the checkout, relative to the working directory).

Models that read ``image`` (Lifting by Image, DG-CNN's Feature-Net) train on synthetic
person crops of the same clips (`poseviz.data.synthetic.SyntheticImageDataset`, through
each clip's cameras; mocap without cameras gets a Human3.6M-like rig), cached in memory
after their first rendering when ``cache_images``.

Clip shape comes from the model: centre-frame models get windows of their receptive field
around a target frame; sequence models windows of ``length`` frames (default their
receptive field, or 27 frames for per-frame models). The keys of ``data.options``
(`ClipOptions`) are checked like the rest of the config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from poseviz.structures import PoseSequence
from poseviz.training.data import register_data_source

__all__ = [
    "MIN_FRAMES",
    "ClipOptions",
    "ConcatClips",
    "clip_options",
    "clip_shape",
    "demo_source",
    "expand_path",
    "motion_source",
]


@dataclass
class ClipOptions:
    """``data.options`` of the ``demo`` and ``motion`` sources.

    Attributes:
        length: frames per window (default: `clip_shape`).
        stride, val_stride: step between training / validation windows (validation default:
            the window length for sequence models, 4 frames for centre-frame models).
        views_per_sequence: virtual cameras (each with its own body proportions) per clip.
        azimuth, elevation, distance, focal: ranges of the virtual cameras (degrees, metres,
            pixels; see `poseviz.data.clips.VirtualViews`).
        roll: range of the virtual cameras' turn about their viewing direction (degrees;
            default none): real footage is rarely level (hand-held phones, tripods on
            uneven ground), and models that never saw a tilted person misjudge one.
        bone_scaling: random body proportions per view; ``size_range`` (global factor) and
            ``bone_range`` (per bone, mirrored bones alike) set how much.
        noise: detector-like 2D noise (`poseviz.data.cameras.DetectorNoise`); ``True`` for
            its defaults or a mapping of its fields.
        confidence: add the confidence channel (default: when the model's config has
            ``in_channels: 3``, as RePOSE's does).
        occlusion: add occlusion labels and severities (default: when the model reads
            ``occlusion``).
        target_fps: resample motion files to about this rate (every k-th frame).
        zoom: largest focal-length factor of the zoom augmentation of the training views
            (`poseviz.data.clips.ClipDataset`; 1: off): people framed as closely as in
            hand-held video, not only as small as a camera that keeps a whole clip in view.
        bvh_mapping: joint map of the BVH files in ``paths`` (a name in
            `poseviz.data.bvh.BVH_MAPS`; default: picked from each file's joint names).
            ``cmu_daz_detector`` builds the CMU clips' spine, thorax, neck_nose and head
            from shoulders, hips, nose and eyes as 2D detectors' keypoints do, for models
            that lift real video.
        demo_repeat: how many times the demo training clips count per epoch beside the
            motion files (each copy gets its own pool of virtual views), so that a few
            demo clips are not drowned by hours of mocap: the held-out clips are demo clips.
        image_size, heatmap_size, image_stride, cache_images: synthetic crops for image
            models (defaults: the model's ``image_size``, a quarter of it, every 4th frame,
            cached).
    """

    length: int | None = None
    stride: int = 1
    val_stride: int | None = None
    views_per_sequence: int = 16
    azimuth: tuple[float, float] = (-180.0, 180.0)
    elevation: tuple[float, float] = (-5.0, 35.0)
    distance: tuple[float, float] = (3.0, 8.0)
    focal: tuple[float, float] = (700.0, 1600.0)
    roll: tuple[float, float] = (0.0, 0.0)
    bone_scaling: bool = True
    size_range: tuple[float, float] = (0.85, 1.15)
    bone_range: tuple[float, float] = (0.9, 1.1)
    noise: bool | dict[str, float] = False
    confidence: bool | None = None
    occlusion: bool | None = None
    target_fps: float | None = None
    zoom: float = 1.0
    bvh_mapping: str | None = None
    demo_repeat: int = 1
    image_size: tuple[int, int] | None = None
    heatmap_size: tuple[int, int] | None = None
    image_stride: int = 4
    cache_images: bool = True


def clip_shape(model: Any, length: int | None = None) -> tuple[int, str]:
    """``(frames, mode)`` of the windows a model trains on: ``("center", receptive field)``
    for centre-frame models; ``("sequence", length or receptive field or 27)`` otherwise."""
    rf = int(getattr(model, "receptive_field", 1))
    if getattr(model, "predicts", "sequence") == "centre":
        if length is not None and length != rf:
            raise ValueError(
                f"data.options.length: {type(model).__name__} predicts the centre frame of "
                f"{rf}-frame windows; length {length} does not fit (leave it out)"
            )
        return rf, "center"
    return int(length or (rf if rf > 1 else 27)), "sequence"


def clip_options(config: Any) -> ClipOptions:
    """A data config's ``options`` as `ClipOptions` (defaults filled in, keys checked)."""
    from poseviz.training.config import _from_mapping

    return _from_mapping(ClipOptions, dict(config.options), "config.data.options")


Group = tuple[tuple[float, float, float], list[PoseSequence]]  # (world up axis, sequences)
DEMO_UP = (0.0, 0.0, 1.0)  # the demo's world is Z up (poseviz.data.demo)


def _demo(split: str, repeat: int = 1) -> list[PoseSequence]:
    from poseviz.data import load_demo

    if repeat < 1:
        raise ValueError(
            f"config.data.options.demo_repeat: expected an integer >= 1, got {repeat!r}"
        )
    return [s for s in load_demo(progress=True) if s.subject == split] * repeat


def _resample(seq: PoseSequence, target_fps: float | None) -> PoseSequence:
    if not target_fps or seq.fps <= target_fps * 1.25:
        return seq
    k = max(1, round(seq.fps / target_fps))
    idx = np.arange(0, seq.num_frames, k)
    return PoseSequence(
        name=seq.name,
        subject=seq.subject,
        action=seq.action,
        fps=seq.fps / k,
        skeleton=seq.skeleton,
        joints_3d=None if seq.joints_3d is None else seq.joints_3d[idx],
        cameras=dict(seq.cameras),
        joints_2d={c: v[idx] for c, v in seq.joints_2d.items()},
        confidence={c: v[idx] for c, v in seq.confidence.items()},
        occluded={c: v[idx] for c, v in seq.occluded.items()},
    )


_VAR = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def expand_path(raw: str) -> Path:
    """``$VAR``, ``${VAR}`` and ``${VAR:-default}`` (environment variables) and ``~``
    expanded; an unset variable without a default raises ``ValueError``."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3)
        value = os.environ.get(name)
        if value is None:
            if m.group(2) is None:
                raise ValueError(
                    f"data.paths: {raw!r} names the unset environment variable {name} "
                    "(set it, or write ${" + name + ":-default})"
                )
            value = m.group(2)
        return value

    return Path(os.path.expanduser(_VAR.sub(repl, raw)))


MIN_FRAMES = 10  # shorter motion files (a BVH rest pose, say) are not training clips


def _motion(
    paths: Sequence[str], target_fps: float | None, bvh_mapping: str | None = None
) -> list[Group]:
    """One group per path: its sequences and their up axis, detected over all of them (a
    clip spent lying down cannot mislead it). ``bvh_mapping`` names the joint map of the
    BVH files (`poseviz.data.bvh.BVH_MAPS`)."""
    from poseviz.data import load
    from poseviz.data.axes import up_axis
    from poseviz.data.bvh import BVH_MAPS

    if bvh_mapping is not None and bvh_mapping not in BVH_MAPS:
        raise ValueError(
            f"config.data.options.bvh_mapping: unknown map {bvh_mapping!r}; "
            f"known: {sorted(BVH_MAPS)}"
        )
    groups = []
    for raw in paths:
        path = expand_path(raw)
        if not path.exists():
            raise FileNotFoundError(f"data.paths: {path}: no such file or folder")
        out = []
        for seq in load(path, **_load_options(path, bvh_mapping)):
            if seq.num_frames < MIN_FRAMES:
                continue
            if seq.joints_3d is None:
                raise ValueError(f"data.paths: {path}: sequence {seq.name!r} has no 3D to train on")
            if seq.skeleton != "h36m17":
                raise ValueError(f"data.paths: {path}: {seq.name!r} is in layout {seq.skeleton!r}")
            if not np.isfinite(seq.joints_3d).all():
                continue  # gaps: the clip dataset refuses them; such clips are skipped
            out.append(_resample(seq, target_fps))
        if not out:
            raise ValueError(f"data.paths: {path}: no usable motion")
        up = up_axis(np.concatenate([s.joints_3d for s in out]))
        groups.append((tuple(float(v) for v in up), out))
    return groups


def _load_options(path: Path, bvh_mapping: str | None) -> dict[str, Any]:
    if bvh_mapping is None:
        return {}
    if path.is_file() and path.suffix.lower() != ".bvh":
        raise ValueError(
            f"config.data.options.bvh_mapping: data.paths entry {path} is not a BVH file"
        )
    return {"mapping": bvh_mapping}


class ConcatClips(Dataset):
    """Several clip datasets as one, with ``set_epoch`` and batched ``__getitems__``
    (batches keep the requested order)."""

    def __init__(self, parts: Sequence[Dataset]) -> None:
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def set_epoch(self, epoch: int) -> None:
        for p in self.parts:
            if hasattr(p, "set_epoch"):
                p.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        k = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return self.parts[k][index - int(self.offsets[k])]

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= len(self):
            raise IndexError(f"ConcatClips: indices out of range ({len(self)} items)")
        part = np.searchsorted(self.offsets, idx, side="right") - 1
        pieces, order = [], []
        for k in np.unique(part):
            sel = np.flatnonzero(part == k)
            sub = (idx[sel] - self.offsets[k]).tolist()
            ds = self.parts[int(k)]
            pieces.append(
                ds.__getitems__(sub)
                if hasattr(ds, "__getitems__")
                else _stack([ds[i] for i in sub])
            )
            order.append(sel)
        inverse = np.argsort(np.concatenate(order), kind="stable")
        out = {}
        for key in pieces[0]:
            values = [p[key] for p in pieces]
            if isinstance(values[0], torch.Tensor):
                out[key] = torch.cat(values)[torch.from_numpy(inverse)]
            else:
                flat = [v for vs in values for v in vs]
                out[key] = [flat[i] for i in inverse]
        return out


def _stack(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {
        k: torch.stack([it[k] for it in items])
        if isinstance(items[0][k], torch.Tensor)
        else [it[k] for it in items]
        for k in items[0]
    }


class _CachedImages(Dataset):
    """A `SyntheticImageDataset` whose renders are kept (images as uint8) after first use."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.cache: dict[int, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.cache.get(i)
        if item is None:
            item = dict(self.dataset[i])
            item.pop("mask", None)
            item["image"] = (item["image"] * 255).round().to(torch.uint8)
            self.cache[i] = item
        return {**item, "image": item["image"].float() / 255.0}


def _with_cameras(groups: Sequence[Group], seed: int) -> list[PoseSequence]:
    """The sequences, each with cameras (a Human3.6M-like rig for mocap without any)."""
    from poseviz.data.cameras import attach_cameras, h36m_like_rig

    out = []
    for up, seqs in groups:
        for s in seqs:
            if not s.cameras:
                s = attach_cameras(s, h36m_like_rig(s.joints_3d, up=list(up), seed=seed + len(out)))
            out.append(s)
    return out


def _image_sets(
    train: Sequence[Group], val: list[PoseSequence], o: ClipOptions, model: Any, seed: int
) -> tuple[Dataset, Dataset]:
    from poseviz.data.synthetic import SyntheticImageDataset

    if tuple(o.roll) != (0.0, 0.0) or o.zoom != 1.0:
        raise ValueError(
            "config.data.options: roll and zoom turn and scale the virtual cameras of keypoint "
            "models; image models train through each clip's fixed rig (leave them out)"
        )
    size = tuple(o.image_size or getattr(model.config, "image_size", (256, 256)))
    kw = dict(size=size, heatmap_size=o.heatmap_size, stride=o.image_stride)
    tr = SyntheticImageDataset(_with_cameras(train, seed), seed=seed, **kw)
    va = SyntheticImageDataset(val, seed=seed + 1, **{**kw, "stride": o.val_stride or 8})
    if o.cache_images:
        return _CachedImages(tr), _CachedImages(va)
    return tr, va


def _clip_sets(
    train: Sequence[Group], val: Sequence[PoseSequence], config: Any, model: Any, seed: int
) -> tuple[Dataset, Dataset | None]:
    from poseviz.data.augment import BoneScaling
    from poseviz.data.cameras import DetectorNoise
    from poseviz.data.clips import ClipDataset, VirtualViews

    o = clip_options(config)
    inputs = tuple(getattr(model, "inputs", ("keypoints_2d",)))
    if "image" in inputs:
        return _image_sets(train, val, o, model, seed)
    length, mode = clip_shape(model, o.length)
    noise = None
    if o.noise:
        noise = DetectorNoise(**(o.noise if isinstance(o.noise, dict) else {}))
    occlusion = ("occlusion" in inputs) if o.occlusion is None else o.occlusion
    confidence = o.confidence
    if confidence is None:
        confidence = getattr(getattr(model, "config", None), "in_channels", 2) == 3
    common = dict(length=length, mode=mode, noise=noise, confidence=confidence, occlusion=occlusion)
    scaling = (
        BoneScaling(size_range=o.size_range, bone_range=o.bone_range) if o.bone_scaling else None
    )
    groups: dict[tuple[float, ...], list[PoseSequence]] = {}
    for up, seqs in train:
        groups.setdefault(up, []).extend(seqs)
    parts = []
    for i, (up, seqs) in enumerate(groups.items()):
        virtual = VirtualViews(
            views_per_sequence=o.views_per_sequence,
            up=list(up),
            azimuth=o.azimuth,
            elevation=o.elevation,
            distance=o.distance,
            focal=o.focal,
            roll=o.roll,
            bone_scaling=scaling,
        )
        parts.append(
            ClipDataset(
                seqs,
                views="virtual",
                virtual=virtual,
                stride=o.stride,
                flip=0.5 if config.flip else 0.0,
                zoom=o.zoom,
                seed=seed + 7919 * i,
                **common,
            )
        )
    train_ds: Dataset = parts[0] if len(parts) == 1 else ConcatClips(parts)
    train_ds.mirrors_itself = True  # ClipDataset flips items itself (flip=0.5 when data.flip)
    val_stride = o.val_stride or (length if mode == "sequence" else 4)
    val_ds = (
        ClipDataset(val, views="own", stride=val_stride, flip=0.0, seed=seed + 1, **common)
        if val
        else None
    )
    return train_ds, val_ds


@register_data_source("demo")
def demo_source(config: Any, *, model: Any, seed: int) -> tuple[Dataset, Dataset | None]:
    """Demo training clips (plus ``paths``) under random virtual cameras; demo validation
    clips through their own cameras (module docstring)."""
    o = clip_options(config)
    train: list[Group] = [(DEMO_UP, _demo("train", o.demo_repeat))]
    if config.paths:
        train += _motion(config.paths, o.target_fps, o.bvh_mapping)
    return _clip_sets(train, _demo("val"), config, model, seed)


@register_data_source("motion")
def motion_source(config: Any, *, model: Any, seed: int) -> tuple[Dataset, Dataset | None]:
    """The motion in ``paths`` (plus the demo training clips when ``include_demo``);
    validation on the demo's held-out clips."""
    if not config.paths:
        raise ValueError("data.source 'motion' needs data.paths (motion files or folders)")
    o = clip_options(config)
    train = _motion(config.paths, o.target_fps, o.bvh_mapping)
    if config.include_demo:
        train = [(DEMO_UP, _demo("train", o.demo_repeat)), *train]
    return _clip_sets(train, _demo("val"), config, model, seed)
