"""Dataset readers (one module per format), demo data, virtual cameras, occlusion labels,
synthetic images, clip sampling. Everything is read into `poseviz.structures.PoseSequence`.

``load(path)`` reads any supported file (see `poseviz.data.io`); ``load_demo()`` builds or
loads the demo dataset (`poseviz.data.demo`).
"""

from __future__ import annotations

from typing import Any

from poseviz.data._formats import FormatError
from poseviz.data.io import FORMATS, detect_format, get_reader, load

__all__ = ["FORMATS", "FormatError", "detect_format", "get_reader", "load", "load_demo"]


def __getattr__(name: str) -> Any:
    # load_demo lives in poseviz.data.demo (heavier: pybullet, caches); import on first use.
    if name == "load_demo":
        from poseviz.data.demo import load_demo

        return load_demo
    raise AttributeError(f"module 'poseviz.data' has no attribute {name!r}")
