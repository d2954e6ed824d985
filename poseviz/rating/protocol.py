"""The rater's side of a study: invite token -> consent -> training -> sessions of items.

`RatingService` is the only way ratings enter the database, for the Panel rater app and for
the JSON API alike. Every method takes the rater's invite token and acts only on that
rater's own sessions and items; anything else is refused with `RatingError` and changes
nothing. A rating is committed before the next item is returned, and a session's item list
is fixed when the session starts, so a rater who reloads resumes at the first unrated item.

Scale: an *absolute similarity* rating of the two animations shown side by side (the rater
is not told which one is the ground truth; sides are randomised per item)::

    5 identical   4 very similar   3 somewhat similar   2 different   1 very different
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from poseviz.rating.builder import hash_token
from poseviz.rating.schema import (
    Rater,
    Rating,
    RatingSession,
    Role,
    SessionStatus,
    Stimulus,
    Study,
)
from poseviz.rating.store import Store

__all__ = ["SCALE", "ItemView", "RatingError", "RatingService"]

SCALE: dict[int, str] = {
    5: "identical",
    4: "very similar",
    3: "somewhat similar",
    2: "different",
    1: "very different",
}


class RatingError(ValueError):
    """A request the service refuses; the message says why. Nothing was changed."""


@dataclass(frozen=True)
class ItemView:
    """One item as a rater sees it: two ``(T, J, 3)`` sequences (metres) side by side."""

    session_id: int
    position: int  # 0-based index in the session
    total: int
    stimulus_id: int
    left: np.ndarray
    right: np.ndarray
    fps: float
    instruction: str  # trap items carry their instruction here, others ""
    suggest_break: bool


def _now() -> datetime:
    return datetime.now(UTC)


class RatingService:
    """Session protocol over a `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- identity --------------------------------------------------------------------------
    @staticmethod
    def _rater(s, token: str) -> Rater:
        if not isinstance(token, str) or not token:
            raise RatingError("missing invite token")
        rater = s.scalar(select(Rater).where(Rater.token_hash == hash_token(token)))
        if rater is None:
            raise RatingError("unknown invite token")
        return rater

    def rater_status(self, token: str) -> dict:
        """``{"pseudonym", "consented", "trained", "sessions_done"}`` for the token's rater."""
        with self.store.session() as s:
            r = self._rater(s, token)
            done = s.scalar(
                select(func.count())
                .select_from(RatingSession)
                .where(RatingSession.rater_id == r.id, RatingSession.status != SessionStatus.ACTIVE)
            )
            return {
                "pseudonym": r.pseudonym,
                "consented": r.consented is not None,
                "trained": r.trained,
                "sessions_done": int(done),
            }

    def consent(self, token: str) -> None:
        with self.store.session() as s:
            r = self._rater(s, token)
            if r.consented is None:
                r.consented = _now()

    def training_items(self, token: str) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """The anchors, best to worst: ``(expected score, reference, degraded)``."""
        with self.store.session() as s:
            r = self._rater(s, token)
            anchors = s.scalars(
                select(Stimulus).where(
                    Stimulus.study_id == r.study_id, Stimulus.role == Role.ANCHOR
                )
            ).all()
            return [
                (a.expected_score, *a.arrays())
                for a in sorted(anchors, key=lambda a: -a.expected_score)
            ]

    def finish_training(self, token: str) -> None:
        with self.store.session() as s:
            r = self._rater(s, token)
            if r.consented is None:
                raise RatingError("consent is required before training")
            r.trained = True

    # -- sessions --------------------------------------------------------------------------
    def start_session(self, token: str, device: str = "") -> int:
        """The rater's active session, or a new one with a freshly drawn item list."""
        with self.store.session() as s:
            r = self._rater(s, token)
            if r.consented is None or not r.trained:
                raise RatingError("consent and training come before the first session")
            active = s.scalar(
                select(RatingSession).where(
                    RatingSession.rater_id == r.id, RatingSession.status == SessionStatus.ACTIVE
                )
            )
            if active is not None:
                return active.id
            study = s.get(Study, r.study_id)
            index = s.scalar(
                select(func.count())
                .select_from(RatingSession)
                .where(RatingSession.rater_id == r.id)
            )
            items = self._draw_items(s, study, r, int(index))
            if not items:
                raise RatingError("you have rated every item of this study: thank you")
            sess = RatingSession(rater_id=r.id, index=int(index), device=device[:300], items=items)
            s.add(sess)
            try:
                s.flush()
            except IntegrityError:  # the same rater started a session concurrently
                s.rollback()
                return self.start_session(token, device)
            return sess.id

    def _draw_items(self, s, study: Study, rater: Rater, index: int) -> list[list]:
        cfg = study.config
        rng = np.random.default_rng([study.seed, rater.id, index])
        seen = set(
            s.scalars(
                select(Rating.stimulus_id)
                .join(RatingSession)
                .where(RatingSession.rater_id == rater.id)
            ).all()
        )
        # How often each stimulus was already handed out, to spread votes evenly.
        assigned: dict[int, int] = {}
        for (items,) in s.execute(
            select(RatingSession.items)
            .join(Rater)
            .where(Rater.study_id == study.id, RatingSession.status != SessionStatus.REJECTED)
        ):
            for sid, _ in items:
                assigned[sid] = assigned.get(sid, 0) + 1

        def pick(roles: tuple[Role, ...], n: int) -> list[int]:
            ids = [
                sid
                for sid in s.scalars(
                    select(Stimulus.id).where(
                        Stimulus.study_id == study.id, Stimulus.role.in_(roles)
                    )
                ).all()
                if sid not in seen
            ]
            ids.sort(key=lambda sid: (assigned.get(sid, 0), rng.random()))
            return ids[:n]

        rated = pick((Role.RATED, Role.REFERENCE), cfg.get("rated_per_session", 10))
        if not rated:
            return []
        chosen = (
            rated
            + pick((Role.GOLD,), cfg.get("gold_per_session", 1))
            + pick((Role.TRAP,), cfg.get("trap_per_session", 1))
        )
        order = rng.permutation(len(chosen))
        return [[int(chosen[i]), bool(rng.random() < 0.5)] for i in order]

    def _session(self, s, rater: Rater, session_id: int, *, lock: bool = False) -> RatingSession:
        q = select(RatingSession).where(
            RatingSession.id == session_id, RatingSession.rater_id == rater.id
        )
        if lock:
            q = q.with_for_update()
        sess = s.scalar(q)
        if sess is None:  # the same answer for someone else's session: nothing leaks
            raise RatingError(f"session {session_id} not found")
        return sess

    def current_item(self, token: str, session_id: int) -> ItemView | None:
        """The first unrated item of the session, or None when the session is complete."""
        with self.store.session() as s:
            r = self._rater(s, token)
            sess = self._session(s, r, session_id)
            position = s.scalar(
                select(func.count()).select_from(Rating).where(Rating.session_id == sess.id)
            )
            if position >= len(sess.items):
                return None
            sid, ref_left = sess.items[position]
            stim = s.get(Stimulus, sid)
            study = s.get(Study, r.study_id)
            ref, pred = stim.arrays()
            first = s.scalar(
                select(func.min(RatingSession.started)).where(RatingSession.rater_id == r.id)
            )
            if first is not None and first.tzinfo is None:
                first = first.replace(tzinfo=UTC)
            minutes = (_now() - first).total_seconds() / 60 if first else 0.0
            return ItemView(
                session_id=sess.id,
                position=int(position),
                total=len(sess.items),
                stimulus_id=sid,
                left=ref if ref_left else pred,
                right=pred if ref_left else ref,
                fps=study.fps,
                instruction=stim.extra.get("instruction", "") if stim.role == Role.TRAP else "",
                suggest_break=minutes >= study.config.get("break_after_minutes", 45.0),
            )

    def submit(
        self,
        token: str,
        session_id: int,
        stimulus_id: int,
        score: int,
        submission_id: str,
        *,
        plays: int = 1,
        completed_playback: bool = True,
        watch_time_s: float = 0.0,
        response_time_s: float = 0.0,
        return_next: bool = True,
    ) -> ItemView | None:
        """Record the rating of the session's current item and return the next item (None
        when the session is complete). Refused — with nothing changed — when the token,
        session or item is not the rater's current one, the score is not an integer in
        1..5, playback was not completed, or ``submission_id`` was already used (a replay).
        With ``return_next=False`` it only records (the JSON API fetches the next item in a
        separate request) and returns None."""
        if (
            isinstance(score, bool)
            or not isinstance(score, int | np.integer)
            or not 1 <= int(score) <= 5
        ):
            raise RatingError(f"score must be an integer from 1 to 5, got {score!r}")
        if not completed_playback:
            raise RatingError("watch the clip to the end before rating it")
        if not isinstance(submission_id, str) or not 8 <= len(submission_id) <= 64:
            raise RatingError("submission_id must be a string of 8 to 64 characters")
        try:
            with self.store.session() as s:
                r = self._rater(s, token)
                if (
                    s.scalar(select(Rating.id).where(Rating.submission_id == submission_id))
                    is not None
                ):
                    raise RatingError("this submission was already recorded")
                sess = self._session(s, r, session_id, lock=True)
                if sess.status != SessionStatus.ACTIVE:
                    raise RatingError(f"session {session_id} is closed")
                position = s.scalar(
                    select(func.count()).select_from(Rating).where(Rating.session_id == sess.id)
                )
                if position >= len(sess.items) or sess.items[position][0] != stimulus_id:
                    raise RatingError(f"item {stimulus_id} is not your current item")
                s.add(
                    Rating(
                        session_id=sess.id,
                        stimulus_id=stimulus_id,
                        position=int(position),
                        submission_id=submission_id,
                        score=int(score),
                        reference_on_left=bool(sess.items[position][1]),
                        plays=int(plays),
                        completed_playback=True,
                        watch_time_s=float(watch_time_s),
                        response_time_s=float(response_time_s),
                    )
                )
                if position + 1 == len(sess.items):
                    sess.status = SessionStatus.COMPLETED
                    sess.ended = _now()
        except IntegrityError:
            # A concurrent duplicate of this submission or of this position won the race.
            raise RatingError("this submission was already recorded") from None
        return self.current_item(token, session_id) if return_next else None
