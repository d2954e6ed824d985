"""Simulated raters for the rating tests: a hidden quality per stimulus, rater bias and
noise, and spammers who click at random or always give the same score."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

from poseviz.rating.builder import PosePair
from poseviz.rating.protocol import RatingService
from poseviz.rating.schema import Role, Stimulus


def make_pairs(
    rng: np.random.Generator, models=("good", "mid", "bad"), sequences=2, frames=480
) -> list[PosePair]:
    """Pose pairs whose prediction error grows with the model's badness."""
    sizes = {"good": 0.01, "mid": 0.05, "bad": 0.15}
    pairs = []
    for m in models:
        for k in range(sequences):
            ref = rng.normal(scale=0.3, size=(frames, 17, 3))
            ref -= ref[:, :1]
            sev = np.array(["none", "joint", "body_part", "half_body"])[
                np.arange(frames) // 120 % 4
            ]
            pred = ref + rng.normal(scale=sizes.get(m, 0.05), size=ref.shape)
            pred -= pred[:, :1]
            pairs.append(PosePair(ref, pred, m, f"seq{k}", "c0", severity=list(sev)))
    return pairs


@dataclass
class SimRater:
    token: str
    kind: str  # "honest", "random", "constant"
    bias: float = 0.0
    noise: float = 0.5
    constant: int = 3

    def score(self, stim: Stimulus, hidden: dict[int, float], rng: np.random.Generator) -> int:
        if stim.role == Role.TRAP and self.kind == "honest":
            return int(stim.expected_score)
        if self.kind == "random":
            return int(rng.integers(1, 6))
        if self.kind == "constant":
            return self.constant
        q = hidden.get(stim.id, stim.expected_score or 3.0)
        return int(np.clip(np.rint(q + self.bias + rng.normal(scale=self.noise)), 1, 5))


def run_rater(
    service: RatingService, rater: SimRater, stimuli: dict[int, Stimulus], hidden, rng, sessions=2
) -> int:
    """Consent, train, and rate ``sessions`` sessions; returns the number of acknowledged ratings."""
    service.consent(rater.token)
    service.finish_training(rater.token)
    acknowledged = 0
    for _ in range(sessions):
        sid = service.start_session(rater.token, device="sim")
        item = service.current_item(rater.token, sid)
        while item is not None:
            score = rater.score(stimuli[item.stimulus_id], hidden, rng)
            item = service.submit(rater.token, sid, item.stimulus_id, score, uuid.uuid4().hex)
            acknowledged += 1
    return acknowledged
