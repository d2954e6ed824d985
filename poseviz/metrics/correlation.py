"""Validating an objective metric against mean opinion scores (MOS), following the VQEG
practice (VQEG FR-TV Phase II report, 2003; ITU-T P.1401):

* `logistic_fit`: a monotonic logistic mapping from metric values to MOS, 4-parameter
  (VQEG)  ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` or 5-parameter
  (Sheikh et al. 2006) ``f(x) = b1 (1/2 - 1 / (1 + exp(b2 (x - b3)))) + b4 x + b5``,
  fitted with ``scipy.optimize.curve_fit`` from several starts within bounds;
* `plcc` (Pearson, optionally after the fit), `rmse` (after the fit), `srocc` (Spearman)
  and `krocc` (Kendall tau-b) on raw values, `outlier_ratio` (share of stimuli whose fitted
  prediction misses the MOS by more than its confidence half-width);
* `bootstrap_ci`: percentile bootstrap confidence intervals over stimuli;
* `compare_correlations`: is metric A's correlation with MOS significantly higher than
  metric B's on the same stimuli? Williams' t-test for two dependent correlations sharing
  one variable (Williams 1959, the test Steiger 1980 recommends, eq. 7), or a paired
  bootstrap of the difference;
* `split_half_reliability`: agreement between the MOS of two random halves of the raters,
  with the Spearman-Brown correction ``2 r / (1 + r)`` to the full panel.

Inputs are 1-D sequences of equal length (one value per stimulus). Constant or non-finite
input raises ``ValueError``: a correlation with a constant is undefined. Metrics whose
larger values are worse (MPJPE) correlate negatively with MOS; `logistic_fit` handles either
direction and `compare_correlations` compares magnitudes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

__all__ = [
    "CorrelationComparison",
    "LogisticFit",
    "bootstrap_ci",
    "compare_correlations",
    "krocc",
    "logistic_fit",
    "outlier_ratio",
    "plcc",
    "rmse",
    "split_half_reliability",
    "srocc",
    "validate_metric",
]


def _vectors(*arrays: Any, names: tuple[str, ...], fn: str, min_n: int = 3) -> list[np.ndarray]:
    out = []
    for a, name in zip(arrays, names, strict=True):
        v = np.asarray(a, dtype=np.float64)
        if v.ndim != 1:
            raise ValueError(
                f"{fn}: {name} must be 1-D (one value per stimulus), got shape {v.shape}"
            )
        if not np.isfinite(v).all():
            raise ValueError(
                f"{fn}: {name} contains NaN or inf (first at index {int(np.flatnonzero(~np.isfinite(v))[0])})"
            )
        out.append(v)
    n = len(out[0])
    if any(len(v) != n for v in out):
        raise ValueError(
            f"{fn}: {' and '.join(names)} must have the same length, got {[len(v) for v in out]}"
        )
    if n < min_n:
        raise ValueError(f"{fn}: need at least {min_n} stimuli, got {n}")
    for v, name in zip(out, names, strict=True):
        if np.ptp(v) == 0:
            raise ValueError(
                f"{fn}: {name} is constant ({v[0]:g} for all {n} stimuli); its correlation is undefined"
            )
    return out


def _logistic4(x, b1, b2, b3, b4):
    return (b1 - b2) / (1.0 + np.exp(-(x - b3) / b4)) + b2


def _logistic5(x, b1, b2, b3, b4, b5):
    return b1 * (0.5 - 1.0 / (1.0 + np.exp(b2 * (x - b3)))) + b4 * x + b5


@dataclass(frozen=True)
class LogisticFit:
    """A fitted VQEG logistic: ``predict(x)`` maps metric values to MOS."""

    parameters: int
    params: tuple[float, ...]
    sse: float

    def predict(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(over="ignore"):
            if self.parameters == 4:
                return _logistic4(x, *self.params)
            return _logistic5(x, *self.params)

    __call__ = predict


def logistic_fit(objective: Any, subjective: Any, *, parameters: int = 4) -> LogisticFit:
    """Fit the VQEG 4- or 5-parameter logistic from metric values to MOS.

    Several starts (midpoint at the 25/50/75% quantiles of ``objective``, slopes of 1/4,
    1, 4 times the inverse spread, the direction from Spearman's rho) are tried with
    ``scipy.optimize.curve_fit`` (trust-region reflective, bounds keep the slope's sign and
    the plateaus within twice the MOS range); the fit with the least squared error wins.

    Args:
        objective: ``(n,)`` metric values. subjective: ``(n,)`` MOS. ``n >= parameters + 1``.
        parameters: 4 or 5.

    Raises:
        ValueError: bad input, or no start converged (the message says what to try).
    """
    fn = "logistic_fit"
    if parameters not in (4, 5):
        raise ValueError(f"{fn}: parameters must be 4 or 5, got {parameters!r}")
    x, y = _vectors(
        objective, subjective, names=("objective", "subjective"), fn=fn, min_n=parameters + 1
    )
    sign = 1.0 if stats.spearmanr(x, y)[0] >= 0 else -1.0
    spread = max(float(np.std(x)), 1e-12 * max(1.0, float(np.abs(x).max())))
    y_lo, y_hi, y_rng = float(y.min()), float(y.max()), float(np.ptp(y))
    x_lo, x_hi = float(x.min()), float(x.max())
    best: tuple[float, np.ndarray] | None = None
    errors = []
    for q in (0.5, 0.25, 0.75):
        mid = float(np.quantile(x, q))
        for k in (1.0, 0.25, 4.0):
            if parameters == 4:
                f = _logistic4
                hi, lo = (y_hi, y_lo) if sign > 0 else (y_lo, y_hi)
                p0 = [hi, lo, mid, k * spread]
                bounds = (
                    [y_lo - y_rng, y_lo - y_rng, x_lo - np.ptp(x), 1e-6 * spread],
                    [y_hi + y_rng, y_hi + y_rng, x_hi + np.ptp(x), 1e3 * spread],
                )
            else:
                f = _logistic5
                p0 = [sign * y_rng, 1.0 / (k * spread), mid, 0.0, float(np.mean(y))]
                lo_b1, hi_b1 = (0.0, 4 * y_rng) if sign > 0 else (-4 * y_rng, 0.0)
                bounds = (
                    [lo_b1, 1e-3 / spread, x_lo - np.ptp(x), -np.inf, -np.inf],
                    [hi_b1, 1e3 / spread, x_hi + np.ptp(x), np.inf, np.inf],
                )
            try:
                with warnings.catch_warnings(), np.errstate(over="ignore"):
                    warnings.simplefilter("ignore", optimize.OptimizeWarning)
                    popt, _ = optimize.curve_fit(
                        f, x, y, p0=p0, bounds=bounds, method="trf", maxfev=20000
                    )
            except (RuntimeError, ValueError) as err:
                errors.append(str(err))
                continue
            with np.errstate(over="ignore"):
                sse = float(np.sum((f(x, *popt) - y) ** 2))
            if np.isfinite(sse) and (best is None or sse < best[0]):
                best = (sse, popt)
    if best is None:
        raise ValueError(
            f"{fn}: the {parameters}-parameter logistic did not converge from any of 9 starts "
            f"on {len(x)} stimuli ({errors[-1] if errors else 'non-finite fit'}); try "
            f"parameters={'4' if parameters == 5 else '5'}, more stimuli, or check that the "
            "metric relates monotonically to MOS"
        )
    return LogisticFit(parameters, tuple(float(v) for v in best[1]), best[0])


def _fitted(objective, subjective, fit, fn):
    x, y = _vectors(objective, subjective, names=("objective", "subjective"), fn=fn)
    if fit is None:
        return x, y
    if isinstance(fit, LogisticFit):
        return fit.predict(x), y
    return logistic_fit(x, y, parameters=fit).predict(x), y


def plcc(objective: Any, subjective: Any, *, fit: int | LogisticFit | None = None) -> float:
    """Pearson linear correlation. ``fit=None`` on the raw values (equals
    ``scipy.stats.pearsonr``); ``fit=4``/``5`` (or a `LogisticFit`) first maps the metric
    through the VQEG logistic, the standard protocol for reporting PLCC."""
    x, y = _fitted(objective, subjective, fit, "plcc")
    if np.ptp(x) == 0:
        raise ValueError("plcc: the fitted predictions are constant; the correlation is undefined")
    return float(stats.pearsonr(x, y)[0])


def rmse(objective: Any, subjective: Any, *, fit: int | LogisticFit = 4) -> float:
    """Root mean squared error (MOS units) between the logistic-mapped metric and MOS."""
    if fit is None:
        raise ValueError(
            "rmse: needs a fit (4, 5 or a LogisticFit): raw metric values are not on the MOS scale"
        )
    x, y = _fitted(objective, subjective, fit, "rmse")
    return float(np.sqrt(np.mean((x - y) ** 2)))


def srocc(objective: Any, subjective: Any) -> float:
    """Spearman rank-order correlation (``scipy.stats.spearmanr``) on raw values."""
    x, y = _vectors(objective, subjective, names=("objective", "subjective"), fn="srocc")
    return float(stats.spearmanr(x, y)[0])


def krocc(objective: Any, subjective: Any) -> float:
    """Kendall rank-order correlation, tau-b (``scipy.stats.kendalltau``) on raw values."""
    x, y = _vectors(objective, subjective, names=("objective", "subjective"), fn="krocc")
    return float(stats.kendalltau(x, y)[0])


def outlier_ratio(
    objective: Any, subjective: Any, tolerance: Any, *, fit: int | LogisticFit = 4
) -> float:
    """Share of stimuli with ``|f(x) - MOS| > tolerance`` (VQEG outlier ratio), ``f`` the
    logistic fit. ``tolerance``: ``(n,)`` or scalar, in MOS units; VQEG uses
    ``2 * std / sqrt(votes)`` per stimulus; the 95% CI half-width of
    ``poseviz.rating.screening.mos_with_ci`` is the same to within a few percent."""
    pred, y = _fitted(objective, subjective, fit, "outlier_ratio")
    tol = np.broadcast_to(np.asarray(tolerance, dtype=np.float64), y.shape)
    if not (np.isfinite(tol).all() and (tol >= 0).all()):
        raise ValueError("outlier_ratio: tolerance must be finite and >= 0")
    return float(np.mean(np.abs(pred - y) > tol))


_STATS: dict[str, Callable[..., float]] = {"plcc": plcc, "srocc": srocc, "krocc": krocc}


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(-1, keepdims=True)
    yc = y - y.mean(-1, keepdims=True)
    den = np.sqrt((xc**2).sum(-1) * (yc**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(-1) / den


def _resampled_stat(statistic: str, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The statistic on each bootstrap resample (rows of ``idx``); vectorised for PLCC and
    SROCC, a loop for KROCC. Degenerate resamples give NaN."""
    xs, ys = x[idx], y[idx]
    if statistic == "plcc":
        return _pearson_rows(xs, ys)
    if statistic == "srocc":
        return _pearson_rows(stats.rankdata(xs, axis=1), stats.rankdata(ys, axis=1))
    return np.array([stats.kendalltau(a, b)[0] for a, b in zip(xs, ys, strict=True)])


def bootstrap_ci(
    objective: Any,
    subjective: Any,
    *,
    statistic: str = "srocc",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | None = 0,
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a correlation over stimuli.

    Args:
        statistic: ``"plcc"`` (raw Pearson), ``"srocc"`` or ``"krocc"``.
        n_boot: resamples; level: e.g. 0.95; seed: for reproducibility.

    Returns:
        ``(estimate, low, high)``.
    """
    fn = "bootstrap_ci"
    if statistic not in _STATS:
        raise ValueError(f"{fn}: statistic must be one of {sorted(_STATS)}, got {statistic!r}")
    if not 0 < level < 1 or n_boot < 10:
        raise ValueError(f"{fn}: need 0 < level < 1 and n_boot >= 10, got {level}, {n_boot}")
    x, y = _vectors(objective, subjective, names=("objective", "subjective"), fn=fn)
    est = _STATS[statistic](x, y)
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    vals = _resampled_stat(statistic, x, y, idx)
    vals = vals[np.isfinite(vals)]
    a = (1 - level) / 2
    return est, float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))


@dataclass(frozen=True)
class CorrelationComparison:
    """Result of `compare_correlations`: the two correlations with MOS (signed), the
    difference of their magnitudes ``|r_a| - |r_b|``, the test statistic (Williams: t with
    ``df`` = n - 3; bootstrap: NaN), the two-sided p-value, and for the bootstrap the
    confidence interval of the difference."""

    r_a: float
    r_b: float
    difference: float
    statistic: float
    df: int
    p_value: float
    method: str
    ci: tuple[float, float] | None = None


def _williams(r12: float, r13: float, r23: float, n: int) -> tuple[float, float]:
    """Williams' t for H0: rho12 = rho13 (variables 2 and 3 both correlated with 1)."""
    det = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
    rbar = (r12 + r13) / 2
    t = (r12 - r13) * np.sqrt(
        (n - 1) * (1 + r23) / (2 * (n - 1) / (n - 3) * det + rbar**2 * (1 - r23) ** 3)
    )
    return float(t), float(2 * stats.t.sf(abs(t), n - 3))


def compare_correlations(
    metric_a: Any,
    metric_b: Any,
    mos: Any,
    *,
    statistic: str = "plcc",
    method: str = "williams",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int | None = 0,
) -> CorrelationComparison:
    """Does metric A correlate with MOS significantly better than metric B on the same
    stimuli?

    Each metric is first oriented so that its correlation with MOS is positive (MPJPE-like
    metrics are negated), so magnitudes are compared.

    * ``method="williams"``: Williams' t-test for dependent correlations with one variable
      in common, ``t = (r12 - r13) sqrt((n-1)(1+r23) / (2 (n-1)/(n-3) |R| + rbar^2
      (1-r23)^3))`` with ``|R| = 1 - r12^2 - r13^2 - r23^2 + 2 r12 r13 r23``, ``rbar =
      (r12 + r13)/2``, ``df = n - 3`` (Steiger 1980, eq. 7); the correlations are Pearson on
      raw values (``statistic="plcc"``) or on ranks (``"srocc"``, an approximation).
    * ``method="bootstrap"``: paired bootstrap over stimuli of ``|r_a| - |r_b|`` for any
      ``statistic``; two-sided p-value = twice the share of resamples on the other side of
      zero, and the percentile CI at ``level``.
    """
    fn = "compare_correlations"
    if method not in ("williams", "bootstrap"):
        raise ValueError(f"{fn}: method must be 'williams' or 'bootstrap', got {method!r}")
    if statistic not in _STATS or (method == "williams" and statistic == "krocc"):
        raise ValueError(
            f"{fn}: statistic must be 'plcc' or 'srocc' (or 'krocc' with method='bootstrap'), got {statistic!r}"
        )
    a, b, y = _vectors(
        metric_a, metric_b, mos, names=("metric_a", "metric_b", "mos"), fn=fn, min_n=4
    )
    n = len(y)
    if method == "williams":
        if statistic == "srocc":
            a, b, y = (stats.rankdata(v) for v in (a, b, y))
        r_a, r_b, r_ab = (float(stats.pearsonr(u, v)[0]) for u, v in ((a, y), (b, y), (a, b)))
        sa, sb = np.sign(r_a) or 1.0, np.sign(r_b) or 1.0
        t, p = _williams(abs(r_a), abs(r_b), sa * sb * r_ab, n)
        return CorrelationComparison(r_a, r_b, abs(r_a) - abs(r_b), t, n - 3, p, "williams")
    r_a, r_b = _STATS[statistic](a, y), _STATS[statistic](b, y)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    d = np.abs(_resampled_stat(statistic, a, y, idx)) - np.abs(
        _resampled_stat(statistic, b, y, idx)
    )
    d = d[np.isfinite(d)]
    diff = abs(r_a) - abs(r_b)
    p = float(min(1.0, 2 * min(np.mean(d <= 0), np.mean(d >= 0))))
    q = (1 - level) / 2
    ci = (float(np.quantile(d, q)), float(np.quantile(d, 1 - q)))
    return CorrelationComparison(r_a, r_b, diff, float("nan"), n - 1, p, "bootstrap", ci)


def split_half_reliability(
    ratings: Any, *, n_splits: int = 200, statistic: str = "plcc", seed: int | None = 0
) -> dict[str, float]:
    """Split-half reliability of MOS with the Spearman-Brown correction.

    The raters are split at random into two halves ``n_splits`` times; each half's MOS per
    stimulus (the mean of its available votes) is correlated with the other's
    (``statistic``: Pearson or Spearman over stimuli rated in both halves), and
    ``r_sb = 2 r / (1 + r)`` estimates the reliability of the whole panel.

    Args:
        ratings: ``(raters, stimuli)`` scores, NaN where a rater did not rate a stimulus.

    Returns:
        ``{"r_half", "r_half_std", "spearman_brown", "spearman_brown_low",
        "spearman_brown_high"}``: mean split-half correlation, its spread over splits, the
        corrected reliability and its 2.5/97.5% quantiles over splits.
    """
    fn = "split_half_reliability"
    if statistic not in ("plcc", "srocc"):
        raise ValueError(f"{fn}: statistic must be 'plcc' or 'srocc', got {statistic!r}")
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 3:
        raise ValueError(
            f"{fn}: expected ratings of shape (raters >= 2, stimuli >= 3), got {r.shape}"
        )
    if np.isinf(r).any():
        raise ValueError(f"{fn}: ratings contain inf (use NaN for missing votes)")
    rng = np.random.default_rng(seed)
    R = r.shape[0]
    vals = []
    for _ in range(n_splits):
        perm = rng.permutation(R)
        h1, h2 = r[perm[: R // 2]], r[perm[R // 2 :]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            m1, m2 = np.nanmean(h1, 0), np.nanmean(h2, 0)
        ok = np.isfinite(m1) & np.isfinite(m2)
        if ok.sum() < 3 or np.ptp(m1[ok]) == 0 or np.ptp(m2[ok]) == 0:
            continue
        f = stats.pearsonr if statistic == "plcc" else stats.spearmanr
        vals.append(float(f(m1[ok], m2[ok])[0]))
    if not vals:
        raise ValueError(f"{fn}: no split gave two non-constant halves over >= 3 common stimuli")
    v = np.asarray(vals)
    sb = 2 * v / (1 + v)
    return {
        "r_half": float(v.mean()),
        "r_half_std": float(v.std()),
        "spearman_brown": float(2 * v.mean() / (1 + v.mean())),
        "spearman_brown_low": float(np.quantile(sb, 0.025)),
        "spearman_brown_high": float(np.quantile(sb, 0.975)),
    }


def validate_metric(
    objective: Any,
    mos: Any,
    *,
    mos_tolerance: Any | None = None,
    parameters: int = 4,
    n_boot: int = 2000,
    seed: int | None = 0,
) -> dict[str, float]:
    """The usual validation row of a metric against MOS: PLCC and RMSE after the
    ``parameters``-logistic fit, SROCC and KROCC (raw), outlier ratio (when
    ``mos_tolerance`` is given) and 95% bootstrap intervals of PLCC (raw) and SROCC."""
    fit = logistic_fit(objective, mos, parameters=parameters)
    out = {
        "plcc": plcc(objective, mos, fit=fit),
        "rmse": rmse(objective, mos, fit=fit),
        "srocc": srocc(objective, mos),
        "krocc": krocc(objective, mos),
    }
    if mos_tolerance is not None:
        out["outlier_ratio"] = outlier_ratio(objective, mos, mos_tolerance, fit=fit)
    for s in ("plcc", "srocc"):
        _, lo, hi = bootstrap_ci(objective, mos, statistic=s, n_boot=n_boot, seed=seed)
        out[f"{s}_ci_low"], out[f"{s}_ci_high"] = lo, hi
    return out
