"""Dataset readers (one module per format), demo data, virtual cameras, occlusion labels,
synthetic images, clip sampling. Everything is read into `poseviz.structures.PoseSequence`.

``load(path)`` reads any supported file (see `poseviz.data.io`); ``load_demo()`` builds or
loads the demo dataset (`poseviz.data.demo`). Names are imported on first use so that
``poseviz --help`` (which imports `poseviz.data.cli`) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poseviz.data._formats import FormatError
    from poseviz.data.augment import BoneScaling
    from poseviz.data.cameras import DetectorNoise
    from poseviz.data.clips import ClipDataset, VirtualViews, h36m_split
    from poseviz.data.demo import load_demo
    from poseviz.data.io import FORMATS, detect_format, get_reader, load

__all__ = [
    "FORMATS",
    "BoneScaling",
    "ClipDataset",
    "DetectorNoise",
    "FormatError",
    "VirtualViews",
    "detect_format",
    "get_reader",
    "h36m_split",
    "load",
    "load_demo",
]

_LAZY = {
    "FORMATS": "poseviz.data.io",
    "detect_format": "poseviz.data.io",
    "get_reader": "poseviz.data.io",
    "load": "poseviz.data.io",
    "FormatError": "poseviz.data._formats",
    "load_demo": "poseviz.data.demo",
    "ClipDataset": "poseviz.data.clips",
    "VirtualViews": "poseviz.data.clips",
    "h36m_split": "poseviz.data.clips",
    "DetectorNoise": "poseviz.data.cameras",
    "BoneScaling": "poseviz.data.augment",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'poseviz.data' has no attribute {name!r}")
