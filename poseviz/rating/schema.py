"""Database schema of MOS rating studies (SQLAlchemy 2 ORM).

A *study* holds *stimuli* (a ground-truth and a predicted pose sequence, shown side by side),
*raters* (pseudonymous, each with an invite token of which only a hash is stored), their
*sessions* (one sitting: item order, checks, rejection reason) and their *ratings*.
*Screening runs* record which sessions and raters were rejected and why, and the resulting
*aggregates* (MOS with its 95% confidence interval per stimulus).

Sequences are stored inside the database as ``.npy`` bytes so a study file is
self-contained and can be archived or moved to PostgreSQL as one unit.
"""

from __future__ import annotations

import enum
import io
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Aggregate",
    "Base",
    "Rater",
    "Rating",
    "RatingSession",
    "Role",
    "ScreeningRun",
    "SessionStatus",
    "Stimulus",
    "Study",
    "array_from_bytes",
    "array_to_bytes",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def array_to_bytes(array: np.ndarray) -> bytes:
    """Serialise an array as ``.npy`` bytes (no pickling)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def array_from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


class Role(enum.StrEnum):
    """What a stimulus is for in a session (ITU-T P.808 terms)."""

    RATED = "rated"  # counts towards the MOS
    ANCHOR = "anchor"  # training item shown before the session, spans worst to best
    GOLD = "gold"  # known answer: expected_score +- tolerance
    TRAP = "trap"  # attention check: the clip tells the rater which score to give
    REFERENCE = "reference"  # hidden reference: ground truth against itself


class SessionStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    REJECTED = "rejected"


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "study"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    clip_frames: Mapped[int] = mapped_column(Integer, default=120)
    fps: Mapped[float] = mapped_column(Float, default=25.0)
    config: Mapped[dict] = mapped_column(JSON, default=dict)  # session layout, scale, screening

    stimuli: Mapped[list[Stimulus]] = relationship(
        back_populates="study", cascade="all, delete-orphan"
    )
    raters: Mapped[list[Rater]] = relationship(back_populates="study", cascade="all, delete-orphan")


class Stimulus(Base):
    __tablename__ = "stimulus"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    source_model: Mapped[str] = mapped_column(String(200))
    sequence_id: Mapped[str] = mapped_column(String(300))
    camera_id: Mapped[str] = mapped_column(String(100), default="")
    frame_start: Mapped[int] = mapped_column(Integer, default=0)
    severity: Mapped[str] = mapped_column(String(32), default="none")
    reference: Mapped[bytes] = mapped_column(LargeBinary)  # (T, J, 3) metres, .npy bytes
    predicted: Mapped[bytes] = mapped_column(LargeBinary)  # (T, J, 3) metres, .npy bytes
    expected_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # gold, trap
    tolerance: Mapped[float | None] = mapped_column(Float, nullable=True)  # gold
    extra: Mapped[dict] = mapped_column(JSON, default=dict)

    study: Mapped[Study] = relationship(back_populates="stimuli")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(reference, predicted)``, each ``(T, J, 3)`` in metres."""
        return array_from_bytes(self.reference), array_from_bytes(self.predicted)


class Rater(Base):
    __tablename__ = "rater"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    pseudonym: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)  # sha256 of the invite token
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    consented: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    trained: Mapped[bool] = mapped_column(Boolean, default=False)

    study: Mapped[Study] = relationship(back_populates="raters")
    sessions: Mapped[list[RatingSession]] = relationship(
        back_populates="rater", cascade="all, delete-orphan"
    )


class RatingSession(Base):
    __tablename__ = "rating_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("rater.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)  # 0, 1, ... per rater
    started: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    device: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[SessionStatus] = mapped_column(
        Enum(SessionStatus, native_enum=False, length=16), default=SessionStatus.ACTIVE
    )
    # [[stimulus_id, reference_on_left], ...] in presentation order, fixed at creation.
    items: Mapped[list] = mapped_column(JSON)
    checks: Mapped[dict] = mapped_column(JSON, default=dict)
    reject_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)

    rater: Mapped[Rater] = relationship(back_populates="sessions")
    ratings: Mapped[list[Rating]] = relationship(
        back_populates="session", cascade="all, delete-orphan"
    )

    __table_args__ = (UniqueConstraint("rater_id", "index"),)


class Rating(Base):
    __tablename__ = "rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("rating_session.id"), index=True)
    stimulus_id: Mapped[int] = mapped_column(ForeignKey("stimulus.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # index in the session's item list
    submission_id: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # client nonce: replays refused
    score: Mapped[int] = mapped_column(Integer)
    reference_on_left: Mapped[bool] = mapped_column(Boolean)
    plays: Mapped[int] = mapped_column(Integer, default=1)
    completed_playback: Mapped[bool] = mapped_column(Boolean, default=True)
    watch_time_s: Mapped[float] = mapped_column(Float, default=0.0)
    response_time_s: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    session: Mapped[RatingSession] = relationship(back_populates="ratings")

    __table_args__ = (UniqueConstraint("session_id", "position"),)


class ScreeningRun(Base):
    __tablename__ = "screening_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    config: Mapped[dict] = mapped_column(JSON)
    # {"sessions": {id: reason}, "raters": {pseudonym: reason}, "kept_raters": [...], ...}
    results: Mapped[dict] = mapped_column(JSON)

    aggregates: Mapped[list[Aggregate]] = relationship(
        back_populates="run", cascade="all, delete-orphan"
    )


class Aggregate(Base):
    __tablename__ = "aggregate"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("screening_run.id"), index=True)
    stimulus_id: Mapped[int] = mapped_column(ForeignKey("stimulus.id"), index=True)
    mos: Mapped[float] = mapped_column(Float)
    ci95: Mapped[float] = mapped_column(Float)  # half-width of the 95% interval
    n_votes: Mapped[int] = mapped_column(Integer)

    run: Mapped[ScreeningRun] = relationship(back_populates="aggregates")
