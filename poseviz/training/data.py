"""The trainer's side of the data pipeline: dataset sources by name, a deterministic
resumable batch sampler, flip augmentation on batches and a data fingerprint.

Sources. ``data.source`` in a config names a registered source or a
``"package.module:function"``; either is called as
``factory(config: DataConfig, *, model: LiftingModel, seed: int)`` and returns
``(train_dataset, val_dataset_or_None)``: map-style ``torch.utils.data.Dataset`` objects
whose items are dicts of per-sample tensors (the batch contract of `poseviz.data.batch`
without the batch axis; string labels allowed), or that build whole batches in
``__getitems__(indices)`` (`poseviz.data.clips.ClipDataset` does). A dataset may define
``set_epoch(epoch)``: the trainer calls it before each epoch, so augmentation that draws
from ``(seed, epoch, index)`` makes every epoch reproducible and a resumed run exact. A
dataset whose ``mirrors_itself`` attribute is true flips its own items (``data.flip``
was passed to it); the trainer then leaves its batches alone.

Order. `EpochBatchSampler` draws one permutation per epoch from ``(seed, epoch)``, cuts it
into global batches of ``batch_size`` and gives each DDP rank a contiguous slice of every
global batch, so one process and N processes see the same samples in each step. It can
start mid-epoch (resume).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from poseviz.skeleton import get_skeleton

__all__ = [
    "DATA_SOURCES",
    "collate",
    "EpochBatchSampler",
    "build_datasets",
    "data_fingerprint",
    "derive_seed",
    "flip_batch",
    "flip_mask",
    "register_data_source",
]

DataFactory = Callable[..., tuple[Dataset, Dataset | None]]
DATA_SOURCES: dict[str, DataFactory] = {}


def register_data_source(name: str) -> Callable[[DataFactory], DataFactory]:
    """Decorator registering a data source factory under ``name`` (see the module docstring)."""

    def decorate(factory: DataFactory) -> DataFactory:
        if name in DATA_SOURCES:
            raise ValueError(f"data source {name!r} is already registered")
        DATA_SOURCES[name] = factory
        return factory

    return decorate


def _resolve_source(source: str) -> DataFactory:
    import poseviz.training.sources  # noqa: F401  (registers "demo" and "motion")

    if source in DATA_SOURCES:
        return DATA_SOURCES[source]
    if ":" in source:
        module, _, func = source.partition(":")
        try:
            factory = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"data.source {source!r}: cannot import it: {err}") from None
        if not callable(factory):
            raise ValueError(f"data.source {source!r}: {func} is not callable")
        return factory
    raise ValueError(
        f"data.source: unknown source {source!r}; registered: {sorted(DATA_SOURCES)} "
        "(or give 'package.module:function')"
    )


def build_datasets(config: Any, *, model: Any, seed: int) -> tuple[Dataset, Dataset | None]:
    """``(train, val)`` datasets of a `DataConfig`."""
    train, val = _resolve_source(config.source)(config, model=model, seed=seed)
    for what, ds in (("train", train), ("validation", val)):
        if ds is not None and not hasattr(ds, "__getitem__"):
            raise ValueError(f"data.source {config.source!r}: the {what} dataset is not map-style")
    if len(train) == 0:
        raise ValueError(f"data.source {config.source!r}: the training dataset is empty")
    return train, val


def collate(items: Any) -> dict[str, Any]:
    """Batch items (tensors stacked, labels listed); a batch a dataset's ``__getitems__``
    already built passes through."""
    if isinstance(items, Mapping):
        return dict(items)
    from torch.utils.data import default_collate

    return default_collate(list(items))


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixing integers (numpy's SeedSequence), for per-epoch/per-step RNGs."""
    return int(
        np.random.SeedSequence([int(p) & 0xFFFFFFFFFFFFFFFF for p in parts]).generate_state(
            1, np.uint64
        )[0]
        >> 1
    )


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of indices for one epoch, identical for any number of ranks.

    Args:
        n: dataset length.
        batch_size: global batch size; each of ``world_size`` ranks gets
            ``batch_size // world_size`` (must divide).
        seed: base seed; epoch ``e`` uses the permutation of ``derive_seed(seed, e)``.
        shuffle: False keeps dataset order (validation).
        drop_last: drop the last incomplete global batch (training).
        rank, world_size: this process's DDP rank. Without shuffle (validation) ranks take
            whole batches in turn instead of slices.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if shuffle and batch_size % world_size:
            raise ValueError(
                f"data.batch_size {batch_size} is not divisible by the {world_size} processes"
            )
        if drop_last and n < batch_size:
            raise ValueError(
                f"the training dataset has {n} samples, fewer than data.batch_size {batch_size}"
            )
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.start = 0

    @property
    def batches_per_epoch(self) -> int:
        """Global batches (optimiser steps) in one epoch."""
        full, rest = divmod(self.n, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Choose the epoch and the global batch to start from."""
        self.epoch, self.start = int(epoch), int(start)

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.n)
        g = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch))
        return torch.randperm(self.n, generator=g)

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        B = self.batch_size
        for b in range(self.start, self.batches_per_epoch):
            idx = order[b * B : (b + 1) * B]
            if self.shuffle:
                per = B // self.world_size
                yield idx[self.rank * per : (self.rank + 1) * per].tolist()
            elif b % self.world_size == self.rank:
                yield idx.tolist()

    def __len__(self) -> int:
        remaining = max(0, self.batches_per_epoch - self.start)
        if self.shuffle:
            return remaining
        return len(range(self.start + self.rank, self.batches_per_epoch, self.world_size))


_FLIP_TAG = 0xF11B  # mixed into the flip seeds so they differ from the data order's
_FLIP_XJ = ("keypoints_2d", "pose_3d", "pose_3d_sequence")  # (B, T, J, C): mirror x, swap
_FLIP_J = ("occlusion", "confidence")  # (B, T, J): swap
_NO_FLIP = ("image", "keypoints_2d_heatmap")


def flip_mask(
    seed: int, step: int, batch_size: int, *, rank: int = 0, world_size: int = 1
) -> torch.Tensor:
    """``(batch_size // world_size,)`` bool: which samples of this rank's share of step
    ``step``'s global batch are flipped (half on average; a pure function of seed and step,
    so resumed and multi-process runs flip the same samples)."""
    g = torch.Generator().manual_seed(derive_seed(seed, step, _FLIP_TAG))
    mask = torch.rand(batch_size, generator=g) < 0.5
    per = batch_size // world_size
    return mask[rank * per : (rank + 1) * per]


def flip_batch(
    batch: Mapping[str, Any], mask: torch.Tensor, skeleton: str = "h36m17"
) -> dict[str, Any]:
    """Left/right flip of the samples selected by ``mask`` ``(B,)`` bool.

    ``keypoints_2d`` (normalised, centred on 0), ``pose_3d`` and ``pose_3d_sequence``
    (root-relative camera frame) get x negated and left/right joints swapped (see
    `poseviz.skeleton.flip_pose`); ``occlusion`` and ``confidence`` ``(B, T, J)`` get the
    joints swapped. Batches with images are refused: mirror those in the dataset.
    """
    bad = [k for k in _NO_FLIP if k in batch]
    if bad:
        raise ValueError(
            f"data.flip: batches with {bad} cannot be flipped by the trainer; set data.flip: "
            "false (and let the image dataset mirror its crops)"
        )
    perm = list(get_skeleton(skeleton).flip_permutation)
    out = dict(batch)
    if not bool(mask.any()):
        return out
    for key in _FLIP_XJ:
        if key in batch:
            x = batch[key]
            if x.shape[-2] != len(perm):
                raise ValueError(
                    f"data.flip: batch[{key!r}] has {x.shape[-2]} joints, the {skeleton} layout {len(perm)}"
                )
            sign = torch.ones(x.shape[-1], dtype=x.dtype, device=x.device)
            sign[0] = -1
            flipped = x[..., perm, :] * sign
            m = mask.to(x.device).view(-1, *([1] * (x.ndim - 1)))
            out[key] = torch.where(m, flipped, x)
    for key in _FLIP_J:
        if key in batch:
            x = batch[key]
            m = mask.to(x.device).view(-1, *([1] * (x.ndim - 1)))
            out[key] = torch.where(m, x[..., perm], x)
    return out


def _sample_digest(item: Any, h: Any) -> None:
    if isinstance(item, Mapping):
        for k in sorted(item):
            h.update(str(k).encode())
            _sample_digest(item[k], h)
    elif isinstance(item, torch.Tensor):
        h.update(str(tuple(item.shape)).encode())
        h.update(item.detach().cpu().contiguous().numpy().tobytes())
    elif isinstance(item, np.ndarray):
        h.update(np.ascontiguousarray(item).tobytes())
    else:
        h.update(repr(item).encode())


def data_fingerprint(config: Any, train: Dataset, val: Dataset | None) -> str:
    """SHA-256 (16 hex digits) of the data config, the dataset sizes and three training
    samples (first, middle, last); a dataset's own ``fingerprint()`` is used when it has one.
    A resumed run refuses to continue on different data."""
    h = hashlib.sha256()
    plain = {
        k: getattr(config, k)
        for k in ("source", "paths", "include_demo", "batch_size", "flip", "options")
    }
    h.update(json.dumps(plain, sort_keys=True, default=str).encode())
    h.update(f"{len(train)}:{len(val) if val is not None else -1}".encode())
    own = getattr(train, "fingerprint", None)
    if callable(own):
        h.update(str(own()).encode())
    else:
        n = len(train)
        if hasattr(train, "set_epoch"):
            train.set_epoch(0)
        for i in sorted({0, n // 2, n - 1}):
            _sample_digest(train[i], h)
    return h.hexdigest()[:16]
