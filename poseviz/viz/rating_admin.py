"""The study owner's page: progress, per-rater statistics, screening and export.

Served separately from the rater page and behind authentication::

    POSEVIZ_RATING_DB=study.db panel serve apps/rate_admin.py \\
        --basic-auth admins.json --cookie-secret "$(openssl rand -hex 32)"
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import panel as pn
import param

from poseviz.rating.admin import (
    export_validation_set,
    list_studies,
    progress,
    rater_stats,
    run_screening,
    stimulus_table,
)
from poseviz.rating.screening import ScreeningConfig
from poseviz.rating.store import Store

__all__ = ["AdminView"]


class AdminView(pn.viewable.Viewer):
    study = param.Selector(default=None, objects=[])

    def __init__(self, store: Store, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        studies = list_studies(store)
        self.param.study.objects = list(studies.values())
        self.param.study.names = studies
        if studies:
            self.study = next(iter(studies.values()))
        self.summary = pn.pane.Markdown()
        self.raters = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, sizing_mode="stretch_width", height=260
        )
        self.mos = pn.widgets.Tabulator(
            pd.DataFrame(), disabled=True, sizing_mode="stretch_width", height=300
        )
        self.screening = pn.pane.Markdown()
        self.screen_button = pn.widgets.Button(name="Run screening", button_type="primary")
        self.screen_button.on_click(lambda _: self.run_screening())
        self.download = pn.widgets.FileDownload(
            callback=self._export,
            filename="validation_set.csv",
            label="Export validation set (CSV)",
        )
        self.refresh()

    @param.depends("study", watch=True)
    def refresh(self) -> None:
        if self.study is None:
            self.summary.object = "No study in this database yet: `poseviz rating create-study ...`"
            return
        p = progress(self.store, self.study)
        self.summary.object = (
            f"**{p['raters']} raters**, sessions {p['sessions']}, **{p['ratings']} ratings** on "
            f"{p['stimuli']} stimuli (votes per stimulus min {p['votes_per_stimulus']['min']}, "
            f"mean {p['votes_per_stimulus']['mean']:.1f}, max {p['votes_per_stimulus']['max']})"
        )
        self.raters.value = pd.DataFrame(rater_stats(self.store, self.study))

    def run_screening(self) -> None:
        result = run_screening(self.store, self.study, ScreeningConfig())
        lines = [f"Kept {len(result.kept_raters)} raters."]
        lines += [f"- session {k}: {v}" for k, v in result.rejected_sessions.items()]
        lines += [f"- rater {k}: {v}" for k, v in result.rejected_raters.items()]
        self.screening.object = "\n".join(lines)
        meta = stimulus_table(self.store, self.study)
        self.mos.value = pd.DataFrame(
            [
                (k, meta[k]["model"], meta[k]["severity"], meta[k]["role"], m, ci, n)
                for k, (m, ci, n) in result.mos.items()
            ],
            columns=["stimulus", "model", "severity", "role", "MOS", "CI95", "votes"],
        )
        self.refresh()

    def _export(self):
        out = Path(tempfile.mkdtemp())
        _, csv_path = export_validation_set(self.store, self.study, out)
        return str(csv_path)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.widgets.Select.from_param(self.param.study, name="Study"),
            self.summary,
            "### Raters",
            self.raters,
            pn.Row(self.screen_button, self.download),
            self.screening,
            "### MOS (95% CI)",
            self.mos,
            sizing_mode="stretch_width",
        )
