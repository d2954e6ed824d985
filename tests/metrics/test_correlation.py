"""Correlation toolkit against scipy.stats and formulas written out independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from poseviz.metrics.correlation import (
    bootstrap_ci,
    compare_correlations,
    krocc,
    logistic_fit,
    outlier_ratio,
    plcc,
    rmse,
    split_half_reliability,
    srocc,
    validate_metric,
)


@pytest.fixture
def study(rng):
    """An MPJPE-like metric (lower is better) and MOS on a logistic curve plus noise."""
    x = rng.uniform(20, 120, size=60)
    mos = 1 + 4 / (1 + np.exp((x - 70) / 12)) + rng.normal(scale=0.25, size=60)
    return x, mos


def test_rank_and_linear_correlations_equal_scipy(study):
    x, mos = study
    assert plcc(x, mos) == pytest.approx(stats.pearsonr(x, mos)[0], abs=1e-14)
    assert srocc(x, mos) == pytest.approx(stats.spearmanr(x, mos)[0], abs=1e-14)
    assert krocc(x, mos) == pytest.approx(stats.kendalltau(x, mos)[0], abs=1e-14)


@pytest.mark.parametrize("parameters", [4, 5])
def test_logistic_fit_recovers_a_known_curve(rng, parameters):
    x = np.linspace(0, 100, 50)
    true = (4.5 - 1.2) / (1 + np.exp(-(x - 40) / 8)) + 1.2
    fit = logistic_fit(x, true + rng.normal(scale=0.01, size=50), parameters=parameters)
    np.testing.assert_allclose(fit.predict(x), true, atol=0.05)
    if parameters == 4:
        np.testing.assert_allclose(fit.params, [4.5, 1.2, 40, 8], rtol=0.05)


def test_fit_improves_plcc_and_rmse_is_after_the_fit(study):
    x, mos = study
    fit = logistic_fit(x, mos)
    pred = fit.predict(x)
    assert plcc(x, mos, fit=fit) == pytest.approx(stats.pearsonr(pred, mos)[0])
    assert plcc(x, mos, fit=4) > abs(plcc(x, mos))  # decreasing metric: fitted PLCC positive
    assert rmse(x, mos, fit=fit) == pytest.approx(np.sqrt(np.mean((pred - mos) ** 2)))
    assert rmse(x, mos, fit=fit) < np.std(mos)
    tol = np.full(60, 0.3)
    assert outlier_ratio(x, mos, tol, fit=fit) == pytest.approx(np.mean(np.abs(pred - mos) > 0.3))


def test_bootstrap_ci_brackets_the_estimate(study):
    x, mos = study
    for s in ("plcc", "srocc", "krocc"):
        est, lo, hi = bootstrap_ci(x, mos, statistic=s, n_boot=300)
        assert lo <= est <= hi and hi - lo < 0.2
    # vectorised Spearman resampling equals scipy on a resample
    idx = np.random.default_rng(0).integers(0, 60, size=(300, 60))
    est, lo, hi = bootstrap_ci(x, mos, statistic="srocc", n_boot=300, level=0.9)
    ref = np.array([stats.spearmanr(x[i], mos[i])[0] for i in idx])
    assert (lo, hi) == pytest.approx((np.quantile(ref, 0.05), np.quantile(ref, 0.95)), abs=1e-12)


def _williams_reference(r12, r13, r23, n):
    """Steiger (1980) eq. 7 with |R| as the determinant of the 3x3 correlation matrix."""
    R = np.array([[1, r12, r13], [r12, 1, r23], [r13, r23, 1]])
    t = (r12 - r13) * np.sqrt(
        (n - 1)
        * (1 + r23)
        / (2 * (n - 1) / (n - 3) * np.linalg.det(R) + ((r12 + r13) / 2) ** 2 * (1 - r23) ** 3)
    )
    return t, 2 * stats.t.sf(abs(t), n - 3)


def test_williams_test(study, rng):
    x, mos = study
    worse = x + rng.normal(scale=40, size=60)
    c = compare_correlations(x, worse, mos)
    r12, r13, r23 = (
        abs(stats.pearsonr(x, mos)[0]),
        abs(stats.pearsonr(worse, mos)[0]),
        stats.pearsonr(x, worse)[0],
    )
    t, p = _williams_reference(r12, r13, r23, 60)
    assert c.statistic == pytest.approx(t) and c.p_value == pytest.approx(p) and c.df == 57
    assert c.difference > 0 and c.p_value < 0.01
    flipped = compare_correlations(-x, worse, mos)  # orientation does not matter
    assert flipped.statistic == pytest.approx(c.statistic)
    same = compare_correlations(x, x + rng.normal(scale=1e-3, size=60), mos)
    assert same.p_value > 0.5
    boot = compare_correlations(x, worse, mos, method="bootstrap", n_boot=400)
    assert boot.ci[0] > 0 and boot.p_value < 0.01


def test_split_half_with_spearman_brown(rng):
    mos = rng.uniform(1, 5, size=40)
    ratings = mos + rng.normal(scale=0.8, size=(16, 40))
    ratings[rng.random(ratings.shape) < 0.2] = np.nan
    out = split_half_reliability(ratings, n_splits=50)
    assert out["spearman_brown"] == pytest.approx(2 * out["r_half"] / (1 + out["r_half"]))
    assert 0.8 < out["r_half"] < out["spearman_brown"] < 1
    noise = rng.normal(size=(16, 40))
    assert split_half_reliability(noise, n_splits=50)["spearman_brown"] < 0.5


def test_validate_metric_row(study):
    x, mos = study
    row = validate_metric(x, mos, mos_tolerance=0.3, n_boot=200)
    assert set(row) >= {
        "plcc",
        "rmse",
        "srocc",
        "krocc",
        "outlier_ratio",
        "srocc_ci_low",
        "plcc_ci_high",
    }


def test_bad_input_raises_clear_errors(study):
    x, mos = study
    with pytest.raises(ValueError, match="constant"):
        srocc(np.ones(10), mos[:10])
    with pytest.raises(ValueError, match="constant"):
        plcc(x, np.full(60, 3.0))
    with pytest.raises(ValueError, match="same length"):
        krocc(x, mos[:-1])
    with pytest.raises(ValueError, match="NaN"):
        plcc(np.r_[x[:-1], np.nan], mos)
    with pytest.raises(ValueError, match="parameters must be 4 or 5"):
        logistic_fit(x, mos, parameters=3)
    with pytest.raises(ValueError, match="at least 5 stimuli"):
        logistic_fit(x[:4], mos[:4])
    with pytest.raises(ValueError, match="needs a fit"):
        rmse(x, mos, fit=None)
    with pytest.raises(ValueError, match="statistic"):
        compare_correlations(x, x, mos, statistic="krocc")


def test_failed_fit_says_what_to_try(study, monkeypatch):
    from scipy import optimize

    def fail(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: maxfev exceeded")

    monkeypatch.setattr(optimize, "curve_fit", fail)
    with pytest.raises(
        ValueError, match=r"5-parameter logistic did not converge .* try parameters=4"
    ):
        logistic_fit(*study, parameters=5)
