"""Training and evaluation engine: configs (dataclass tree <-> YAML), the trainer (any
model, any losses, stages and alternating steps, DDP), pickle-free checkpoints, paper
optimisers and schedules, evaluation reports.

``poseviz train CONFIG`` runs `Trainer`; ``poseviz evaluate`` scores predictions with
`score_predictions` and `write_report`. Names are imported on first use so that
``poseviz --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poseviz.training.checkpoint import CheckpointError, read_checkpoint, write_checkpoint
    from poseviz.training.config import (
        DataConfig,
        ModelConfig,
        OptimConfig,
        ScheduleConfig,
        TrainConfig,
        TrainerConfig,
        apply_overrides,
        config_from_mapping,
        config_to_mapping,
        load_config,
        save_config,
    )
    from poseviz.training.data import register_data_source
    from poseviz.training.evaluate import score_predictions, write_report
    from poseviz.training.optim import Lookahead, LRSchedule, build_optimizer
    from poseviz.training.trainer import Trainer, TrainingDiverged, TrainResult, train

_LAZY = {
    "CheckpointError": "checkpoint",
    "read_checkpoint": "checkpoint",
    "write_checkpoint": "checkpoint",
    "DataConfig": "config",
    "ModelConfig": "config",
    "OptimConfig": "config",
    "ScheduleConfig": "config",
    "TrainConfig": "config",
    "TrainerConfig": "config",
    "apply_overrides": "config",
    "config_from_mapping": "config",
    "config_to_mapping": "config",
    "load_config": "config",
    "save_config": "config",
    "register_data_source": "data",
    "score_predictions": "evaluate",
    "write_report": "evaluate",
    "LRSchedule": "optim",
    "Lookahead": "optim",
    "build_optimizer": "optim",
    "TrainResult": "trainer",
    "Trainer": "trainer",
    "TrainingDiverged": "trainer",
    "train": "trainer",
}

__all__ = [
    "CheckpointError",
    "DataConfig",
    "LRSchedule",
    "Lookahead",
    "ModelConfig",
    "OptimConfig",
    "ScheduleConfig",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainerConfig",
    "TrainingDiverged",
    "apply_overrides",
    "build_optimizer",
    "config_from_mapping",
    "config_to_mapping",
    "load_config",
    "read_checkpoint",
    "register_data_source",
    "save_config",
    "score_predictions",
    "train",
    "write_checkpoint",
    "write_report",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"poseviz.training.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'poseviz.training' has no attribute {name!r}")
