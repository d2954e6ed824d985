"""Building a MOS study from ground-truth / prediction pairs.

A study mixes (ITU-T P.808 practice):

- **rated** stimuli: 120-frame clips cut from each model's predictions, balanced across
  source models and occlusion severities;
- **hidden references**: ground truth against itself (expected score 5);
- **training anchors**: ground truth against itself with controlled degradations of known
  size spanning best to worst, shown with their expected score before the first session;
- **gold** items: further controlled degradations whose expected score is known
  (``expected_score`` +- ``tolerance``);
- **traps**: a clip whose caption asks for a given score (an attention check).

Controlled degradations perturb every joint of the predicted clip by a smooth random offset
of a given size (``ANCHOR_LEVELS`` in metres), so how bad an anchor looks does not depend on
any model.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from poseviz.rating.schema import Rater, Role, Stimulus, Study, array_to_bytes
from poseviz.rating.store import Store

__all__ = [
    "ANCHOR_LEVELS",
    "PosePair",
    "StudyLayout",
    "create_study",
    "cut_clips",
    "degrade",
    "hash_token",
    "invite_raters",
]

# Degradation size (metres, RMS joint offset) -> expected score on the 5-point scale.
ANCHOR_LEVELS: dict[float, int] = {0.0: 5, 0.025: 4, 0.06: 3, 0.12: 2, 0.25: 1}


@dataclass
class PosePair:
    """A ground-truth and a predicted sequence of one view.

    ``reference`` and ``predicted`` are ``(T, J, 3)`` root-relative camera-frame metres;
    ``severity`` is ``(T,)`` per-frame occlusion severity names (or one name for all)."""

    reference: np.ndarray
    predicted: np.ndarray
    source_model: str
    sequence_id: str
    camera_id: str = ""
    severity: Sequence[str] | str = "none"
    frame_offset: int = 0

    def __post_init__(self) -> None:
        ref, pred = np.asarray(self.reference, float), np.asarray(self.predicted, float)
        if ref.ndim != 3 or ref.shape[-1] != 3 or ref.shape != pred.shape:
            raise ValueError(
                f"PosePair {self.source_model}/{self.sequence_id}: expected reference and predicted "
                f"of the same shape (T, J, 3), got {ref.shape} and {pred.shape}"
            )
        if not (np.isfinite(ref).all() and np.isfinite(pred).all()):
            raise ValueError(
                f"PosePair {self.source_model}/{self.sequence_id}: contains NaN or inf"
            )
        self.reference, self.predicted = ref, pred
        if not isinstance(self.severity, str) and len(self.severity) != len(ref):
            raise ValueError(
                f"PosePair {self.source_model}/{self.sequence_id}: severity has {len(self.severity)} "
                f"entries for {len(ref)} frames"
            )


@dataclass
class StudyLayout:
    """How many stimuli of each role a study has and how a session is composed."""

    clip_frames: int = 120
    clips_per_cell: int = 4  # rated clips per (model, severity) cell, where available
    hidden_references: int = 4
    gold_items: int = 6
    trap_items: int = 4
    rated_per_session: int = 10
    gold_per_session: int = 1
    trap_per_session: int = 1
    gold_tolerance: float = 1.0
    break_after_minutes: float = 45.0
    extra: dict = field(default_factory=dict)


def hash_token(token: str) -> str:
    """SHA-256 of an invite token (only the hash is stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def cut_clips(pair: PosePair, clip_frames: int) -> list[tuple[int, str]]:
    """Non-overlapping clip starts of ``pair`` and each clip's severity (the most severe
    category covering at least a quarter of its frames, else the most common one)."""
    order = ["none", "joint", "body_part", "half_body"]
    T = len(pair.reference)
    out = []
    for start in range(0, T - clip_frames + 1, clip_frames):
        if isinstance(pair.severity, str):
            out.append((start, pair.severity))
            continue
        sev = list(pair.severity[start : start + clip_frames])
        counts = {s: sev.count(s) for s in set(sev)}
        frequent = [s for s in counts if counts[s] >= clip_frames / 4]
        ranked = sorted(frequent or counts, key=lambda s: order.index(s) if s in order else -1)
        out.append((start, ranked[-1]))
    return out


def degrade(pose: np.ndarray, size: float, rng: np.random.Generator) -> np.ndarray:
    """``pose`` ``(T, J, 3)`` plus a smooth random per-joint offset with RMS ``size`` metres
    (a random direction per joint slowly rotating over time, so the error is visible but
    not jittery). The root stays at the origin."""
    T, J, _ = pose.shape
    if size == 0:
        return pose.copy()
    keys = rng.normal(size=(4, J, 3))
    t = np.linspace(0, 3, T)
    k = np.clip(t.astype(int), 0, 2)
    w = (t - k)[:, None, None]
    offset = keys[k] * (1 - w) + keys[k + 1] * w
    offset -= offset[:, :1]  # keep the root at the origin
    rms = np.sqrt((offset[:, 1:] ** 2).sum(-1).mean())
    return pose + offset * (size / max(rms, 1e-12))


def create_study(
    store: Store,
    name: str,
    pairs: Sequence[PosePair],
    *,
    layout: StudyLayout | None = None,
    seed: int = 0,
    fps: float = 25.0,
) -> int:
    """Create study ``name`` from model predictions; returns its id.

    Rated clips are drawn per (model, severity) cell, up to ``layout.clips_per_cell`` each,
    so models and severities are balanced as far as the data allows.
    """
    layout = layout or StudyLayout()
    if not pairs:
        raise ValueError("create_study: no prediction pairs given")
    rng = np.random.default_rng(seed)
    cells: dict[tuple[str, str], list[tuple[PosePair, int]]] = defaultdict(list)
    for pair in pairs:
        for start, sev in cut_clips(pair, layout.clip_frames):
            cells[(pair.source_model, sev)].append((pair, start))
    if not cells:
        raise ValueError(f"create_study: no sequence is at least {layout.clip_frames} frames long")

    F = layout.clip_frames
    stimuli: list[Stimulus] = []

    def add(role: Role, pair: PosePair, start: int, predicted: np.ndarray, **kw) -> None:
        stimuli.append(
            Stimulus(
                role=role,
                source_model=pair.source_model if role == Role.RATED else f"<{role.value}>",
                sequence_id=pair.sequence_id,
                camera_id=pair.camera_id,
                frame_start=pair.frame_offset + start,
                severity=kw.pop("severity", "none"),
                reference=array_to_bytes(pair.reference[start : start + F].astype(np.float32)),
                predicted=array_to_bytes(predicted.astype(np.float32)),
                **kw,
            )
        )

    for (_, sev), clips in sorted(cells.items()):
        for i in rng.permutation(len(clips))[: layout.clips_per_cell]:
            pair, start = clips[i]
            add(Role.RATED, pair, start, pair.predicted[start : start + F], severity=sev)

    all_clips = [c for clips in cells.values() for c in clips]

    def some_clip() -> tuple[PosePair, int]:
        return all_clips[rng.integers(len(all_clips))]

    for _ in range(layout.hidden_references):
        pair, start = some_clip()
        add(Role.REFERENCE, pair, start, pair.reference[start : start + F], expected_score=5.0)
    pair, start = some_clip()
    for size, score in sorted(ANCHOR_LEVELS.items()):
        add(
            Role.ANCHOR,
            pair,
            start,
            degrade(pair.reference[start : start + F], size, rng),
            expected_score=float(score),
            extra={"degradation_m": size},
        )
    levels = sorted(ANCHOR_LEVELS.items())
    for g in range(layout.gold_items):
        size, score = levels[g % len(levels)]
        pair, start = some_clip()
        add(
            Role.GOLD,
            pair,
            start,
            degrade(pair.reference[start : start + F], size, rng),
            expected_score=float(score),
            tolerance=layout.gold_tolerance,
            extra={"degradation_m": size},
        )
    for _ in range(layout.trap_items):
        pair, start = some_clip()
        answer = int(rng.integers(1, 6))
        add(
            Role.TRAP,
            pair,
            start,
            pair.reference[start : start + F],
            expected_score=float(answer),
            extra={"instruction": f"Attention check: please answer {answer} for this clip."},
        )

    with store.session() as s:
        if s.scalar(select(Study.id).where(Study.name == name)) is not None:
            raise ValueError(f"a study named {name!r} already exists in {store.url}")
        config = {k: v for k, v in vars(layout).items() if k != "extra"} | layout.extra
        study = Study(name=name, seed=seed, clip_frames=F, fps=fps, config=config, stimuli=stimuli)
        s.add(study)
        s.flush()
        return study.id


def invite_raters(
    store: Store, study_id: int, count: int, *, base_url: str = ""
) -> list[tuple[str, str]]:
    """Create ``count`` raters; returns ``(pseudonym, invite link or token)`` pairs. Only a
    hash of each token is stored: the links cannot be recovered later, so save them."""
    out = []
    with store.session() as s:
        if s.get(Study, study_id) is None:
            raise ValueError(f"no study with id {study_id} in {store.url}")
        for _ in range(count):
            token = secrets.token_urlsafe(24)
            pseudonym = "r-" + secrets.token_hex(6)
            s.add(Rater(study_id=study_id, pseudonym=pseudonym, token_hash=hash_token(token)))
            out.append((pseudonym, f"{base_url}?token={token}" if base_url else token))
    return out
