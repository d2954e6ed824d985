"""Result tables of the accumulating metrics: rows x columns of numbers, with markdown, CSV
and dict output."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Table"]


@dataclass
class Table:
    """A titled table: ``rows`` of ``(label, values)``, one value per column (NaN = no
    data). ``digits`` sets the markdown formatting per column (default 1, or 3 for columns
    whose name contains "PSIM" or "accuracy")."""

    title: str
    columns: list[str]
    rows: list[tuple[str, list[float]]] = field(default_factory=list)
    row_header: str = ""

    def _digits(self, column: str) -> int:
        low = column.lower()
        return 3 if any(k in low for k in ("psim", "accuracy", "depth order", "ratio")) else 1

    def to_dict(self) -> dict:
        """``{"title", "columns", "rows": {label: {column: value}}}`` (NaN -> None)."""
        return {
            "title": self.title,
            "columns": list(self.columns),
            "rows": {
                label: {
                    c: (None if v is None or math.isnan(v) else float(v))
                    for c, v in zip(self.columns, values, strict=True)
                }
                for label, values in self.rows
            },
        }

    def to_markdown(self) -> str:
        head = [self.row_header or " "] + self.columns
        lines = [
            f"**{self.title}**",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---"] + ["---:"] * len(self.columns)) + "|",
        ]
        for label, values in self.rows:
            cells = [
                "—" if v is None or math.isnan(v) else f"{v:.{self._digits(c)}f}"
                for c, v in zip(self.columns, values, strict=True)
            ]
            lines.append("| " + " | ".join([label, *cells]) + " |")
        return "\n".join(lines)

    def to_csv(self, path: str | Path | None = None) -> str:
        """CSV text (full precision, empty cells for NaN); also written to ``path`` if given."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([self.row_header or "row", *self.columns])
        for label, values in self.rows:
            w.writerow(
                [label, *("" if v is None or math.isnan(v) else repr(float(v)) for v in values)]
            )
        text = buf.getvalue()
        if path is not None:
            Path(path).write_text(text)
        return text

    def __str__(self) -> str:
        return self.to_markdown()
