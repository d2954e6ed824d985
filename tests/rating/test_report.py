"""``poseviz rating report``: metrics on the rated clips against the screened MOS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from poseviz.cli import main
from poseviz.rating.admin import run_screening
from poseviz.rating.builder import PosePair, StudyLayout, create_study, degrade
from poseviz.rating.protocol import RatingService
from poseviz.rating.report import METRICS, score_stimuli, validation_report, write_report
from poseviz.rating.schema import Role, Stimulus
from poseviz.rating.store import Store
from tests.rating.simulate import SimRater, run_rater


def _pairs(rng, models=("a", "b", "c"), clips=16) -> list[PosePair]:
    """Per clip a random error size, so quality varies within and across models."""
    pairs = []
    sev = np.array(["none", "joint", "body_part", "half_body"])
    for m in models:
        ref = np.cumsum(rng.normal(scale=0.01, size=(120 * clips, 17, 3)), 0)
        ref += rng.normal(scale=0.3, size=(1, 17, 3))
        ref -= ref[:, :1]
        pred = np.concatenate(
            [
                degrade(ref[k * 120 : (k + 1) * 120], rng.uniform(0.005, 0.2), rng)
                for k in range(clips)
            ]
        )
        pairs.append(
            PosePair(
                ref,
                pred,
                m,
                f"seq-{m}",
                "c0",
                severity=list(sev[np.arange(120 * clips) // 120 % 4]),
            )
        )
    return pairs


@pytest.fixture(scope="module")
def rated_study(tmp_path_factory):
    rng = np.random.default_rng(3)
    db = tmp_path_factory.mktemp("report") / "study.db"
    store = Store(db)
    sid = create_study(store, "val", _pairs(rng), layout=StudyLayout(clips_per_cell=8), seed=0)
    with store.session() as s:
        stimuli = {st.id: st for st in s.scalars(select(Stimulus).where(Stimulus.study_id == sid))}
    # People's hidden quality: worse with the clip's mean joint error (5 at 0 mm, 1 at 200 mm).
    hidden = {}
    for k, st in stimuli.items():
        ref, pred = st.arrays()
        err = np.linalg.norm(ref - pred, axis=-1).mean() * 1000
        hidden[k] = float(np.clip(5 - 4 * err / 200, 1, 5))
    service = RatingService(store)
    from poseviz.rating.builder import invite_raters

    for _, token in invite_raters(store, sid, 12):
        run_rater(service, SimRater(token, "honest", noise=0.4), stimuli, hidden, rng, sessions=3)
    run_screening(store, sid)
    return store, sid, db


def test_scores_match_plain_loops(rng):
    ref = rng.normal(scale=0.3, size=(4, 30, 17, 3))
    pred = ref + rng.normal(scale=0.05, size=ref.shape)
    scores = score_stimuli(ref, pred)
    assert set(scores) == {m.name for m in METRICS}
    loop = [np.mean([np.linalg.norm((p[t] - p[t, :1]) - (r[t] - r[t, :1]), axis=-1).mean()
                     for t in range(30)]) * 1000 for r, p in zip(ref, pred, strict=True)]  # fmt: skip
    np.testing.assert_allclose(scores["MPJPE"], loop, rtol=1e-6)
    # LSE looks at the prediction only; identical poses give zero error and perfect similarity
    same = score_stimuli(ref, ref)
    assert np.allclose(same["MPJPE"], 0) and np.allclose(same["PSIM+ temporal"], 1)
    with pytest.raises(ValueError, match=r"\(N, T, J, 3\)"):
        score_stimuli(ref[0], pred[0])


@pytest.fixture(scope="module")
def report(rated_study):
    store, sid, _ = rated_study
    return validation_report(store, sid, bootstrap=200)


def test_report_agrees_with_scipy_and_recovers_the_people(report):
    assert len(report.mos) >= 40
    assert set(report.subsets) >= {"all", "none", "joint", "body_part", "half_body"}
    row = next(r for r in report.rows if r["metric"] == "MPJPE" and r["subset"] == "all")
    x = report.scores["MPJPE"]
    assert row["srocc"] == pytest.approx(stats.spearmanr(x, report.mos)[0])
    assert row["krocc"] == pytest.approx(stats.kendalltau(x, report.mos)[0])
    assert row["srocc"] < -0.9  # people's quality falls with the joint error
    fitted = report.fits[("MPJPE", "all")].predict(x)
    assert row["plcc"] == pytest.approx(stats.pearsonr(fitted, report.mos)[0])
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((fitted - report.mos) ** 2)))
    for k in ("plcc", "srocc", "krocc", "rmse"):
        assert row[f"{k}_ci_low"] <= row[k] <= row[f"{k}_ci_high"], k
    psim = next(r for r in report.rows if r["metric"] == "PSIM+ (P)" and r["subset"] == "all")
    assert psim["srocc"] > 0.5  # higher similarity, higher MOS
    table = report.markdown()
    assert "| MPJPE | spatial |" in table and "PSIM+ temporal" in table


def test_report_command_writes_table_csv_html_png(rated_study, tmp_path, capsys):
    _, _, db = rated_study
    out = tmp_path / "rep"
    assert (
        main(["rating", "report", "val", "--db", str(db), "-o", str(out), "--bootstrap", "100"])
        == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == ["report.csv", "report.html", "report.md", "scatter.png", "scores.csv"]
    assert (out / "scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    assert "MPJPE" in capsys.readouterr().out


def test_report_needs_a_screened_study(tmp_path, rng):
    store = Store(tmp_path / "s.db")
    sid = create_study(store, "x", _pairs(rng, clips=2), layout=StudyLayout(clips_per_cell=1))
    with pytest.raises(ValueError, match="no screening run"):
        validation_report(store, sid)
    with store.session() as s:
        assert s.scalars(select(Stimulus).where(Stimulus.role == Role.RATED)).first() is not None


def test_write_report_leaves_no_partial_files(report, tmp_path, monkeypatch):
    import poseviz.rating.report as mod

    def broken(_):
        raise RuntimeError("disk full")

    monkeypatch.setattr(mod, "_scatter_png", broken)
    with pytest.raises(RuntimeError):
        write_report(report, tmp_path / "r")
    assert not [p for p in (tmp_path / "r").iterdir() if p.name.startswith(".")]
