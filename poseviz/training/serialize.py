"""Pickle-free state files: nested state (optimiser, scheduler, RNG) split into a JSON tree
and a flat dict of tensors stored with safetensors; atomic file writes.

`split_state` walks dicts, lists, tuples, tensors, numpy arrays and plain scalars. Every
tensor becomes ``{"__tensor__": key}`` in the JSON tree and ``key -> tensor`` in the tensor
dict; tuples, dicts with non-string keys and numpy arrays are tagged so that `join_state`
rebuilds exactly the same structure. Anything else (a function, an arbitrary object)
raises ``ValueError``, so nothing that needs unpickling can sneak into a checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "file_sha256",
    "join_state",
    "split_state",
]


def split_state(state: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """``(json_tree, tensors)`` for a nested ``state``; tensor keys start with ``prefix``."""
    tensors: dict[str, torch.Tensor] = {}

    def sub(path: str, key: Any) -> str:
        return f"{path}.{key}" if path else str(key)

    def walk(value: Any, path: str) -> Any:
        where = f"state.{path}" if path else "state"
        if isinstance(value, torch.Tensor):
            key = f"{prefix}{path}" if path else prefix or "_"
            tensors[key] = value.detach().cpu().contiguous()
            return {"__tensor__": key}
        if isinstance(value, np.ndarray):
            key = f"{prefix}{path}"
            tensors[key] = torch.from_numpy(np.ascontiguousarray(value))
            return {"__ndarray__": key}
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [walk(v, sub(path, i)) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, sub(path, i)) for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: walk(v, sub(path, k)) for k, v in value.items()}
            items = []
            for k, v in value.items():
                if not isinstance(k, str | int | bool | float) and k is not None:
                    raise ValueError(f"{where}: unsupported key type {type(k).__name__}")
                items.append([k, walk(v, sub(path, k))])
            return {"__items__": items}
        raise ValueError(
            f"{where}: cannot store a {type(value).__name__} without pickling "
            "(only tensors, arrays, numbers, strings, lists, tuples and dicts)"
        )

    return walk(state, ""), tensors


def join_state(tree: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of `split_state`; a missing tensor raises ``ValueError`` naming its key."""

    def get(key: str) -> torch.Tensor:
        if key not in tensors:
            raise ValueError(f"state tensor {key!r} is missing from the tensor file")
        return tensors[key]

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            if set(value) == {"__tensor__"}:
                return get(value["__tensor__"])
            if set(value) == {"__ndarray__"}:
                return get(value["__ndarray__"]).numpy()
            if set(value) == {"__tuple__"}:
                return tuple(walk(v) for v in value["__tuple__"])
            if set(value) == {"__items__"}:
                return {k: walk(v) for k, v in value["__items__"]}
            return {k: walk(v) for k, v in value.items()}
        return value

    return walk(tree)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False) + "\n")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
