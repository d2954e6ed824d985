"""Model + data -> `Prediction`; 2D detectors for video in the wild.

`load_model` (model folder, run folder or checkpoint), `predict_sequence` /
`predict_sequences` (whole sequences, sliding windows with edge padding, CUDA when
available), `lift` (the same on ready input tensors), `model_inputs`, `load_sequences`
(the DATA argument of ``poseviz predict`` / ``evaluate``). Names are imported on first use
so that ``poseviz --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poseviz.inference.data import load_sequences, prepare_sequence
    from poseviz.inference.predict import (
        default_device,
        lift,
        load_model,
        model_inputs,
        predict_sequence,
        predict_sequences,
        window_indices,
    )

__all__ = [
    "default_device",
    "lift",
    "load_model",
    "load_sequences",
    "model_inputs",
    "predict_sequence",
    "predict_sequences",
    "prepare_sequence",
    "window_indices",
]

_LAZY = {
    "load_sequences": "poseviz.inference.data",
    "prepare_sequence": "poseviz.inference.data",
    **{
        name: "poseviz.inference.predict"
        for name in (
            "default_device",
            "lift",
            "load_model",
            "model_inputs",
            "predict_sequence",
            "predict_sequences",
            "window_indices",
        )
    },
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'poseviz.inference' has no attribute {name!r}")
