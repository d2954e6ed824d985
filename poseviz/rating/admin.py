"""The study owner's side: progress, per-rater statistics, screening runs and the export of
the validated set (sequences, MOS, confidence interval, number of accepted votes)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from poseviz.rating.schema import (
    Aggregate,
    Rater,
    Rating,
    RatingSession,
    Role,
    ScreeningRun,
    SessionStatus,
    Stimulus,
    Study,
)
from poseviz.rating.screening import ScreeningConfig, ScreeningResult, Vote, screen
from poseviz.rating.store import Store

__all__ = [
    "list_studies",
    "stimulus_table",
    "collect_votes",
    "export_validation_set",
    "latest_mos",
    "progress",
    "rater_stats",
    "run_screening",
    "study_id",
]


def study_id(store: Store, study: str | int) -> int:
    """The id of a study given by name or id, with a clear error when it does not exist."""
    with store.session() as s:
        if isinstance(study, int) or str(study).isdigit():
            found = s.get(Study, int(study))
        else:
            found = s.scalar(select(Study).where(Study.name == study))
        if found is None:
            names = s.scalars(select(Study.name)).all()
            raise ValueError(f"no study {study!r} in {store.url}; studies: {names}")
        return found.id


def collect_votes(store: Store, sid: int) -> list[Vote]:
    """Every recorded rating of study ``sid`` as screening `Vote` records."""
    with store.session() as s:
        rows = s.execute(
            select(Rating, RatingSession.id, Rater.pseudonym, Stimulus)
            .join(RatingSession, Rating.session_id == RatingSession.id)
            .join(Rater, RatingSession.rater_id == Rater.id)
            .join(Stimulus, Rating.stimulus_id == Stimulus.id)
            .where(Rater.study_id == sid)
        ).all()
        return [
            Vote(
                session=sess_id,
                rater=pseudo,
                stimulus=stim.id,
                score=float(r.score),
                role=stim.role.value,
                expected=stim.expected_score,
                tolerance=stim.tolerance,
                completed_playback=r.completed_playback,
            )
            for r, sess_id, pseudo, stim in rows
        ]


def run_screening(store: Store, sid: int, config: ScreeningConfig | None = None) -> ScreeningResult:
    """Screen study ``sid``, record the run (config, every rejection with its reason, MOS per
    stimulus) and mark rejected sessions. Completed sessions only; active ones wait."""
    config = config or ScreeningConfig()
    with store.session() as s:
        completed = set(
            s.scalars(
                select(RatingSession.id)
                .join(Rater)
                .where(Rater.study_id == sid, RatingSession.status != SessionStatus.ACTIVE)
            ).all()
        )
    votes = [v for v in collect_votes(store, sid) if v.session in completed]
    result = screen(votes, config)
    with store.session() as s:
        run = ScreeningRun(study_id=sid, config=config.to_dict(), results=result.to_dict())
        s.add(run)
        for stim_id, (mos, ci, n) in result.mos.items():
            run.aggregates.append(
                Aggregate(
                    stimulus_id=stim_id, mos=mos, ci95=ci if np.isfinite(ci) else -1.0, n_votes=n
                )
            )
        for sess_id, reason in result.rejected_sessions.items():
            sess = s.get(RatingSession, sess_id)
            sess.status, sess.reject_reason = SessionStatus.REJECTED, reason[:300]
    return result


def latest_mos(store: Store, sid: int) -> dict[int, tuple[float, float, int]]:
    """MOS, CI95 half-width and votes per stimulus from the newest screening run."""
    with store.session() as s:
        run = s.scalar(
            select(ScreeningRun)
            .where(ScreeningRun.study_id == sid)
            .order_by(ScreeningRun.id.desc())
        )
        if run is None:
            raise ValueError(f"study {sid} has no screening run yet: run the screening first")
        return {a.stimulus_id: (a.mos, a.ci95, a.n_votes) for a in run.aggregates}


def progress(store: Store, sid: int) -> dict:
    """Counts for the admin view: raters, sessions by status, ratings, votes per stimulus."""
    with store.session() as s:
        sessions = dict(
            s.execute(
                select(RatingSession.status, func.count())
                .join(Rater)
                .where(Rater.study_id == sid)
                .group_by(RatingSession.status)
            ).all()
        )
        votes = s.execute(
            select(Stimulus.id, func.count(Rating.id))
            .outerjoin(Rating)
            .where(Stimulus.study_id == sid, Stimulus.role.in_([Role.RATED, Role.REFERENCE]))
            .group_by(Stimulus.id)
        ).all()
        counts = np.array([n for _, n in votes]) if votes else np.zeros(1)
        return {
            "raters": s.scalar(
                select(func.count()).select_from(Rater).where(Rater.study_id == sid)
            ),
            "sessions": {k.value: v for k, v in sessions.items()},
            "ratings": int(
                s.scalar(
                    select(func.count())
                    .select_from(Rating)
                    .join(RatingSession)
                    .join(Rater)
                    .where(Rater.study_id == sid)
                )
            ),
            "stimuli": len(votes),
            "votes_per_stimulus": {
                "min": int(counts.min()),
                "mean": float(counts.mean()),
                "max": int(counts.max()),
            },
        }


def rater_stats(store: Store, sid: int) -> list[dict]:
    """Per rater: sessions, ratings, mean score, mean response time, rejected sessions."""
    with store.session() as s:
        rows = s.execute(
            select(
                Rater.pseudonym,
                func.count(func.distinct(RatingSession.id)),
                func.count(Rating.id),
                func.avg(Rating.score),
                func.avg(Rating.response_time_s),
            )
            .join(RatingSession, RatingSession.rater_id == Rater.id, isouter=True)
            .join(Rating, Rating.session_id == RatingSession.id, isouter=True)
            .where(Rater.study_id == sid)
            .group_by(Rater.pseudonym)
        ).all()
        rejected = dict(
            s.execute(
                select(Rater.pseudonym, func.count())
                .join(RatingSession)
                .where(Rater.study_id == sid, RatingSession.status == SessionStatus.REJECTED)
                .group_by(Rater.pseudonym)
            ).all()
        )
        return [
            {
                "rater": p,
                "sessions": int(ns),
                "ratings": int(nr),
                "mean_score": None if m is None else float(m),
                "mean_response_s": None if rt is None else float(rt),
                "rejected_sessions": int(rejected.get(p, 0)),
            }
            for p, ns, nr, m, rt in rows
        ]


def export_validation_set(store: Store, sid: int, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``validation_set.npz`` (reference / predicted ``(N, T, J, 3)`` metres, MOS, CI,
    votes, ids) and ``validation_set.csv`` (one row per stimulus) from the newest screening
    run. Files are written to a temporary name and renamed, so a failure leaves no partial
    file behind."""
    mos = latest_mos(store, sid)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with store.session() as s:
        stims = [s.get(Stimulus, k) for k in sorted(mos)]
        refs, preds = zip(*(st.arrays() for st in stims), strict=True) if stims else ((), ())
        meta = [
            (
                st.id,
                st.source_model,
                st.sequence_id,
                st.camera_id,
                st.frame_start,
                st.severity,
                st.role.value,
            )
            for st in stims
        ]
    npz, csv_path = out / "validation_set.npz", out / "validation_set.csv"
    tmp_npz, tmp_csv = npz.with_suffix(".npz.tmp"), csv_path.with_suffix(".csv.tmp")
    with open(tmp_npz, "wb") as f:
        np.savez(
            f,
            reference=np.stack(refs) if refs else np.zeros((0,)),
            predicted=np.stack(preds) if preds else np.zeros((0,)),
            mos=np.array([mos[m[0]][0] for m in meta]),
            ci95=np.array([mos[m[0]][1] for m in meta]),
            votes=np.array([mos[m[0]][2] for m in meta]),
            stimulus_id=np.array([m[0] for m in meta]),
            source_model=np.array([m[1] for m in meta]),
            severity=np.array([m[5] for m in meta]),
        )
    with open(tmp_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "stimulus_id",
                "source_model",
                "sequence_id",
                "camera_id",
                "frame_start",
                "severity",
                "role",
                "mos",
                "ci95",
                "votes",
            ]
        )
        for m in meta:
            w.writerow([*m, f"{mos[m[0]][0]:.4f}", f"{mos[m[0]][1]:.4f}", mos[m[0]][2]])
    tmp_npz.replace(npz)
    tmp_csv.replace(csv_path)
    return npz, csv_path


def list_studies(store: Store) -> dict[str, int]:
    """Study name -> id, in creation order."""
    with store.session() as s:
        return {st.name: st.id for st in s.scalars(select(Study).order_by(Study.id))}


def stimulus_table(store: Store, sid: int) -> dict[int, dict]:
    """Stimulus id -> ``{"model", "sequence", "camera", "frame_start", "severity", "role"}``."""
    with store.session() as s:
        return {
            st.id: {
                "model": st.source_model,
                "sequence": st.sequence_id,
                "camera": st.camera_id,
                "frame_start": st.frame_start,
                "severity": st.severity,
                "role": st.role.value,
            }
            for st in s.scalars(select(Stimulus).where(Stimulus.study_id == sid))
        }
