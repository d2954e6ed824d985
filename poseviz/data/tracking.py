"""Follow one person through per-frame 2D detections, fill and flag gaps, smooth.

2D keypoints from a detector (MediaPipe) or from files (COCO / OpenPose JSON) come as a list
of candidates per frame: ``(P_t, J, 2)`` pixels with ``(P_t, J)`` confidence, ``P_t >= 0``
people in frame t. `track_person` picks the same person in every frame:

- the track starts on the most prominent candidate (largest keypoint box times mean
  confidence) of the first frame that has one;
- in each later frame it takes the candidate whose keypoints are closest to the track's
  predicted pose (last matched pose moved by its velocity), the distance measured in units
  of the track's box diagonal; a candidate farther than ``max_distance`` is someone else;
- after ``reacquire_after`` frames without a match the track restarts on the most prominent
  candidate and its ``segment`` number goes up (it may be another person: flagged, not hidden).

Frames with no match are **gaps**: `fill_gaps` interpolates their keypoints linearly between
detected frames (holding the first/last detection at the ends) and flags them with
``detected = False`` and confidence 0, so nothing invented passes for a detection. Joints
missing inside a detection (NaN) are filled the same way with confidence 0.

`smooth_keypoints` offers a One-Euro filter (Casiez et al., CHI 2012) or a Savitzky-Golay
filter (scipy). The tracker is pure numpy so the file readers in `poseviz.data` use it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PersonTracker",
    "Track",
    "fill_gaps",
    "keypoint_box",
    "one_euro_filter",
    "smooth_keypoints",
    "track_person",
]


def keypoint_box(points: np.ndarray, confidence: np.ndarray | None = None, min_confidence=0.3):
    """Bounding box ``(..., 4)`` = ``(x0, y0, x1, y1)`` pixels of ``(..., J, 2)`` keypoints.

    Joints with confidence below ``min_confidence`` (or NaN) are left out unless no joint
    passes, in which case every finite joint counts; a pose with no finite joint gives NaN.
    """
    pts = np.asarray(points, dtype=np.float64)
    finite = np.isfinite(pts).all(-1)
    use = finite
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        good = finite & (conf >= min_confidence)
        use = np.where(good.any(-1, keepdims=True), good, finite)
    x = np.where(use, pts[..., 0], np.nan)
    y = np.where(use, pts[..., 1], np.nan)
    with _quiet_nan():
        return np.stack(
            [np.nanmin(x, -1), np.nanmin(y, -1), np.nanmax(x, -1), np.nanmax(y, -1)], -1
        )


@contextmanager
def _quiet_nan() -> Iterator[None]:
    """Silence numpy's all-NaN-slice warnings (an empty box or distance is NaN by design)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _check_frame(points, confidence, J: int | None, t: int) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 2 and pts.size == 0:
        pts = pts.reshape(0, J or 0, 2)
    if pts.ndim != 3 or pts.shape[-1] != 2 or (J is not None and pts.shape[1] != J):
        want = f"(P, {J if J is not None else 'J'}, 2)"
        raise ValueError(f"track_person: frame {t}: expected candidates {want}, got {pts.shape}")
    if confidence is None:
        conf = np.isfinite(pts).all(-1).astype(np.float64)
    else:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != pts.shape[:2]:
            raise ValueError(
                f"track_person: frame {t}: expected confidence {pts.shape[:2]}, got {conf.shape}"
            )
    return pts, np.nan_to_num(conf, nan=0.0)


class PersonTracker:
    """Online single-person tracker (see the module docstring for the rules).

    Args:
        max_distance: largest accepted mean keypoint distance to the predicted pose, in units
            of the track's box diagonal (it grows by 10 % per frame since the last match, up
            to twice as much; see `match_limit`).
        reacquire_after: frames without a match after which the track restarts on the most
            prominent candidate (a new ``segment``); ``None`` never restarts.
        min_confidence: joints below this confidence are ignored for boxes and distances.
    """

    def __init__(
        self,
        *,
        max_distance: float = 0.35,
        reacquire_after: int | None = 30,
        min_confidence: float = 0.3,
    ) -> None:
        if max_distance <= 0:
            raise ValueError(f"PersonTracker: max_distance must be positive, got {max_distance}")
        self.max_distance = float(max_distance)
        self.reacquire_after = reacquire_after
        self.min_confidence = float(min_confidence)
        self.segment = -1
        self.lost = 0
        self._last: np.ndarray | None = None  # (J, 2) last matched pose
        self._velocity: np.ndarray | None = None  # (J, 2) pixels per frame

    @property
    def active(self) -> bool:
        """True once the track has started (and has not been reset)."""
        return self._last is not None

    def predicted_pose(self) -> np.ndarray | None:
        """``(J, 2)`` pixels where the tracked person is expected in the next frame."""
        if self._last is None:
            return None
        v = self._velocity if self._velocity is not None else 0.0
        return self._last + v * (self.lost + 1)

    def predicted_box(self) -> np.ndarray | None:
        """``(4,)`` box ``(x0, y0, x1, y1)`` pixels of `predicted_pose` (None before the start)."""
        pose = self.predicted_pose()
        return None if pose is None else keypoint_box(pose)

    def match_limit(self) -> float:
        """The distance (box diagonals) up to which a candidate is the tracked person now:
        ``max_distance`` growing by 10 % per frame since the last match, at most doubled."""
        return self.max_distance * min(1.0 + 0.1 * self.lost, 2.0)

    def _prominence(self, pts: np.ndarray, conf: np.ndarray) -> np.ndarray:
        box = keypoint_box(pts, conf, self.min_confidence)
        area = np.nan_to_num((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))
        return area * conf.mean(-1)

    def distances(self, points: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """``(P,)`` mean distance of each candidate's confident joints to the predicted pose,
        in box diagonals (inf when they share no confident joint or before the start)."""
        pred = self.predicted_pose()
        if pred is None or len(points) == 0:
            return np.full(len(points), np.inf)
        box = keypoint_box(self._last)
        diag = max(float(np.hypot(box[2] - box[0], box[3] - box[1])), 1e-6)
        d = np.linalg.norm(points - pred[None], axis=-1)  # (P, J)
        ok = np.isfinite(d) & (confidence >= self.min_confidence) & np.isfinite(pred).all(-1)
        with _quiet_nan():
            mean = np.nanmean(np.where(ok, d, np.nan), axis=-1) / diag
        return np.where(ok.any(-1), mean, np.inf)

    def update(self, points, confidence=None) -> int:
        """Feed one frame's ``(P, J, 2)`` candidates (``(P, J)`` confidence); returns the index
        of the tracked person's candidate, or -1 for a gap."""
        pts, conf = _check_frame(points, confidence, None, 0)
        if self._last is not None and (
            self.reacquire_after is not None and self.lost >= self.reacquire_after
        ):
            self._last, self._velocity = None, None
        if self._last is None:
            if len(pts) == 0:
                return -1
            k = int(np.argmax(self._prominence(pts, conf)))
            self.segment += 1
            self._accept(pts[k], conf[k], first=True)
            return k
        dist = self.distances(pts, conf)
        limit = self.match_limit()
        if len(dist) == 0 or dist.min() > limit:
            self.lost += 1
            return -1
        k = int(np.argmin(dist))
        self._accept(pts[k], conf[k], first=False)
        return k

    def _accept(self, pose: np.ndarray, conf: np.ndarray, *, first: bool) -> None:
        sure = (conf >= self.min_confidence)[:, None] & np.isfinite(pose)
        if sure.any():
            pose = np.where(sure, pose, np.nan)
        if first or self._last is None:
            last = pose
            self._velocity = None
        else:
            last = np.where(np.isfinite(pose), pose, self.predicted_pose())
            v = (last - self._last) / (self.lost + 1)
            v = np.nan_to_num(v)
            # Damped velocity: enough to follow a walking person through a short gap.
            self._velocity = v if self._velocity is None else 0.5 * v + 0.5 * self._velocity
        self._last = last
        self.lost = 0


@dataclass(eq=False)
class Track:
    """One person followed through a video.

    Attributes:
        joints_2d: ``(T, J, 2)`` pixels; gap frames and missing joints are interpolated (a
            joint missing in every frame stays NaN).
        confidence: ``(T, J)`` in [0, 1]; 0 wherever a value was filled in.
        detected: ``(T,)`` bool, False on gap frames (filled, not seen).
        chosen: ``(T,)`` int64 index of the chosen candidate in each frame, -1 in gaps.
        segment: ``(T,)`` int64 track segment (goes up when the track restarts after a long
            loss, possibly on another person), -1 before the first detection.
        occluded: ``(T, J)`` bool or None: the chosen candidates' occlusion flags, True in
            gaps, when the caller passed flags.
    """

    joints_2d: np.ndarray
    confidence: np.ndarray
    detected: np.ndarray
    chosen: np.ndarray
    segment: np.ndarray
    occluded: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.joints_2d.shape[0])

    @property
    def coverage(self) -> float:
        """Fraction of frames in which the person was detected (not filled)."""
        return float(self.detected.mean()) if self.num_frames else 0.0


def fill_gaps(points: np.ndarray, valid: np.ndarray, *, never: str = "raise") -> np.ndarray:
    """Linearly interpolate ``(T, J, C)`` values over time where ``valid`` ``(T, J)`` is
    False, per joint, holding the nearest valid value before the first / after the last one.

    A joint that is never valid raises ValueError (``never="raise"``) or stays NaN
    (``never="nan"``).
    """
    pts = np.array(points, dtype=np.float64, copy=True)
    ok = np.asarray(valid, dtype=bool) & np.isfinite(pts).all(-1)
    if ok.shape != pts.shape[:2]:
        raise ValueError(f"fill_gaps: expected valid of shape {pts.shape[:2]}, got {ok.shape}")
    frames = np.arange(pts.shape[0])
    for j in range(pts.shape[1]):
        good = ok[:, j]
        if good.all():
            continue
        if not good.any():
            if never == "nan":
                pts[:, j] = np.nan
                continue
            raise ValueError(f"fill_gaps: joint {j} is never detected, nothing to fill from")
        for c in range(pts.shape[2]):
            pts[~good, j, c] = np.interp(frames[~good], frames[good], pts[good, j, c])
    return pts


def track_person(
    points: Sequence[np.ndarray],
    confidence: Sequence[np.ndarray] | None = None,
    occluded: Sequence[np.ndarray] | None = None,
    *,
    max_distance: float = 0.35,
    reacquire_after: int | None = 30,
    min_confidence: float = 0.3,
) -> Track:
    """Follow one person through per-frame candidates (see the module docstring).

    Args:
        points: T arrays ``(P_t, J, 2)`` pixels (``P_t`` may be 0); NaN marks missing joints.
        confidence: T arrays ``(P_t, J)`` in [0, 1] (default: 1 for finite joints).
        occluded: T arrays ``(P_t, J)`` bool occlusion flags (optional).
        max_distance, reacquire_after, min_confidence: see `PersonTracker`.

    Returns:
        A `Track` over all T frames, gaps filled and flagged.

    Raises:
        ValueError: when no frame has a candidate, or the inputs disagree in shape.
    """
    T = len(points)
    if confidence is not None and len(confidence) != T:
        raise ValueError(f"track_person: {T} frames of points but {len(confidence)} of confidence")
    J = next((np.shape(p)[1] for p in points if np.ndim(p) == 3), None)
    if J is None:
        raise ValueError(f"track_person: no person in any of the {T} frames")
    tracker = PersonTracker(
        max_distance=max_distance, reacquire_after=reacquire_after, min_confidence=min_confidence
    )
    joints = np.full((T, J, 2), np.nan)
    conf = np.zeros((T, J))
    occ = np.ones((T, J), dtype=bool)
    chosen = np.full(T, -1, dtype=np.int64)
    segment = np.full(T, -1, dtype=np.int64)
    for t in range(T):
        pts, c = _check_frame(points[t], None if confidence is None else confidence[t], J, t)
        k = tracker.update(pts, c)
        chosen[t], segment[t] = k, tracker.segment
        if k >= 0:
            joints[t], conf[t] = pts[k], c[k]
            if occluded is not None:
                occ[t] = np.asarray(occluded[t], dtype=bool)[k]
    detected = chosen >= 0
    if not detected.any():
        raise ValueError(f"track_person: no person in any of the {T} frames")
    valid = detected[:, None] & np.isfinite(joints).all(-1)
    filled = fill_gaps(joints, valid, never="nan")
    conf = np.where(valid, np.clip(conf, 0.0, 1.0), 0.0)
    return Track(
        joints_2d=filled,
        confidence=conf,
        detected=detected,
        chosen=chosen,
        segment=segment,
        occluded=None if occluded is None else (occ | ~valid),
    )


def one_euro_filter(
    x: np.ndarray,
    fps: float,
    *,
    min_cutoff: float = 1.0,
    beta: float = 0.0,
    d_cutoff: float = 1.0,
) -> np.ndarray:
    """One-Euro filter (Casiez, Roussel, Vogel, CHI 2012) along axis 0 of ``(T, ...)``.

    ``alpha(fc) = 1 / (1 + fps / (2 pi fc))``; the derivative is low-passed with
    ``d_cutoff`` Hz and the cutoff adapts as ``fc = min_cutoff + beta * |dx/dt|``. Values keep
    their unit (pixels or metres); ``min_cutoff`` and ``d_cutoff`` are in Hz, ``beta`` in
    1 / unit. With ``beta = 0`` it is a first-order low-pass of cutoff ``min_cutoff``.
    """
    x = np.asarray(x, dtype=np.float64)
    if fps <= 0 or min_cutoff <= 0 or d_cutoff <= 0:
        raise ValueError("one_euro_filter: fps, min_cutoff and d_cutoff must be positive")

    def alpha(fc):
        return 1.0 / (1.0 + fps / (2.0 * np.pi * fc))

    out = np.empty_like(x)
    if len(x) == 0:
        return out
    out[0] = x[0]
    dx_hat = np.zeros_like(x[0])
    a_d = alpha(d_cutoff)
    for t in range(1, len(x)):
        dx = (x[t] - out[t - 1]) * fps
        dx_hat = a_d * dx + (1 - a_d) * dx_hat
        a = alpha(min_cutoff + beta * np.abs(dx_hat))
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def smooth_keypoints(
    points: np.ndarray,
    fps: float,
    method: str = "one_euro",
    *,
    min_cutoff: float = 1.5,
    beta: float = 0.01,
    window: int = 9,
    polyorder: int = 2,
) -> np.ndarray:
    """Temporally smooth ``(T, J, C)`` keypoints (pixels or metres) sampled at ``fps``.

    ``method="one_euro"`` uses `one_euro_filter` (``min_cutoff`` Hz, ``beta``; causal, low
    lag); ``"savgol"`` uses `scipy.signal.savgol_filter` (``window`` frames, odd, and
    ``polyorder``; non-causal, clipped to the sequence length); ``"none"`` returns a copy.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3:
        raise ValueError(f"smooth_keypoints: expected (T, J, C), got {pts.shape}")
    if method == "none":
        return pts.copy()
    if method == "one_euro":
        return one_euro_filter(pts, fps, min_cutoff=min_cutoff, beta=beta)
    if method == "savgol":
        from scipy.signal import savgol_filter

        w = min(int(window), pts.shape[0] if pts.shape[0] % 2 else pts.shape[0] - 1)
        if w <= polyorder:
            return pts.copy()
        return savgol_filter(pts, w, polyorder, axis=0, mode="interp")
    raise ValueError(
        f"smooth_keypoints: unknown method {method!r}; use 'one_euro', 'savgol' or 'none'"
    )
