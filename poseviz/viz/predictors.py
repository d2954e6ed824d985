"""The one interface between the compare app and whatever produces 3D poses.

A `Predictor` is any callable ``(sequence, camera_id, progress=None) -> Prediction``; the
compare app never sees models, only predictors (``viz`` sits beside ``inference`` in the
layering, so the app composes the two: ``apps/compare.py`` wraps
``poseviz.inference.load_model``/``predict_sequence`` into predictors).

`PerturbedGroundTruth` is a stand-in with known errors: the camera-frame ground truth
plus a constant per-joint bias, slowly varying noise and frame-to-frame jitter. It is not a
model; the app labels it as such and uses it where no trained model is available (and the
tests use it because its errors are known).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from poseviz.geometry import world_to_camera
from poseviz.skeleton import get_skeleton
from poseviz.structures import PoseSequence, Prediction

__all__ = ["PerturbedGroundTruth", "Predictor", "ProgressCallback", "perturbed_predictors"]

ProgressCallback = Callable[[float], None]


@runtime_checkable
class Predictor(Protocol):
    """Lifts one view of a sequence: returns a `Prediction` with ``joints_3d`` ``(T, J, 3)``
    root-relative camera-frame metres. ``progress`` (if given) is called with the fraction
    done in [0, 1]. A predictor that needs the sequence's 3D ground truth (a stand-in, not
    a model) says so with a true ``needs_ground_truth`` attribute; the compare app then
    leaves it out for videos and other sequences without 3D."""

    def __call__(
        self, sequence: PoseSequence, camera_id: str, progress: ProgressCallback | None = None
    ) -> Prediction: ...


def _smooth_noise(rng: np.random.Generator, T: int, J: int, knots_per_s: float, fps: float):
    """``(T, J, 3)`` noise of unit RMS per coordinate, interpolated between random knots."""
    n = max(2, int(np.ceil(T / fps * knots_per_s)) + 1)
    keys = rng.normal(size=(n, J, 3))
    x = np.linspace(0, n - 1, T)
    k = np.minimum(x.astype(int), n - 2)
    w = (x - k)[:, None, None]
    return keys[k] * (1 - w) + keys[k + 1] * w


@dataclass(frozen=True)
class PerturbedGroundTruth:
    """Ground truth (root-relative, camera frame) plus errors of known size.

    Args:
        name: model id written into the `Prediction`.
        bias_mm: RMS of a constant per-joint offset (millimetres).
        noise_mm: RMS of a smooth per-joint offset changing about twice a second.
        jitter_mm: RMS of independent per-frame noise.
        depth_bias_mm: a constant offset along the camera's z for the arms and legs'
            end joints (wrists and ankles): the depth mistakes lifting makes.
        occlusion_noise: when the sequence has occlusion labels for the camera, adds
            ``aux["occlusion_prob"]`` = label blurred by this much uniform noise.
        seed: random seed; the same seed gives the same prediction.
    """

    name: str
    bias_mm: float = 0.0
    noise_mm: float = 0.0
    jitter_mm: float = 0.0
    depth_bias_mm: float = 0.0
    occlusion_noise: float = 0.25
    seed: int = 0
    needs_ground_truth: ClassVar[bool] = True  # it perturbs the ground truth

    def __call__(
        self, sequence: PoseSequence, camera_id: str, progress: ProgressCallback | None = None
    ) -> Prediction:
        if sequence.joints_3d is None:
            raise ValueError(f"{self.name}: sequence {sequence.name!r} has no 3D ground truth")
        if camera_id not in sequence.cameras:
            raise ValueError(f"{self.name}: sequence {sequence.name!r} has no camera {camera_id!r}")
        skel = get_skeleton(sequence.skeleton)
        cam = world_to_camera(
            np.asarray(sequence.joints_3d, np.float64), sequence.cameras[camera_id]
        )
        cam = np.nan_to_num(cam - cam[:, skel.root : skel.root + 1])
        T, J, _ = cam.shape
        rng = np.random.default_rng([self.seed, T, J])
        per = np.sqrt(3.0)  # per-coordinate scale for a 3D RMS
        offset = rng.normal(size=(1, J, 3)) * self.bias_mm / per
        offset = offset + _smooth_noise(rng, T, J, 2.0, sequence.fps) * self.noise_mm / per
        offset = offset + rng.normal(size=(T, J, 3)) * self.jitter_mm / per
        ends = [i for i, n in enumerate(skel.names) if n.endswith(("wrist", "ankle"))]
        offset[:, ends, 2] += self.depth_bias_mm
        offset[:, skel.root] = 0.0
        aux = {}
        occ = sequence.occluded.get(camera_id)
        if occ is not None:
            noisy = occ.astype(np.float64) + rng.uniform(-1, 1, occ.shape) * self.occlusion_noise
            aux["occlusion_prob"] = np.clip(noisy, 0.0, 1.0)
        if progress is not None:
            progress(1.0)
        return Prediction(
            model_id=self.name,
            sequence_id=sequence.name,
            camera_id=camera_id,
            joints_3d=cam + offset / 1000.0,
            aux=aux,
        )


def perturbed_predictors() -> dict[str, PerturbedGroundTruth]:
    """Three stand-ins with different failure styles (names say they are not models)."""
    return {
        p.name: p
        for p in (
            PerturbedGroundTruth("perturbed GT: bias 40 mm", bias_mm=40.0, seed=1),
            PerturbedGroundTruth("perturbed GT: jitter 25 mm", jitter_mm=25.0, seed=2),
            PerturbedGroundTruth(
                "perturbed GT: depth 80 mm + noise", depth_bias_mm=80.0, noise_mm=30.0, seed=3
            ),
        )
    }
