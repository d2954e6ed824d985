"""Random numbers for batches: one independent, reproducible stream per item.

`KeyedRandom` draws ``(B, ...)`` arrays whose row ``b`` depends only on ``keys[b]`` and on
the sequence of draws made so far (their sizes), never on the other rows. A dataset that
keys its items by ``(seed, epoch, index)`` therefore gives every item the same augmentation
whether it is fetched alone, in any batch, or in any DataLoader worker.

Speed comes from a noise table (the trick of OpenAI's evolution strategies): two fixed
tables of 2^21 uniform and standard normal float32 values are drawn once per process from
a fixed seed, and each draw of a row reads a contiguous run of a table from an offset
hashed (SplitMix64) from the row's key and a draw counter. A batch's draws are then one
gather each. Runs of different rows start at independent offsets; a run is at most a few
ten thousand values, a hundredth of the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

__all__ = ["KeyedRandom", "mix_keys"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TABLE_BITS = 21
_TABLE_SIZE = 1 << _TABLE_BITS


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function of ``x + golden`` (uint64 arrays; wraps modulo 2^64)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def mix_keys(*parts: int | np.ndarray) -> np.ndarray:
    """Hash integers (or int arrays, broadcast) into uint64 stream keys."""
    key = np.uint64(0x5EED)
    for part in parts:
        arr = np.asarray(part).astype(np.uint64)
        key = _splitmix64(np.bitwise_xor(_splitmix64(np.asarray(key)), arr))
    return np.asarray(key, dtype=np.uint64)


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0x0DDB1A5E)
    uniform = rng.random(_TABLE_SIZE, dtype=np.float32)
    normal = rng.standard_normal(_TABLE_SIZE, dtype=np.float32)
    # one table length of wrap-around so that every run is a plain slice of the padded array
    return np.concatenate([uniform, uniform]), np.concatenate([normal, normal])


class KeyedRandom:
    """A ``numpy.random.Generator``-like source whose leading axis is the batch axis.

    Args:
        keys: ``(B,)`` uint64 keys (see `mix_keys`), one stream per row.

    Every method takes ``size`` whose first entry is B; values are float32 (integers
    int64).
    """

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, dtype=np.uint64).reshape(-1)
        self._draw = 0

    def _run(self, table: np.ndarray, size: Sequence[int] | int) -> np.ndarray:
        size = (size,) if isinstance(size, int | np.integer) else tuple(int(s) for s in size)
        if not size or size[0] != len(self.keys):
            raise ValueError(
                f"KeyedRandom: the first size entry must be the batch size {len(self.keys)}, got {size}"
            )
        n = int(np.prod(size[1:], dtype=np.int64))
        if n > _TABLE_SIZE:
            raise ValueError(f"KeyedRandom: at most {_TABLE_SIZE} values per row, got {n}")
        self._draw += 1
        offsets = _splitmix64(self.keys ^ _splitmix64(np.uint64(self._draw))) >> np.uint64(
            64 - _TABLE_BITS
        )
        runs = np.lib.stride_tricks.sliding_window_view(table, max(n, 1))
        return runs[offsets.astype(np.int64)][:, :n].reshape(size)

    def random(self, size: Sequence[int] | int) -> np.ndarray:
        """Uniform floats in [0, 1) of shape ``size``."""
        return self._run(_tables()[0], size)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Sequence[int] | int = 1):
        return low + (high - low) * self.random(size)

    def standard_normal(self, size: Sequence[int] | int) -> np.ndarray:
        """Standard normal floats of shape ``size``."""
        return self._run(_tables()[1], size)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Sequence[int] | int = 1):
        return loc + scale * self.standard_normal(size)

    def integers(self, low: int, high: np.ndarray | int, size: Sequence[int] | int):
        """Integers in ``[low, high)``; ``high`` may be a ``(B,)`` array (per row)."""
        span = np.asarray(high) - low
        r = self.random(size).astype(np.float64)
        if np.ndim(span):
            span = span.reshape((-1,) + (1,) * (r.ndim - 1))
        return np.minimum(low + np.floor(r * span), low + span - 1).astype(np.int64)
