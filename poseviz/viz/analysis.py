"""What the compare views show, computed once per (sequence, camera, predictions).

`analyse` turns a `PoseSequence`, one of its cameras and any number of `Prediction` records
into a `SequenceAnalysis`: ground truth and predictions in display coordinates, per-joint
and per-frame errors, PSIM+ with its components, and the labels the colour modes use. No
Panel here: the components only read these arrays, and tests check them directly.

A view with 2D but no 3D ground truth (a video in the wild) is analysed too: the
ground-truth arrays and every error are None (`SequenceAnalysis.has_ground_truth` is
False), and what needs no ground truth remains: the 2D, the detector's confidence and
occlusion estimate, and each prediction's plausibility on its own (`ModelResult`'s
``lse_mm``, ``acceleration_mm``, ``bone_std_mm``).

Frames and coordinates:
- Errors follow the usual protocol: both poses root-relative (pelvis at the origin) in the
  camera frame, in millimetres. MPJPE per frame is the mean over all J joints (the root's
  zero error included, as VideoPose3D counts it); P-MPJPE after a similarity Procrustes
  alignment per frame; the velocity error at frame t compares ``x_t - x_{t-1}`` of
  prediction and truth (mm per frame; NaN at frame 0).
- Display coordinates are metres with +y up: `display_rotation` maps the world frame there
  (its up axis is found from the skeleton). A prediction is drawn at the ground-truth root
  position (``R^T X_cam + root_world``), so the two can be compared side by side.
- A sequence without cameras (motion capture) is seen through a virtual Human3.6M-like rig
  and gets occlusion labels (`with_virtual_cameras`).
- Without ground truth the predictions are drawn with the root at the world origin, and
  the display's up is the camera's up (``-y`` of the camera in world coordinates): the
  person stands as the camera saw them.
- The numbers are `poseviz.metrics.functional`'s: ``joint_errors``, ``p_mpjpe``, ``mpjve``,
  ``psim_plus``, ``lse`` and ``bone_lengths``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from poseviz.data.cameras import attach_cameras, h36m_like_rig
from poseviz.data.occlusion import label_sequence
from poseviz.geometry import project, world_to_camera
from poseviz.metrics.functional import (
    PSIMPlusResult,
    bone_lengths,
    joint_errors,
    lse,
    mpjve,
    p_mpjpe,
    psim_plus,
)
from poseviz.skeleton import get_skeleton
from poseviz.structures import Camera, PoseSequence, Prediction

__all__ = [
    "ModelResult",
    "SequenceAnalysis",
    "analyse",
    "acceleration_per_frame",
    "bone_length_std",
    "display_rotation",
    "up_axis",
    "with_virtual_cameras",
]


def up_axis(joints: np.ndarray, skeleton: str = "h36m17") -> np.ndarray:
    """The world axis (``±x``, ``±y`` or ``±z``, a ``(3,)`` unit vector) closest to the body's
    mean direction from the ankles to the head over ``joints`` ``(T, J, 3)``."""
    skel = get_skeleton(skeleton)
    names = {n: i for i, n in enumerate(skel.names)}
    if not {"head", "l_ankle", "r_ankle"} <= set(names):
        raise ValueError(f"up_axis: layout {skeleton!r} lacks head/ankle joints")
    j = np.asarray(joints, dtype=np.float64)
    d = j[:, names["head"]] - (j[:, names["l_ankle"]] + j[:, names["r_ankle"]]) / 2
    d = np.nanmean(d, axis=0)
    if not np.isfinite(d).all() or not np.any(d):
        return np.array([0.0, 1.0, 0.0])
    axis = int(np.argmax(np.abs(d)))
    out = np.zeros(3)
    out[axis] = np.sign(d[axis])
    return out


def display_rotation(up: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation taking world coordinates to display coordinates where ``up``
    (a world axis) becomes +y. Identity for y-up data."""
    up = np.asarray(up, dtype=np.float64)
    up = up / np.linalg.norm(up)
    for candidate in np.eye(3):
        if abs(candidate @ up) < 0.9:
            x = candidate - (candidate @ up) * up
            x /= np.linalg.norm(x)
            break
    z = np.cross(x, up)
    return np.stack([x, up, z])


def with_virtual_cameras(sequence: PoseSequence, *, seed: int = 0) -> PoseSequence:
    """``sequence`` ready to compare: a motion-capture sequence with 3D and no cameras gets a
    seeded Human3.6M-like rig of four cameras (`poseviz.data.cameras.h36m_like_rig`, up axis
    from the skeleton) with projected 2D, and its calibrated views get occlusion labels where
    they have none (`poseviz.data.occlusion.label_sequence`). The same rig and labels as
    ``poseviz predict`` / ``evaluate`` give mocap files, so their prediction files line up.
    Returns ``sequence`` itself when there is nothing to add."""
    seq = sequence
    if seq.joints_3d is None:
        return seq
    if not seq.cameras:
        rig = h36m_like_rig(seq.joints_3d, up=up_axis(seq.joints_3d, seq.skeleton), seed=seed)
        seq = attach_cameras(seq, rig)
    missing = [c for c in seq.cameras if c not in seq.occluded]
    if missing:
        if seq is sequence:
            seq = dataclasses.replace(seq, occluded=dict(seq.occluded))
        seq.occluded.update(label_sequence(seq, cameras=missing))
    return seq


@dataclass
class ModelResult:
    """One model's prediction on the analysed frames, with its errors.

    Attributes:
        prediction: the `Prediction` record.
        camera_frame: ``(T, J, 3)`` root-relative camera-frame prediction, metres.
        display: ``(T, J, 3)`` display coordinates (anchored at the ground-truth root, or
            at the origin without ground truth).
        error_mm: ``(T, J)`` per-joint position error, millimetres (None without ground
            truth, like the other errors and ``psim``).
        mpjpe_mm, pa_mpjpe_mm, velocity_error_mm: ``(T,)`` per-frame errors in mm
            (velocity: mm per frame, NaN at frame 0).
        psim: temporal PSIM+ (`poseviz.metrics.functional.PSIMPlusResult`, numpy):
            per-frame ``positional``, ``structural``, ``sensitivity``, ``frame_score``,
            ``temporal_weight`` ``(T,)``, ``sensitive_mask`` ``(T, J)``, and ``score``.
        occlusion_prob: ``(T, J)`` predicted occlusion probability, or None.
        lse_mm: ``(T,)`` limb symmetry error of the prediction alone, mm
            (`poseviz.metrics.functional.lse`); needs no ground truth.
        acceleration_mm: ``(T,)`` mean joint acceleration of the root-relative prediction,
            mm per frame squared (`acceleration_per_frame`: jitter); no ground truth needed.
        bone_std_mm: the prediction's bone lengths' standard deviation over time, mean over
            bones, mm (`bone_length_std`: a rigid skeleton keeps 0); no ground truth needed.
    """

    prediction: Prediction
    camera_frame: np.ndarray
    display: np.ndarray
    error_mm: np.ndarray | None
    mpjpe_mm: np.ndarray | None
    pa_mpjpe_mm: np.ndarray | None
    velocity_error_mm: np.ndarray | None
    psim: PSIMPlusResult | None
    occlusion_prob: np.ndarray | None = None
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    lse_mm: np.ndarray | None = None
    acceleration_mm: np.ndarray | None = None
    bone_std_mm: float = float("nan")

    @property
    def name(self) -> str:
        return self.prediction.model_id

    @property
    def has_ground_truth(self) -> bool:
        """Whether the errors (against 3D ground truth) exist."""
        return self.error_mm is not None

    def summary(self) -> dict[str, float]:
        """Sequence-level numbers: MPJPE, P-MPJPE, MPJVE (mm), PSIM+ (temporal score and
        its frame averages of P, S, V), and the share of sensitive joints. Without ground
        truth, the prediction's own plausibility instead: LSE (mm), bone-length standard
        deviation over time (mm) and mean joint acceleration (mm/frame^2)."""
        if not self.has_ground_truth:
            return self.plausibility()
        return {
            "MPJPE (mm)": float(np.mean(self.mpjpe_mm)),
            "P-MPJPE (mm)": float(np.mean(self.pa_mpjpe_mm)),
            "MPJVE (mm/frame)": float(np.nanmean(self.velocity_error_mm))
            if len(self.velocity_error_mm) > 1
            else float("nan"),
            "PSIM+": float(self.psim.score),
            "PSIM+ P": float(np.mean(self.psim.positional)),
            "PSIM+ S": float(np.mean(self.psim.structural)),
            "PSIM+ V": float(np.mean(self.psim.sensitivity)),
            "sensitive joints (%)": float(100 * np.mean(self.psim.sensitive_mask)),
        }

    def plausibility(self) -> dict[str, float]:
        """Numbers of the prediction alone (no ground truth needed): mean LSE (mm), bone
        length standard deviation over time (mm), mean acceleration (mm/frame^2; NaN
        under three frames)."""
        acc = self.acceleration_mm
        return {
            "LSE (mm)": float(np.mean(self.lse_mm)) if self.lse_mm is not None else float("nan"),
            "bone length std (mm)": float(self.bone_std_mm),
            "acceleration (mm/frame^2)": float(np.nanmean(acc))
            if acc is not None and np.isfinite(acc).any()
            else float("nan"),
        }


@dataclass
class SequenceAnalysis:
    """Ground truth of one sequence seen from one camera, and every model's result.

    Attributes:
        sequence: the source `PoseSequence` (cameras included, virtual ones if added).
        camera_id, camera: the view the predictions lift.
        frames: ``(T,)`` indices into the sequence of the analysed frames.
        to_display: ``(3, 3)`` world -> display rotation.
        gt_world, gt_display: ``(T, J, 3)`` ground truth, metres (None without 3D).
        gt_camera: ``(T, J, 3)`` root-relative camera-frame ground truth, metres (None
            without 3D).
        keypoints_2d: ``(T, J, 2)`` pixels in that camera (the sequence's 2D, else the
            projected ground truth).
        confidence, occluded: ``(T, J)`` labels of that camera, or None.
        models: model id -> `ModelResult`, in the order given.
    """

    sequence: PoseSequence
    camera_id: str
    camera: Camera
    frames: np.ndarray
    to_display: np.ndarray
    gt_world: np.ndarray | None
    gt_display: np.ndarray | None
    gt_camera: np.ndarray | None
    keypoints_2d: np.ndarray
    confidence: np.ndarray | None
    occluded: np.ndarray | None
    models: dict[str, ModelResult]

    @property
    def num_frames(self) -> int:
        return int(len(self.frames))

    @property
    def num_joints(self) -> int:
        return int(self.keypoints_2d.shape[1])

    @property
    def fps(self) -> float:
        return self.sequence.fps

    @property
    def has_ground_truth(self) -> bool:
        """Whether the sequence has 3D ground truth (else no errors, no PSIM+)."""
        return self.gt_world is not None

    def summary_rows(self) -> list[dict[str, Any]]:
        """One row per model: ``{"model", "sequence", "camera", <metric>: value}``."""
        return [
            {
                "model": name,
                "sequence": self.sequence.name,
                "action": self.sequence.action,
                "camera": self.camera_id,
                "frames": self.num_frames,
                **res.summary(),
            }
            for name, res in self.models.items()
        ]


def _root_relative(x: np.ndarray, root: int) -> np.ndarray:
    return x - x[:, root : root + 1]


def _common_frames(sequence: PoseSequence, predictions: Sequence[Prediction]) -> np.ndarray:
    frames = np.arange(sequence.num_frames)
    for p in predictions:
        idx = np.asarray(p.frame_indices)
        if idx.size and (idx.min() < 0 or idx.max() >= sequence.num_frames):
            raise ValueError(
                f"prediction {p.model_id!r}: frame_indices outside the sequence's "
                f"{sequence.num_frames} frames (range {idx.min()}..{idx.max()})"
            )
        frames = np.intersect1d(frames, idx)
    if len(frames) == 0:
        raise ValueError("the predictions share no frame with each other and the sequence")
    return frames


def acceleration_per_frame(joints: np.ndarray) -> np.ndarray:
    """Mean joint acceleration of a pose sequence, a ground-truth-free measure of jitter.

    Args:
        joints: ``(T, J, 3)`` metres (root-relative for a lifting model's output).

    Returns:
        ``(T,)`` millimetres per frame squared: at frame ``t`` the mean over joints of
        ``|x_{t+1} - 2 x_t + x_{t-1}|``; NaN at the first and last frame.
    """
    x = np.asarray(joints, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(f"acceleration_per_frame: expected (T, J, 3) metres, got {x.shape}")
    out = np.full(len(x), np.nan)
    if len(x) >= 3:
        acc = x[2:] - 2 * x[1:-1] + x[:-2]
        out[1:-1] = np.linalg.norm(acc, axis=-1).mean(-1) * 1000.0
    return out


def bone_length_std(joints: np.ndarray, skeleton: str = "h36m17") -> float:
    """How much a sequence's bones change length, a ground-truth-free consistency measure.

    Args:
        joints: ``(T, J, 3)`` metres.

    Returns:
        The standard deviation over the T frames of each bone's length
        (`poseviz.metrics.functional.bone_lengths`), averaged over the bones, in mm.
    """
    lengths = bone_lengths(np.asarray(joints, dtype=np.float64), layout=skeleton)  # (T, B)
    return float(np.std(lengths, axis=0).mean() * 1000.0)


def analyse(
    sequence: PoseSequence,
    camera_id: str | None = None,
    predictions: Sequence[Prediction] = (),
    *,
    psim_window: int | None = None,
) -> SequenceAnalysis:
    """Everything the compare views draw for ``sequence`` seen from ``camera_id``.

    Args:
        sequence: a `PoseSequence` in ``h36m17`` with ``joints_3d`` ``(T, J, 3)`` world
            metres (without cameras it gets a virtual rig, `with_virtual_cameras`), or
            without ``joints_3d`` but with the view's ``joints_2d`` ``(T, J, 2)`` pixels and
            camera (a video in the wild: no ground truth, no errors).
        camera_id: the view (default: the first camera id).
        predictions: `Prediction` records for this sequence and camera, ``joints_3d``
            ``(T', J, 3)`` root-relative camera frame; frames are matched through their
            ``frame_indices`` and only frames every prediction covers are analysed.
        psim_window: PSIM+'s temporal window (default: the metric's default).

    Raises:
        ValueError: neither 3D ground truth nor the view's 2D, an unknown camera, a
            prediction for another camera or with a different joint count.
    """
    if sequence.skeleton != "h36m17":
        raise ValueError(
            f"sequence {sequence.name!r}: expected the h36m17 layout, got {sequence.skeleton!r} "
            "(read it without raw=True)"
        )
    has_gt = sequence.joints_3d is not None
    if has_gt:
        sequence = with_virtual_cameras(sequence)
    elif not sequence.joints_2d:
        raise ValueError(
            f"sequence {sequence.name!r} has neither 3D ground truth nor 2D keypoints to show"
        )
    camera_id = camera_id or sorted(sequence.cameras)[0]
    if camera_id not in sequence.cameras:
        raise ValueError(
            f"sequence {sequence.name!r} has no camera {camera_id!r}; it has "
            f"{sorted(sequence.cameras)}"
        )
    if not has_gt and camera_id not in sequence.joints_2d:
        raise ValueError(
            f"sequence {sequence.name!r} has no 3D ground truth and no 2D keypoints for "
            f"camera {camera_id!r}"
        )
    camera = sequence.cameras[camera_id]
    skel = get_skeleton("h36m17")
    root = skel.root
    J = skel.num_joints
    for p in predictions:
        if p.joints_3d.shape[1] != J:
            raise ValueError(
                f"prediction {p.model_id!r}: {p.joints_3d.shape[1]} joints, expected {J} (h36m17)"
            )
        if p.camera_id != camera_id:
            raise ValueError(
                f"prediction {p.model_id!r} lifts camera {p.camera_id!r}, not {camera_id!r}"
            )
    frames = _common_frames(sequence, predictions)

    if has_gt:
        gt_world = np.asarray(sequence.joints_3d[frames], dtype=np.float64)
        if np.isnan(gt_world).any():  # mocap gaps: hold the last seen position
            gt_world = _fill_nan(gt_world)
        to_display = display_rotation(up_axis(gt_world))
        gt_display = gt_world @ to_display.T
        gt_camera = _root_relative(world_to_camera(gt_world, camera), root)
        root_world = gt_world[:, root : root + 1]
    else:  # the camera's up (-y) becomes the display's up; predictions at the origin
        gt_world = gt_display = gt_camera = None
        to_display = display_rotation(-np.asarray(camera.R, dtype=np.float64)[1])
        root_world = np.zeros((len(frames), 1, 3))
    if camera_id in sequence.joints_2d:
        kp2d = sequence.joints_2d[camera_id][frames]
    else:
        kp2d = project(gt_world, camera)
    conf = sequence.confidence.get(camera_id)
    occ = sequence.occluded.get(camera_id)

    models: dict[str, ModelResult] = {}
    for p in predictions:
        pos = {int(f): i for i, f in enumerate(p.frame_indices)}
        pred = _root_relative(p.joints_3d[[pos[int(f)] for f in frames]].astype(np.float64), root)
        errors: dict[str, Any] = dict.fromkeys(
            ("error_mm", "mpjpe_mm", "pa_mpjpe_mm", "velocity_error_mm", "psim")
        )
        if has_gt:
            err = joint_errors(pred, gt_camera)  # (T, J) mm, root-aligned
            vel = np.full(len(frames), np.nan)
            if len(frames) > 1:
                vel[1:] = mpjve(pred, gt_camera, reduction="pose")  # frame t vs t - 1
            errors = {
                "error_mm": err,
                "mpjpe_mm": err.mean(-1),
                "pa_mpjpe_mm": p_mpjpe(pred, gt_camera, reduction="pose"),  # (T,) mm
                "velocity_error_mm": vel,
                "psim": psim_plus(gt_camera, pred, temporal=True, window=psim_window),
            }
        world = pred @ camera.R + root_world  # R^T x, at the GT root (or the origin)
        aux = {k: np.asarray(v)[[pos[int(f)] for f in frames]] for k, v in p.aux.items()}
        occ_prob = aux.get("occlusion_prob")
        if occ_prob is not None and occ_prob.shape != (len(frames), J):
            occ_prob = None
        name = p.model_id
        while name in models:
            name += "'"
        models[name] = ModelResult(
            prediction=p,
            camera_frame=pred,
            display=world @ to_display.T,
            occlusion_prob=occ_prob,
            aux=aux,
            lse_mm=np.asarray(lse(pred, reduction="pose"), dtype=np.float64),
            acceleration_mm=acceleration_per_frame(pred),
            bone_std_mm=bone_length_std(pred),
            **errors,
        )
    return SequenceAnalysis(
        sequence=sequence,
        camera_id=camera_id,
        camera=camera,
        frames=frames,
        to_display=to_display,
        gt_world=gt_world,
        gt_display=gt_display,
        gt_camera=gt_camera,
        keypoints_2d=np.asarray(kp2d, dtype=np.float64),
        confidence=None if conf is None else conf[frames],
        occluded=None if occ is None else occ[frames],
        models=models,
    )


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Fill NaN gaps along time with the nearest earlier (else later) valid sample."""
    x = x.copy()
    T = len(x)
    flat = x.reshape(T, -1)
    for c in range(flat.shape[1]):
        col = flat[:, c]
        ok = np.isfinite(col)
        if not ok.any():
            col[:] = 0.0
            continue
        idx = np.where(ok, np.arange(T), 0)
        np.maximum.accumulate(idx, out=idx)
        first = int(np.argmax(ok))
        idx[:first] = first
        col[:] = col[idx]
    return x
