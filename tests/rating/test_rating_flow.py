import uuid

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import func, select

from poseviz.rating.admin import collect_votes, export_validation_set, progress, run_screening
from poseviz.rating.builder import StudyLayout, create_study, invite_raters
from poseviz.rating.protocol import RatingError, RatingService
from poseviz.rating.schema import Rating, Role, Stimulus
from poseviz.rating.store import Store
from tests.rating.simulate import SimRater, make_pairs, run_rater


@pytest.fixture
def study(tmp_path, rng):
    store = Store(tmp_path / "study.db")
    sid = create_study(
        store, "pilot", make_pairs(rng), layout=StudyLayout(clips_per_cell=2), seed=1
    )
    return store, sid


def test_study_layout_is_balanced(study):
    store, sid = study
    with store.session() as s:
        stims = s.scalars(select(Stimulus).where(Stimulus.study_id == sid)).all()
    rated = [st for st in stims if st.role == Role.RATED]
    cells = {(st.source_model, st.severity) for st in rated}
    assert cells == {
        (m, sv)
        for m in ("good", "mid", "bad")
        for sv in ("none", "joint", "body_part", "half_body")
    }
    assert all(st.arrays()[0].shape == (120, 17, 3) for st in stims)
    anchors = sorted(
        (st.extra["degradation_m"], st.expected_score) for st in stims if st.role == Role.ANCHOR
    )
    assert [a[1] for a in anchors] == [5, 4, 3, 2, 1]  # worst to best
    ref = [st for st in stims if st.role == Role.REFERENCE][0]
    np.testing.assert_array_equal(*ref.arrays())  # hidden reference: ground truth vs itself


def test_simulated_raters_screening_and_mos(study):
    """Honest raters (bias + noise) and spammers (random / constant): screening rejects the
    spammers, keeps >= 90% of honest raters, and the MOS recovers the hidden quality."""
    store, sid = study
    rng = np.random.default_rng(7)
    service = RatingService(store)
    with store.session() as s:
        stimuli = {st.id: st for st in s.scalars(select(Stimulus).where(Stimulus.study_id == sid))}
    hidden = {k: float(rng.uniform(1.2, 4.8)) for k, st in stimuli.items() if st.role == Role.RATED}
    hidden |= {k: 5.0 for k, st in stimuli.items() if st.role == Role.REFERENCE}
    tokens = invite_raters(store, sid, 30)
    raters = []
    for i, (pseudo, token) in enumerate(tokens):
        kind = "random" if i < 4 else "constant" if i < 6 else "honest"
        raters.append(
            (
                pseudo,
                SimRater(
                    token,
                    kind,
                    bias=rng.normal(scale=0.3),
                    noise=0.6,
                    constant=int(rng.integers(1, 6)),
                ),
            )
        )
    for _, r in raters:
        run_rater(service, r, stimuli, hidden, rng, sessions=3)

    result = run_screening(store, sid)
    spammers = {p for p, r in raters if r.kind != "honest"}
    honest = {p for p, r in raters if r.kind == "honest"}
    assert spammers.isdisjoint(result.kept_raters)
    assert len(honest & set(result.kept_raters)) >= 0.9 * len(honest)
    ids = [k for k in hidden if k in result.mos and result.mos[k][2] >= 3]
    assert len(ids) >= 20
    srocc = stats.spearmanr([hidden[k] for k in ids], [result.mos[k][0] for k in ids])[0]
    assert srocc >= 0.9, srocc
    assert progress(store, sid)["ratings"] == len(collect_votes(store, sid))


def test_export_writes_the_validation_set(study, tmp_path):
    store, sid = study
    service = RatingService(store)
    rng = np.random.default_rng(3)
    with store.session() as s:
        stimuli = {st.id: st for st in s.scalars(select(Stimulus).where(Stimulus.study_id == sid))}
    for _, token in invite_raters(store, sid, 3):
        run_rater(service, SimRater(token, "honest"), stimuli, {}, rng, sessions=1)
    run_screening(store, sid)
    npz, csv_path = export_validation_set(store, sid, tmp_path / "out")
    data = np.load(npz)
    assert data["reference"].shape[1:] == (120, 17, 3) and len(data["mos"]) == len(
        data["reference"]
    )
    assert csv_path.read_text().count("\n") == len(data["mos"]) + 1


def _ready(service, token):
    service.consent(token)
    service.finish_training(token)
    sid = service.start_session(token)
    return sid, service.current_item(token, sid)


def test_a_rater_cannot_touch_another_raters_items(study):
    store, sid = study
    service = RatingService(store)
    (_, alice), (_, bob) = invite_raters(store, sid, 2)
    a_sess, a_item = _ready(service, alice)
    b_sess, b_item = _ready(service, bob)
    with pytest.raises(RatingError, match=f"session {a_sess} not found"):
        service.current_item(bob, a_sess)
    with pytest.raises(RatingError, match=f"session {a_sess} not found"):
        service.submit(bob, a_sess, a_item.stimulus_id, 3, uuid.uuid4().hex)
    with pytest.raises(RatingError, match="unknown invite token"):
        service.submit("forged-token", b_sess, b_item.stimulus_id, 3, uuid.uuid4().hex)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 0


@pytest.mark.parametrize("score", [0, 6, 2.5, "3", True, None])
def test_out_of_range_scores_change_nothing(study, score):
    store, sid = study
    service = RatingService(store)
    [(_, token)] = invite_raters(store, sid, 1)
    sess, item = _ready(service, token)
    with pytest.raises(RatingError, match="score must be an integer from 1 to 5"):
        service.submit(token, sess, item.stimulus_id, score, uuid.uuid4().hex)
    assert service.current_item(token, sess).position == 0


def test_forged_items_replays_and_skipped_playback_are_refused(study):
    store, sid = study
    service = RatingService(store)
    [(_, token)] = invite_raters(store, sid, 1)
    sess, item = _ready(service, token)
    with pytest.raises(RatingError, match="is not your current item"):
        service.submit(token, sess, item.stimulus_id + 10_000, 3, uuid.uuid4().hex)
    with pytest.raises(RatingError, match="watch the clip to the end"):
        service.submit(token, sess, item.stimulus_id, 3, uuid.uuid4().hex, completed_playback=False)
    nonce = uuid.uuid4().hex
    nxt = service.submit(token, sess, item.stimulus_id, 4, nonce)
    with pytest.raises(RatingError, match="already recorded"):
        service.submit(token, sess, nxt.stimulus_id, 4, nonce)  # replayed nonce
    with pytest.raises(RatingError, match="is not your current item"):
        service.submit(token, sess, item.stimulus_id, 4, uuid.uuid4().hex)  # replayed item
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Rating)) == 1


def test_reload_resumes_where_the_rater_was(study, tmp_path):
    store, sid = study
    service = RatingService(store)
    [(_, token)] = invite_raters(store, sid, 1)
    sess, item = _ready(service, token)
    for score in (2, 3, 4):
        item = service.submit(token, sess, item.stimulus_id, score, uuid.uuid4().hex)
    store.dispose()
    reopened = RatingService(Store(tmp_path / "study.db"))  # a new process, say
    assert reopened.start_session(token) == sess
    resumed = reopened.current_item(token, sess)
    assert resumed.position == 3 and resumed.stimulus_id == item.stimulus_id


def test_session_rules_reject_trap_failures_with_reasons(study):
    store, sid = study
    service = RatingService(store)
    rng = np.random.default_rng(0)
    with store.session() as s:
        stimuli = {st.id: st for st in s.scalars(select(Stimulus).where(Stimulus.study_id == sid))}
    [(_, careless)] = invite_raters(store, sid, 1)
    run_rater(service, SimRater(careless, "constant", constant=3), stimuli, {}, rng, sessions=1)
    result = run_screening(store, sid)
    [reason] = result.rejected_sessions.values()
    assert "straight-lining" in reason or "trap failed" in reason
