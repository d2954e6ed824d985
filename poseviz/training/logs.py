"""Run logs: CSV files (always) and TensorBoard events (when ``tensorboard`` is installed).

``train.csv`` has one row per ``trainer.log_every`` steps (means over those steps),
``val.csv`` one row per validation. Columns are fixed when the run starts (every loss term
of every stage is known from the config), so the files load with any CSV reader. A resumed
run first drops the rows past the checkpoint's step, so no step appears twice.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["CSVLog", "RunLogger", "tensorboard_available"]


def tensorboard_available() -> bool:
    """True when ``torch.utils.tensorboard`` can write events (package ``tensorboard``)."""
    return importlib.util.find_spec("tensorboard") is not None


class CSVLog:
    """Append rows with fixed ``columns`` to ``path`` (header written once)."""

    def __init__(
        self, path: str | Path, columns: Sequence[str], *, truncate_after: int | None = None
    ):
        self.path = Path(path)
        self.columns = list(columns)
        if self.path.is_file():
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
            if truncate_after is not None:
                rows = [r for r in rows if _step(r) <= truncate_after]
            self._rewrite(rows)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite([])

    def _rewrite(self, rows: list[dict[str, Any]]) -> None:
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def write(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            w.writerow({k: _fmt(v) for k, v in row.items()})


def _step(row: Mapping[str, Any]) -> int:
    try:
        return int(row.get("step") or 0)
    except ValueError:
        return 0


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return v


class RunLogger:
    """CSV logs of a run folder plus optional TensorBoard scalars (main process only)."""

    def __init__(
        self,
        run_dir: Path,
        *,
        train_columns: Sequence[str],
        val_columns: Sequence[str],
        resume_step: int | None,
        tensorboard: bool,
    ) -> None:
        self.train = CSVLog(run_dir / "train.csv", train_columns, truncate_after=resume_step)
        self.val = CSVLog(run_dir / "val.csv", val_columns, truncate_after=resume_step)
        self.tb = None
        if tensorboard and tensorboard_available():
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=resume_step)

    def log(self, split: str, row: Mapping[str, Any]) -> None:
        (self.train if split == "train" else self.val).write(row)
        if self.tb is not None:
            step = int(row["step"])
            for key, value in row.items():
                if key not in ("step", "epoch", "stage") and isinstance(value, int | float):
                    self.tb.add_scalar(f"{split}/{key}", value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
