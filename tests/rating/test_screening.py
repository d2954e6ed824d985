import numpy as np
import pytest
from scipy import stats

from poseviz.rating.screening import (
    ScreeningConfig,
    Vote,
    bt500_rejections,
    mos_with_ci,
    session_rejections,
)


def bt500_reference(M):
    """BT.500-14 Annex 1 §2.3.1 written as a plain loop over raters and stimuli."""
    R, S = M.shape
    rejected = []
    for i in range(R):
        P = Q = N = 0
        for j in range(S):
            col = [M[k, j] for k in range(R) if not np.isnan(M[k, j])]
            if np.isnan(M[i, j]) or len(col) < 2:
                continue
            N += 1
            u = sum(col) / len(col)
            m2 = sum((x - u) ** 2 for x in col) / len(col)
            m4 = sum((x - u) ** 4 for x in col) / len(col)
            s = (sum((x - u) ** 2 for x in col) / (len(col) - 1)) ** 0.5
            if s == 0:
                continue
            k = 2 if 2 <= m4 / m2**2 <= 4 else 20**0.5
            P += M[i, j] >= u + k * s
            Q += M[i, j] <= u - k * s
        if N and P + Q and (P + Q) / N > 0.05 and abs(P - Q) / (P + Q) < 0.3:
            rejected.append(i)
    return rejected


def test_bt500_matches_plain_loop(rng):
    quality = rng.uniform(1, 5, size=40)
    M = quality + rng.normal(scale=0.5, size=(25, 40))  # continuous scale, as BT.500 assumes
    M[:3] = quality + rng.choice([-1.5, 1.5], size=(3, 40))  # raters off by 1.5 either way
    M[rng.random(M.shape) < 0.2] = np.nan
    ours = sorted(bt500_rejections(M))
    assert ours == bt500_reference(M)
    assert len({0, 1, 2} & set(ours)) >= 2 and len(set(ours) - {0, 1, 2}) <= 1


def test_mos_ci_matches_scipy(rng):
    v = rng.integers(1, 6, size=12).astype(float)
    mean, half, n = mos_with_ci(v)
    lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert n == 12 and np.isclose(mean, v.mean()) and np.isclose(half, (hi - lo) / 2)


def test_session_rules():
    def vote(sess, score, role="rated", expected=None, tol=None, played=True):
        return Vote(sess, "r", 0, score, role, expected, tol, played)

    votes = [vote(1, s) for s in (1, 3, 5, 2)] + [
        vote(1, 2, "trap", 2.0),
        vote(1, 4, "gold", 4.0, 1.0),
    ]
    votes += [vote(2, 3) for _ in range(4)]  # straight-lining
    votes += [vote(3, s) for s in (1, 5)] + [vote(3, 1, "gold", 4.0, 1.0)]
    votes += [vote(4, s) for s in (1, 5)] + [vote(4, 3, "trap", 2.0)] + [vote(4, 2, played=False)]
    out = session_rejections(votes, ScreeningConfig())
    assert 1 not in out
    assert "straight-lining" in out[2]
    assert "gold off by 3" in out[3]
    assert "trap failed" in out[4] and "without completed playback" in out[4]


def test_constant_scores_give_no_mos_interval_error():
    assert mos_with_ci(np.array([3.0, 3.0, 3.0]))[1] == pytest.approx(0.0)
