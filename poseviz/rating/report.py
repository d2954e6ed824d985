"""The metric validation report of a MOS study: how well each pose metric agrees with people.

Every rated stimulus (a 120-frame clip of ground truth and prediction, both root-relative
camera-frame metres) is scored by each metric of `METRICS`; the scores are compared with the
stimuli's MOS from the newest screening run (`poseviz.rating.admin.run_screening`) with the
VQEG practice (`poseviz.metrics.correlation`): PLCC and RMSE after a 4-parameter logistic
fit, SROCC and KROCC on raw scores, each with a 95% percentile-bootstrap interval. This is done for all rated stimuli and for each occlusion-severity subset
with enough stimuli, laid out like seed ``000_f1d3e10faaa5ea8f`` Table 1 (metrics as rows,
subsets x statistics as columns).

*Spatial* metrics are per-frame values averaged over the clip (Table 1 reports its reference
metrics with this average pooling); *temporal* ones look at motion: MPJVE, and PSIM+ with the
temporal weight of eq. 5. ``PSIM+ (P+S)`` is the P+S ablation of PSIM+, which stands in for
the earlier PSIM the seeds do not define. Hidden references, anchors, gold and trap items are
not part of the validation set and are left out.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import select

from poseviz.metrics import correlation
from poseviz.metrics.functional import (
    bsle,
    lse,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
    psim_plus,
)
from poseviz.rating.admin import latest_mos
from poseviz.rating.schema import Role, Stimulus, Study
from poseviz.rating.store import Store

__all__ = [
    "METRICS",
    "MetricSpec",
    "ValidationReport",
    "score_stimuli",
    "validation_report",
    "write_report",
]

SEVERITY_ORDER = ("none", "joint", "body_part", "half_body")


@dataclass(frozen=True)
class MetricSpec:
    """A metric of the report: ``fn(reference, predicted)`` with ``(N, T, J, 3)`` metres in,
    ``(N,)`` one score per clip out; ``kind`` is ``"spatial"`` or ``"temporal"``; ``unit``
    for the tables; ``higher_is_better`` for reading the sign of the correlations."""

    name: str
    kind: str
    unit: str
    higher_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]


def _per_clip(values: np.ndarray) -> np.ndarray:
    """``(N, T)`` per-frame values -> ``(N,)`` clip means."""
    return np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1).mean(1)


def _psim(field_name: str, **kw) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def fn(ref: np.ndarray, pred: np.ndarray) -> np.ndarray:
        r = psim_plus(ref, pred, **kw)
        value = np.asarray(getattr(r, field_name), dtype=np.float64)
        return value if value.ndim == 1 else _per_clip(value)

    return fn


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("MPJPE", "spatial", "mm", False,
               lambda r, p: _per_clip(mpjpe(p, r, reduction="pose"))),
    MetricSpec("P-MPJPE", "spatial", "mm", False,
               lambda r, p: _per_clip(p_mpjpe(p, r, reduction="pose"))),
    MetricSpec("N-MPJPE", "spatial", "mm", False,
               lambda r, p: _per_clip(n_mpjpe(p, r, reduction="pose"))),
    MetricSpec("3D PCK", "spatial", "%", True,
               lambda r, p: np.array([pck(pi, ri) for ri, pi in zip(r, p, strict=True)])),
    MetricSpec("PSIM+ (P)", "spatial", "", True, _psim("positional")),
    MetricSpec("PSIM+ (S)", "spatial", "", True, _psim("structural")),
    MetricSpec("PSIM+ (V)", "spatial", "", True, _psim("sensitivity")),
    MetricSpec("PSIM+ (P+S) [PSIM stand-in]", "spatial", "", True, _psim("ps_ablation")),
    MetricSpec("PSIM+ (avg. pool)", "spatial", "", True, _psim("frame_score")),
    MetricSpec("PSIM+ per-joint (avg. pool)", "spatial", "", True,
               _psim("frame_score", variant="per_joint")),
    MetricSpec("LSE", "spatial", "mm", False,
               lambda r, p: _per_clip(lse(p, reduction="pose"))),
    MetricSpec("BSLE", "spatial", "mm", False,
               lambda r, p: _per_clip(bsle(p, r, reduction="pose"))),
    MetricSpec("MPJVE", "temporal", "mm/frame", False,
               lambda r, p: _per_clip(mpjve(p, r, reduction="pose"))),
    MetricSpec("PSIM+ temporal", "temporal", "", True, _psim("score", temporal=True)),
    MetricSpec("PSIM+ (P+S) temporal", "temporal", "", True,
               _psim("ps_ablation", temporal=True)),
    MetricSpec("PSIM+ per-joint temporal", "temporal", "", True,
               _psim("score", temporal=True, variant="per_joint")),
)  # fmt: skip


def score_stimuli(
    reference: np.ndarray, predicted: np.ndarray, metrics: tuple[MetricSpec, ...] = METRICS
) -> dict[str, np.ndarray]:
    """Every metric on ``N`` clips: ``reference``, ``predicted`` ``(N, T, J, 3)`` metres ->
    metric name -> ``(N,)`` scores (in each metric's unit)."""
    reference = np.asarray(reference, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if reference.ndim != 4 or reference.shape != predicted.shape or reference.shape[-1] != 3:
        raise ValueError(
            "score_stimuli: expected reference and predicted of the same shape (N, T, J, 3), "
            f"got {reference.shape} and {predicted.shape}"
        )
    return {m.name: np.asarray(m.fn(reference, predicted), dtype=np.float64) for m in metrics}


@dataclass
class ValidationReport:
    """Scores, MOS and agreement statistics of one study.

    Attributes:
        study: study name.
        stimulus_ids, severity, source_model: per rated stimulus with a MOS.
        mos, ci95: ``(N,)`` MOS (1-5) and the half-width of its 95% interval.
        scores: metric name -> ``(N,)`` per-stimulus scores.
        rows: one dict per (metric, subset): ``metric``, ``kind``, ``subset``, ``n``,
            ``plcc``, ``srocc``, ``krocc``, ``rmse`` and each one's ``<stat>_ci_low`` /
            ``<stat>_ci_high``, or ``error`` when that subset could not be fitted.
        fits: (metric, subset) -> the `correlation.LogisticFit` used for PLCC/RMSE.
    """

    study: str
    stimulus_ids: np.ndarray
    severity: list[str]
    source_model: list[str]
    mos: np.ndarray
    ci95: np.ndarray
    scores: dict[str, np.ndarray]
    rows: list[dict] = field(default_factory=list)
    fits: dict[tuple[str, str], correlation.LogisticFit] = field(default_factory=dict)

    @property
    def subsets(self) -> list[str]:
        return list(dict.fromkeys(r["subset"] for r in self.rows))

    def markdown(self) -> str:
        """Table 1 layout: metrics as rows; for each subset PLCC, SROCC, KROCC, RMSE."""
        subsets = self.subsets
        counts = {r["subset"]: r["n"] for r in self.rows}
        head = ["metric", "kind"] + [
            f"{s} (n={counts[s]}) {stat}"
            for s in subsets
            for stat in ("PLCC", "SROCC", "KROCC", "RMSE")
        ]
        lines = [
            f"Metric validation against MOS: study {self.study!r}, {len(self.mos)} rated stimuli "
            "(PLCC and RMSE after a 4-parameter logistic fit; [95% bootstrap interval])",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        by_key = {(r["metric"], r["subset"]): r for r in self.rows}
        for m in METRICS:
            if m.name not in self.scores:
                continue
            cells = [m.name, m.kind]
            for s in subsets:
                r = by_key[(m.name, s)]
                if "error" in r:
                    cells += ["n/a"] * 4
                    continue
                cells += [
                    f"{r[k]:.3f} [{r[k + '_ci_low']:.2f}, {r[k + '_ci_high']:.2f}]"
                    for k in ("plcc", "srocc", "krocc", "rmse")
                ]
            lines.append("| " + " | ".join(cells) + " |")
        errors = [r for r in self.rows if "error" in r]
        if errors:
            lines += ["", "Not computed:"] + [
                f"- {r['metric']} / {r['subset']}: {r['error']}" for r in errors
            ]
        return "\n".join(lines)


def _subsets(severity: list[str], min_stimuli: int) -> dict[str, np.ndarray]:
    sev = np.asarray(severity)
    out = {"all": np.ones(len(sev), bool)}
    for s in SEVERITY_ORDER:
        mask = sev == s
        if mask.sum() >= min_stimuli:
            out[s] = mask
    return out


def validation_report(
    store: Store,
    study_id: int,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    min_stimuli: int = 8,
    metrics: tuple[MetricSpec, ...] = METRICS,
) -> ValidationReport:
    """Score the rated stimuli of study ``study_id`` with every metric and validate each
    against the MOS of the newest screening run, for all stimuli and per occlusion severity
    (subsets with at least ``min_stimuli`` stimuli). ``bootstrap`` resamples for the CIs."""
    mos_of = latest_mos(store, study_id)
    with store.session() as s:
        name = s.get(Study, study_id).name
        stims = s.scalars(
            select(Stimulus)
            .where(Stimulus.study_id == study_id, Stimulus.role == Role.RATED)
            .order_by(Stimulus.id)
        ).all()
        stims = [st for st in stims if st.id in mos_of and mos_of[st.id][2] > 0]
        if len(stims) < 5:
            raise ValueError(
                f"study {name!r}: {len(stims)} rated stimuli have a MOS; the report needs at "
                "least 5 (rate more, then run the screening again)"
            )
        arrays = [st.arrays() for st in stims]
        meta = [(st.id, st.severity, st.source_model) for st in stims]
    reference = np.stack([a[0] for a in arrays]).astype(np.float64)
    predicted = np.stack([a[1] for a in arrays]).astype(np.float64)
    report = ValidationReport(
        study=name,
        stimulus_ids=np.array([m[0] for m in meta]),
        severity=[m[1] for m in meta],
        source_model=[m[2] for m in meta],
        mos=np.array([mos_of[m[0]][0] for m in meta]),
        ci95=np.array([mos_of[m[0]][1] for m in meta]),
        scores=score_stimuli(reference, predicted, metrics),
    )
    for subset, mask in _subsets(report.severity, min_stimuli).items():
        for m in metrics:
            row = {"metric": m.name, "kind": m.kind, "subset": subset, "n": int(mask.sum())}
            x, y = report.scores[m.name][mask], report.mos[mask]
            try:
                fit = correlation.logistic_fit(x, y)
                row |= _agreement(x, y, fit, bootstrap, seed)
                report.fits[(m.name, subset)] = fit
            except ValueError as err:
                row["error"] = str(err)
            report.rows.append(row)
    return report


def _agreement(
    x: np.ndarray, y: np.ndarray, fit: correlation.LogisticFit, n_boot: int, seed: int
) -> dict[str, float]:
    """PLCC and RMSE after ``fit``, SROCC and KROCC on raw scores, each with a 95%
    percentile-bootstrap interval over stimuli. For PLCC and RMSE the fitted mapping is held
    fixed across resamples (refitting thousands of logistics per cell would dominate the
    run time; the fit's own uncertainty is therefore not in those intervals)."""
    fitted = fit.predict(x)
    out: dict[str, float] = {}
    for name, a in (("plcc", fitted), ("srocc", x), ("krocc", x)):
        est, lo, hi = correlation.bootstrap_ci(a, y, statistic=name, n_boot=n_boot, seed=seed)
        out |= {name: est, f"{name}_ci_low": lo, f"{name}_ci_high": hi}
    residual2 = (fitted - y) ** 2
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_boot, len(y)))
    boot = np.sqrt(residual2[idx].mean(1))
    out |= {
        "rmse": correlation.rmse(x, y, fit=fit),
        "rmse_ci_low": float(np.quantile(boot, 0.025)),
        "rmse_ci_high": float(np.quantile(boot, 0.975)),
    }
    return out


def _scatter_png(report: ValidationReport, subset: str = "all") -> bytes:
    """One scatter plot per metric (MOS against the metric, coloured by severity) with its
    fitted logistic; PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m.name for m in METRICS if m.name in report.scores]
    cols = 4
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    colours = dict(
        zip(SEVERITY_ORDER, ("tab:green", "tab:blue", "tab:orange", "tab:red"), strict=True)
    )
    sev = np.asarray(report.severity)
    for ax, name in zip(axes.flat, names, strict=False):
        x = report.scores[name]
        for s, c in colours.items():
            mask = sev == s
            if mask.any():
                ax.errorbar(x[mask], report.mos[mask], yerr=np.clip(report.ci95[mask], 0, None),
                            fmt="o", ms=3, color=c, alpha=0.7, elinewidth=0.5, label=s)  # fmt: skip
        fit = report.fits.get((name, subset))
        if fit is not None:
            grid = np.linspace(x.min(), x.max(), 200)
            ax.plot(grid, fit.predict(grid), color="black", lw=1.2)
        row = next(r for r in report.rows if r["metric"] == name and r["subset"] == subset)
        stats = "" if "error" in row else f"PLCC {row['plcc']:.3f}  SROCC {row['srocc']:.3f}"
        unit = next(m.unit for m in METRICS if m.name == name)
        ax.set_title(f"{name}\n{stats}", fontsize=9)
        ax.set_xlabel(f"{name} ({unit})" if unit else name, fontsize=8)
        ax.set_ylabel("MOS", fontsize=8)
        ax.set_ylim(0.8, 5.2)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, title="occlusion", title_fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def write_report(report: ValidationReport, out_dir: str | Path) -> list[Path]:
    """Write ``report.md`` (the table), ``report.csv`` (every row and statistic),
    ``scores.csv`` (per-stimulus MOS and metric scores), ``scatter.png`` and ``report.html``
    (table and plots in one self-contained page). Each file is written to a temporary name
    and renamed, so a failure leaves no partial file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def put(name: str, data: bytes) -> None:
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(out / name)
        written.append(out / name)

    table = report.markdown()
    put("report.md", (table + "\n").encode())

    stats = [
        f"{k}{c}" for k in ("plcc", "srocc", "krocc", "rmse") for c in ("", "_ci_low", "_ci_high")
    ]
    keys = ["metric", "kind", "subset", "n", *stats, "error"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, keys, extrasaction="ignore")
    w.writeheader()
    w.writerows(report.rows)
    put("report.csv", buf.getvalue().encode())

    buf = io.StringIO()
    w = csv.writer(buf)
    names = list(report.scores)
    w.writerow(["stimulus_id", "source_model", "severity", "mos", "ci95", *names])
    for i, sid in enumerate(report.stimulus_ids):
        w.writerow([int(sid), report.source_model[i], report.severity[i], f"{report.mos[i]:.4f}",
                    f"{report.ci95[i]:.4f}", *(f"{report.scores[n][i]:.6g}" for n in names)])  # fmt: skip
    put("scores.csv", buf.getvalue().encode())

    png = _scatter_png(report)
    put("scatter.png", png)
    rows_html = "\n".join(
        "<tr>"
        + "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|"))
        + "</tr>"
        for line in table.splitlines()
        if line.startswith("|") and not line.startswith("|---")
    )
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>poseviz metric validation: {html.escape(report.study)}</title>"
        "<style>body{font-family:sans-serif}td{border:1px solid #ccc;padding:2px 6px;"
        "font-size:12px}table{border-collapse:collapse}</style></head><body>"
        f"<h1>Metric validation against MOS: {html.escape(report.study)}</h1>"
        f"<p>{html.escape(table.splitlines()[0])}</p><table>{rows_html}</table>"
        f"<h2>MOS against each metric, with the fitted logistic</h2>"
        f"<img alt='scatter plots' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        "</body></html>"
    )
    put("report.html", page.encode())
    return written
