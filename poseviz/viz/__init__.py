"""Renderers (PyVista, OpenCV) and Panel/param components with shared view state. Takes
arrays and `Prediction` records, never models.

The compare workbench (``apps/compare.py``, ``notebooks/01_compare.ipynb``) is built from:
`analyse` (a `SequenceAnalysis` of ground truth and predictions), `SkeletonView` and
`SkeletonGrid` (synchronised 3D views with `PlaybackControls`), `Timelines`, `ImagePanel`,
`AttentionPanel`, `MetricsTable`, the exports (`render_view`, `render_grid`, `save_image`,
`save_video`) and `CompareApp`, which composes them. Names are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poseviz.viz.analysis import SequenceAnalysis, analyse, with_virtual_cameras
    from poseviz.viz.attention import AttentionPanel
    from poseviz.viz.colors import COLOR_MODES, joint_colors
    from poseviz.viz.compare import CompareApp, load_source
    from poseviz.viz.exports import render_grid, render_view, save_image, save_video
    from poseviz.viz.grid import SkeletonGrid
    from poseviz.viz.image_panel import ImagePanel
    from poseviz.viz.metrics_table import MetricsTable, dataset_tables, sequence_table
    from poseviz.viz.playback import PlaybackControls
    from poseviz.viz.predictors import PerturbedGroundTruth, Predictor, perturbed_predictors
    from poseviz.viz.skeleton_view import SkeletonView, ViewCamera
    from poseviz.viz.timeline import Timelines

__all__ = [
    "COLOR_MODES",
    "analyse",
    "AttentionPanel",
    "CompareApp",
    "dataset_tables",
    "ImagePanel",
    "joint_colors",
    "load_source",
    "MetricsTable",
    "perturbed_predictors",
    "PerturbedGroundTruth",
    "PlaybackControls",
    "Predictor",
    "render_grid",
    "render_view",
    "save_image",
    "save_video",
    "sequence_table",
    "SequenceAnalysis",
    "SkeletonGrid",
    "SkeletonView",
    "Timelines",
    "ViewCamera",
    "with_virtual_cameras",
]

_LAZY = {
    "SequenceAnalysis": "poseviz.viz.analysis",
    "analyse": "poseviz.viz.analysis",
    "with_virtual_cameras": "poseviz.viz.analysis",
    "AttentionPanel": "poseviz.viz.attention",
    "COLOR_MODES": "poseviz.viz.colors",
    "joint_colors": "poseviz.viz.colors",
    "CompareApp": "poseviz.viz.compare",
    "load_source": "poseviz.viz.compare",
    "render_grid": "poseviz.viz.exports",
    "render_view": "poseviz.viz.exports",
    "save_image": "poseviz.viz.exports",
    "save_video": "poseviz.viz.exports",
    "SkeletonGrid": "poseviz.viz.grid",
    "ImagePanel": "poseviz.viz.image_panel",
    "MetricsTable": "poseviz.viz.metrics_table",
    "dataset_tables": "poseviz.viz.metrics_table",
    "sequence_table": "poseviz.viz.metrics_table",
    "PlaybackControls": "poseviz.viz.playback",
    "PerturbedGroundTruth": "poseviz.viz.predictors",
    "Predictor": "poseviz.viz.predictors",
    "perturbed_predictors": "poseviz.viz.predictors",
    "SkeletonView": "poseviz.viz.skeleton_view",
    "ViewCamera": "poseviz.viz.skeleton_view",
    "Timelines": "poseviz.viz.timeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'poseviz.viz' has no attribute {name!r}")
