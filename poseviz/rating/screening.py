"""Screening raters and aggregating votes into MOS.

Rules, applied in order (all thresholds in `ScreeningConfig`, every rejection recorded with
its reason):

1. **Session rules** (ITU-T P.808): a session is rejected when it failed its trap item
   (score != the instructed score), missed a gold item by more than its tolerance, rated
   with a variance below ``min_session_variance`` (straight-lining), or has a rating without
   completed playback.
2. **BT.500 kurtosis procedure** (ITU-R BT.500-14, Annex 1 §2.3.1) on the votes of the
   accepted sessions: per stimulus j, mean u_j, standard deviation s_j and kurtosis
   beta2_j = m4 / m2^2; the band is u_j +- 2 s_j when 2 <= beta2_j <= 4 (normal), else
   u_j +- sqrt(20) s_j. For rater i, P_i / Q_i count votes above / below the band; the rater
   is rejected when (P_i + Q_i) / N_i > 0.05 and |P_i - Q_i| / (P_i + Q_i) < 0.3.
3. **Unreliable raters**: a rater most of whose sessions were rejected (share above
   ``max_rejected_session_share``) is rejected as a whole, their passing sessions too.
4. **Agreement with the others**: Pearson correlation between a rater's votes and the mean
   of the other raters' votes on the same stimuli; rejected below ``min_rater_correlation``
   (needs at least ``min_common_items`` stimuli).
5. Optional per-rater **z-score normalisation** (ITU-T P.910 §12): each rater's votes are
   standardised, then mapped back to the pooled mean and standard deviation.

MOS per stimulus is the mean of the kept votes with the 95% confidence interval half-width
``t_{0.975, n-1} * s / sqrt(n)``.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "ScreeningConfig",
    "ScreeningResult",
    "Vote",
    "bt500_rejections",
    "mos_with_ci",
    "screen",
    "session_rejections",
]


@dataclass(frozen=True)
class ScreeningConfig:
    min_session_variance: float = 0.1
    gold_tolerance: float | None = None  # None: each gold item's own tolerance
    bt500: bool = True
    max_rejected_session_share: float = 0.5
    min_rater_correlation: float = 0.4
    min_common_items: int = 5
    zscore: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Vote:
    """One rating, with what screening needs to know about it."""

    session: int
    rater: str
    stimulus: int
    score: float
    role: str  # "rated", "reference", "gold", "trap"
    expected: float | None = None
    tolerance: float | None = None
    completed_playback: bool = True


@dataclass
class ScreeningResult:
    rejected_sessions: dict[int, str] = field(default_factory=dict)
    rejected_raters: dict[str, str] = field(default_factory=dict)
    kept_raters: list[str] = field(default_factory=list)
    # stimulus id -> (MOS, CI95 half-width, number of votes)
    mos: dict[int, tuple[float, float, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "rejected_sessions": {str(k): v for k, v in self.rejected_sessions.items()},
            "rejected_raters": dict(self.rejected_raters),
            "kept_raters": list(self.kept_raters),
        }


def session_rejections(votes: list[Vote], config: ScreeningConfig) -> dict[int, str]:
    """Session id -> reason, for sessions that break a session rule."""
    by_session: dict[int, list[Vote]] = {}
    for v in votes:
        by_session.setdefault(v.session, []).append(v)
    out = {}
    for sid, vs in by_session.items():
        reasons = []
        for v in vs:
            if v.role == "trap" and v.expected is not None and v.score != v.expected:
                reasons.append(f"trap failed (answered {v.score:g}, asked for {v.expected:g})")
            if v.role == "gold" and v.expected is not None:
                tol = (
                    config.gold_tolerance
                    if config.gold_tolerance is not None
                    else (v.tolerance or 1.0)
                )
                if abs(v.score - v.expected) > tol:
                    reasons.append(f"gold off by {abs(v.score - v.expected):g} (> {tol:g})")
            if not v.completed_playback:
                reasons.append("rated without completed playback")
        rated = [v.score for v in vs if v.role in ("rated", "reference")]
        if len(rated) >= 2 and np.var(rated) < config.min_session_variance:
            reasons.append(
                f"straight-lining (variance {np.var(rated):.3f} < {config.min_session_variance:g})"
            )
        if reasons:
            out[sid] = "; ".join(dict.fromkeys(reasons))
    return out


def bt500_rejections(scores: np.ndarray) -> dict[int, str]:
    """BT.500-14 Annex 1 §2.3.1 on a ``(raters, stimuli)`` matrix with NaN for missing
    votes. Returns row index -> reason for rejected raters."""
    scores = np.asarray(scores, float)
    out = {}
    valid = ~np.isnan(scores)
    n = valid.sum(0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # stimuli with < 2 votes are skipped
        mean = np.nanmean(np.where(n >= 2, scores, np.nan), 0) if scores.size else np.array([])
        dev = scores - mean
        m2 = np.nanmean(dev**2, 0)
        m4 = np.nanmean(dev**4, 0)
        beta2 = m4 / m2**2
        sd = np.sqrt(np.nansum(dev**2, 0) / (n - 1))
    k = np.where((beta2 >= 2) & (beta2 <= 4), 2.0, np.sqrt(20.0))
    usable = n >= 2
    above = valid & usable & (scores >= mean + k * sd) & (sd > 0)
    below = valid & usable & (scores <= mean - k * sd) & (sd > 0)
    for i in range(scores.shape[0]):
        N = int((valid[i] & usable).sum())
        P, Q = int(above[i].sum()), int(below[i].sum())
        if N and P + Q and (P + Q) / N > 0.05 and abs(P - Q) / (P + Q) < 0.3:
            out[i] = (
                f"BT.500 outlier ((P+Q)/N = {(P + Q) / N:.2f}, |P-Q|/(P+Q) = {abs(P - Q) / (P + Q):.2f})"
            )
    return out


def mos_with_ci(votes: np.ndarray) -> tuple[float, float, int]:
    """Mean, 95% CI half-width (Student t) and count of a 1-D array of votes."""
    v = np.asarray(votes, float)
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(v[0]), float("inf"), 1
    half = stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n)
    return float(v.mean()), float(half), n


def screen(votes: list[Vote], config: ScreeningConfig | None = None) -> ScreeningResult:
    """Apply the rules of the module docstring; MOS over rated stimuli and hidden references."""
    config = config or ScreeningConfig()
    result = ScreeningResult(rejected_sessions=session_rejections(votes, config))
    sessions_of: dict[str, set[int]] = {}
    for v in votes:
        sessions_of.setdefault(v.rater, set()).add(v.session)
    for rater, sessions in sessions_of.items():
        share = len(sessions & result.rejected_sessions.keys()) / len(sessions)
        if 0 < share < 1 and share > config.max_rejected_session_share:
            result.rejected_raters[rater] = (
                f"{share:.0%} of sessions rejected (> {config.max_rejected_session_share:.0%})"
            )
    kept = [
        v
        for v in votes
        if v.session not in result.rejected_sessions
        and v.rater not in result.rejected_raters
        and v.role in ("rated", "reference")
    ]
    raters = sorted({v.rater for v in kept})
    stimuli = sorted({v.stimulus for v in kept})
    r_idx = {r: i for i, r in enumerate(raters)}
    s_idx = {s: j for j, s in enumerate(stimuli)}
    M = np.full((len(raters), len(stimuli)), np.nan)
    for v in kept:
        M[r_idx[v.rater], s_idx[v.stimulus]] = v.score

    if config.bt500 and M.size:
        for i, reason in bt500_rejections(M).items():
            result.rejected_raters[raters[i]] = reason
    for i, rater in enumerate(raters):
        if rater in result.rejected_raters:
            continue
        others = np.delete(
            M, [r_idx[r] for r in result.rejected_raters if r in r_idx] + [i], axis=0
        )
        own = M[i]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # stimuli nobody else rated
            ref = np.nanmean(others, 0) if len(others) else np.full_like(own, np.nan)
        common = ~np.isnan(own) & ~np.isnan(ref)
        if common.sum() < config.min_common_items:
            continue
        if np.std(own[common]) == 0 or np.std(ref[common]) == 0:
            result.rejected_raters[rater] = "no variation to correlate with the others"
            continue
        r = stats.pearsonr(own[common], ref[common])[0]
        if r < config.min_rater_correlation:
            result.rejected_raters[rater] = (
                f"correlation with the others' MOS {r:.2f} < {config.min_rater_correlation:g}"
            )

    keep_rows = [i for i, r in enumerate(raters) if r not in result.rejected_raters]
    result.kept_raters = [raters[i] for i in keep_rows]
    K = M[keep_rows]
    if config.zscore and K.size:
        mu, sd = np.nanmean(K, 1, keepdims=True), np.nanstd(K, 1, keepdims=True)
        Z = (K - mu) / np.where(sd > 0, sd, 1.0)
        K = Z * np.nanstd(K) + np.nanmean(K)
    for j, sid in enumerate(stimuli):
        col = K[:, j] if K.size else np.array([])
        result.mos[sid] = mos_with_ci(col[~np.isnan(col)])
    return result
