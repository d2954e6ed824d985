"""Whole-sequence prediction: a trained model + a `PoseSequence` view -> `Prediction`.

Models see fixed windows; sequences are any length. `lift` slides the model over a
sequence:

* centre-frame models (``model.predicts == "centre"``): one window of
  ``model.receptive_field`` frames centred on every frame;
* sequence-to-sequence models: consecutive windows of ``clip`` frames (default: the
  receptive field, or 243 frames for per-frame models), the last one ending on the last
  frame (its overlap with the previous window is taken from the previous window).

Frames before the start or after the end repeat the first or last frame (edge padding by
replication, as in training clips). Windows go through the model in batches on the
model's device (CUDA when available, see `load_model`), with an optional tqdm bar.

Auxiliary outputs travel with the pose when they are per frame: a centre model's aux
tensors ``(B, ...)`` (a leading window-frame axis of 1 is dropped), a sequence model's aux
tensors ``(B, clip, ...)``. ``occlusion_logits`` also yields ``occlusion_prob``
(sigmoid). Large float maps (attention) are stored as float16.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from poseviz.models.pretrained import load_pretrained
from poseviz.models.registry import LiftingModel
from poseviz.models.tta import flip_tta as models_flip_tta
from poseviz.structures import PoseSequence, Prediction

__all__ = [
    "DEFAULT_CLIP",
    "default_device",
    "lift",
    "load_model",
    "model_inputs",
    "predict_sequence",
    "predict_sequences",
    "window_indices",
]

DEFAULT_CLIP = 243  # window of sequence models whose receptive field is one frame
_FLOAT16_OVER = 4096  # per-frame aux arrays larger than this many values are stored as float16


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_model(path: str | Path, *, device: str | torch.device | None = None) -> LiftingModel:
    """A trained model in eval mode on ``device`` (default `default_device`).

    ``path`` is a model folder (``models/<name>/``: ``config.yaml`` + ``model.safetensors``),
    a training run folder (its final ``model.safetensors``, or its latest checkpoint while it
    is still training), or a checkpoint folder ``.../checkpoints/step-000100``.
    """
    model = load_pretrained(path)
    return model.to(torch.device(device) if device is not None else default_device()).eval()


def window_indices(
    num_frames: int, model: LiftingModel, *, clip: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The windows `lift` feeds the model.

    Returns:
        ``index`` ``(W, L)`` input frame of each window position (edge-clamped),
        ``out_frame`` ``(W, L_out)`` sequence frame each output belongs to (-1: padding or
        a frame an earlier window already covers), ``L_out`` being 1 for centre models.
    """
    if num_frames < 1:
        raise ValueError("lift: the sequence has no frames")
    T = num_frames
    if model.predicts == "centre":
        L = int(model.receptive_field)
        offsets = torch.arange(L) - L // 2
        frames = torch.arange(T)
        index = (frames[:, None] + offsets).clamp(0, T - 1)
        return index, frames[:, None], torch.ones(T, 1, dtype=torch.bool)
    L = int(clip or (model.receptive_field if model.receptive_field > 1 else DEFAULT_CLIP))
    starts = list(range(0, max(T - L, 0) + 1, L))
    if starts[-1] + L < T:
        starts.append(T - L)
    raw = torch.tensor(starts)[:, None] + torch.arange(L)
    index = raw.clamp(0, T - 1)
    out = raw.clone()
    out[raw >= T] = -1
    # frames an earlier window already produced are not taken again
    covered = torch.zeros(T, dtype=torch.bool)
    keep = torch.zeros_like(raw, dtype=torch.bool)
    for w in range(len(starts)):
        valid = raw[w] < T
        fresh = valid.clone()
        fresh[valid] = ~covered[raw[w][valid]]
        keep[w] = fresh
        covered[raw[w][valid]] = True
    return index, out, keep


def _wants_confidence(model: LiftingModel) -> bool:
    config = getattr(model, "config", None)
    for name in ("in_channels", "input_channels", "coord_channels"):
        if getattr(config, name, None) == 3:
            return True
    return False


def model_inputs(
    model: LiftingModel,
    sequence: PoseSequence,
    camera_id: str,
    *,
    confidence: bool | None = None,
    progress: bool = False,
) -> dict[str, torch.Tensor]:
    """The model's inputs for a whole sequence seen from ``camera_id``, frames first.

    ``keypoints_2d`` ``(T, J, 2 or 3)``: the view's ``joints_2d`` (or the projection of
    ``joints_3d``) normalised ``x / w * 2 - [1, h / w]``, plus the detector confidence when
    ``confidence`` (default: when the model's config asks for 3 input channels);
    ``occlusion`` ``(T, J)`` (when the model reads it): the view's ``occluded`` labels, or
    `poseviz.data.occlusion.occlusion_labels` of the 3D; ``image`` ``(T, 3, H, W)`` (when the
    model reads it): synthetic person crops (`poseviz.data.synthetic.render_sample`), whose
    own crop-normalised keypoints replace ``keypoints_2d``.
    """
    from poseviz.geometry import normalize_screen_coordinates, project, world_to_camera

    owner = f"sequence {sequence.name!r}"
    names = tuple(getattr(model, "inputs", ("keypoints_2d",)))
    if camera_id not in sequence.cameras and camera_id not in sequence.joints_2d:
        raise ValueError(f"{owner}: no camera {camera_id!r}; views: {sequence.camera_ids}")
    camera = sequence.cameras.get(camera_id)
    out: dict[str, torch.Tensor] = {}
    if "image" in names:
        out.update(_rendered_inputs(model, sequence, camera_id, progress=progress))
    else:
        uv = sequence.joints_2d.get(camera_id)
        if uv is None:
            if camera is None or sequence.joints_3d is None:
                raise ValueError(f"{owner}: camera {camera_id!r} has neither 2D nor 3D + camera")
            uv = project(sequence.joints_3d, camera)
        if camera is None:
            raise ValueError(
                f"{owner}: camera {camera_id!r} has no calibration; its image size is "
                "needed to normalise the 2D keypoints"
            )
        bad = ~np.isfinite(uv).all(axis=(1, 2))
        if bad.any():
            raise ValueError(
                f"{owner} camera {camera_id!r}: 2D keypoints have NaN in {int(bad.sum())} frames "
                f"(first {int(np.argmax(bad))}); fill the gaps before predicting"
            )
        kp = normalize_screen_coordinates(
            np.asarray(uv, dtype=np.float64), camera.width, camera.height
        )
        if confidence is None:
            confidence = _wants_confidence(model)
        if confidence:
            c = sequence.confidence.get(camera_id)
            c = np.ones(kp.shape[:2]) if c is None else c
            kp = np.concatenate([kp, c[..., None]], axis=-1)
        out["keypoints_2d"] = torch.from_numpy(np.asarray(kp, dtype=np.float32))
    if "occlusion" in names and "occlusion" not in out:
        occ = sequence.occluded.get(camera_id)
        if occ is None:
            if camera is None or sequence.joints_3d is None:
                raise ValueError(
                    f"{owner}: the model reads occlusion; camera {camera_id!r} has no labels"
                )
            from poseviz.data.occlusion import occlusion_labels

            occ = occlusion_labels(
                world_to_camera(sequence.joints_3d, camera), camera, skeleton=sequence.skeleton
            )
        out["occlusion"] = torch.from_numpy(np.asarray(occ, dtype=np.float32))
    return out


def _rendered_inputs(
    model: LiftingModel, sequence: PoseSequence, camera_id: str, *, progress: bool
) -> dict[str, torch.Tensor]:
    from tqdm.auto import tqdm

    from poseviz.data.synthetic import render_sample

    size = tuple(getattr(model.config, "image_size", (256, 256)))
    images, kps, occ = [], [], []
    for f in tqdm(
        range(sequence.num_frames),
        desc=f"rendering {sequence.name}/{camera_id}",
        unit="frame",
        disable=not progress,
        leave=False,
    ):
        s = render_sample(sequence, camera_id, f, size=size)
        images.append(s["image"])
        kps.append(s["keypoints_2d"][0])
        occ.append(s["occlusion"][0])
    return {
        "image": torch.stack(images),
        "keypoints_2d": torch.stack(kps),
        "occlusion": torch.stack(occ),
    }


def _window_inputs(
    inputs: Mapping[str, torch.Tensor], names: Sequence[str], index: torch.Tensor, centre: bool
) -> dict[str, torch.Tensor]:
    out = {}
    for k in names:
        v = inputs[k]
        if k == "image":  # one crop per window: its centre frame
            out[k] = v[index[:, index.shape[1] // 2]] if centre else v[index[:, 0]]
        else:
            out[k] = v[index]
    return out


@torch.no_grad()
def lift(
    model: LiftingModel,
    inputs: Mapping[str, torch.Tensor],
    *,
    clip: int | None = None,
    batch_size: int = 256,
    flip_tta: bool = False,
    progress: bool = False,
    desc: str = "lifting",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``model`` over a whole sequence (see the module docstring).

    Args:
        model: a lifting model (eval mode is set here).
        inputs: its inputs with frames first: ``keypoints_2d`` ``(T, J, C)`` normalised,
            ``occlusion`` ``(T, J)``, ``image`` ``(T, 3, H, W)``.
        clip: window length of sequence-to-sequence models (default above).
        batch_size: windows per forward pass.
        flip_tta: average with the un-mirrored prediction of the mirrored input
            (`poseviz.models.tta.flip_tta`).
        progress: tqdm bar over the batches.

    Returns:
        ``pose`` ``(T, J, 3)`` root-relative camera-frame metres (CPU, float32) and the
        per-frame auxiliary outputs ``{name: (T, ...)}``.
    """
    from tqdm.auto import tqdm

    model.eval()
    names = tuple(getattr(model, "inputs", ("keypoints_2d",)))
    missing = [k for k in names if k not in inputs]
    if missing:
        raise ValueError(f"lift: the model reads {list(names)}; inputs lack {missing}")
    T = int(inputs[names[0]].shape[0])
    index, out_frame, keep = window_indices(T, model, clip=clip)
    centre = model.predicts == "centre"
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    pose = torch.full((T, model.num_joints, 3), math.nan)
    aux: dict[str, torch.Tensor] = {}
    n = index.shape[0]
    starts = range(0, n, batch_size)
    for s in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        idx = index[s : s + batch_size]
        batch = {k: v.to(device) for k, v in _window_inputs(inputs, names, idx, centre).items()}
        out = _forward(model, batch, flip_tta)
        p = out.pose_3d.float().cpu()  # (B, L_out, J, 3)
        if p.ndim != 4 or p.shape[1] != out_frame.shape[1]:
            raise ValueError(
                f"lift: {type(model).__name__} returned pose_3d {tuple(p.shape)} for windows of "
                f"{idx.shape[1]} frames; expected (B, {out_frame.shape[1]}, J, 3)"
            )
        frames = out_frame[s : s + batch_size]
        m = keep[s : s + batch_size]
        pose[frames[m]] = p[m]
        for key, value in _per_frame_aux(out.aux, p.shape[0], out_frame.shape[1]).items():
            if key not in aux:
                aux[key] = torch.zeros((T, *value.shape[2:]), dtype=value.dtype)
            aux[key][frames[m]] = value[m]
    if torch.isnan(pose).any():
        raise ValueError("lift: some frames got no prediction (a bug in the windowing)")
    if "occlusion_logits" in aux:
        aux["occlusion_prob"] = torch.sigmoid(aux["occlusion_logits"].float())
    return pose, aux


def _forward(model: LiftingModel, batch: Mapping[str, torch.Tensor], flip_tta: bool) -> Any:
    if not flip_tta:
        return model(**batch)
    return models_flip_tta(model, **batch)


def _per_frame_aux(aux: Mapping[str, Any], B: int, L: int) -> dict[str, torch.Tensor]:
    """Aux tensors as ``(B, L, ...)`` (centre models: L = 1), others dropped."""
    out = {}
    for key, v in aux.items():
        if not isinstance(v, torch.Tensor) or v.ndim == 0 or v.shape[0] != B:
            continue
        v = v.detach().cpu()
        if L == 1:
            v = v if (v.ndim >= 2 and v.shape[1] == 1) else v.unsqueeze(1)
        elif v.ndim < 2 or v.shape[1] != L:
            continue
        if v.is_floating_point():
            per_frame = int(np.prod(v.shape[2:])) if v.ndim > 2 else 1
            v = v.half() if per_frame > _FLOAT16_OVER else v.float()
        out[key] = v
    return out


def predict_sequence(
    model: LiftingModel,
    sequence: PoseSequence,
    camera_id: str,
    *,
    model_id: str | None = None,
    inputs: Mapping[str, torch.Tensor] | None = None,
    flip_tta: bool = False,
    level: bool = False,
    clip: int | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> Prediction:
    """`Prediction` of ``model`` for ``sequence`` seen from ``camera_id``.

    Args:
        model: a lifting model (`load_model`).
        sequence, camera_id: the view to lift (see `model_inputs` for what it reads).
        model_id: the record's model label (default: the model's class name).
        inputs: precomputed inputs (frames first) instead of `model_inputs`, e.g. crops of
            a real video.
        flip_tta, clip, batch_size, progress: see `lift`.
        level: lift the view as a camera turned about its optical axis so that the
            person's trunk points up the image, and turn the 3D back
            (`poseviz.inference.level`; keypoint models only, not with ``inputs``); the
            angle (degrees) is recorded in aux ``level_angle`` ``(T,)``.

    Returns:
        ``joints_3d`` ``(T, J, 3)`` root-relative camera-frame metres and per-frame aux
        (e.g. ``occlusion_prob`` ``(T, J)``, ``attention``).

    Raises:
        ValueError: ``level`` with an image model or with ``inputs``.
    """
    angle = None
    if level:
        angle, sequence = _levelled(model, sequence, camera_id, inputs)
    if inputs is None:
        inputs = model_inputs(model, sequence, camera_id, progress=progress)
    pose, aux = lift(
        model,
        inputs,
        clip=clip,
        batch_size=batch_size,
        flip_tta=flip_tta,
        progress=progress,
        desc=f"{sequence.name}/{camera_id}",
    )
    joints_3d = pose.numpy()
    aux_np = {k: v.numpy() for k, v in aux.items()}
    if angle is not None:
        from poseviz.inference.level import turn_camera_frame

        joints_3d = turn_camera_frame(joints_3d, -angle).astype(joints_3d.dtype)
        aux_np["level_angle"] = np.full(len(joints_3d), angle, dtype=np.float32)
    return Prediction(
        model_id=model_id or type(model).__name__,
        sequence_id=sequence.name,
        camera_id=camera_id,
        joints_3d=joints_3d,
        aux=aux_np,
    )


def _levelled(
    model: LiftingModel,
    sequence: PoseSequence,
    camera_id: str,
    inputs: Mapping[str, torch.Tensor] | None,
) -> tuple[float, PoseSequence]:
    """The view's level angle and the sequence with that view's 2D turned by it."""
    from dataclasses import replace

    from poseviz.inference.level import level_angle, supports_level, turn_view_2d

    if inputs is not None or not supports_level(model):
        raise ValueError(
            f"predict: level turns the 2D keypoints only; {type(model).__name__} reads "
            "images or was given precomputed inputs (lift without level)"
        )
    if camera_id not in sequence.joints_2d or camera_id not in sequence.cameras:
        raise ValueError(
            f"predict: level needs the 2D keypoints and the camera of view {camera_id!r} of "
            f"sequence {sequence.name!r}"
        )
    points = sequence.joints_2d[camera_id]
    angle = level_angle(points)
    turned = turn_view_2d(points, sequence.cameras[camera_id], angle).astype(points.dtype)
    return angle, replace(sequence, joints_2d={**sequence.joints_2d, camera_id: turned})


def predict_sequences(
    model: LiftingModel,
    sequences: Iterable[PoseSequence],
    *,
    cameras: Sequence[str] | None = None,
    model_id: str | None = None,
    flip_tta: bool = False,
    level: bool = False,
    clip: int | None = None,
    batch_size: int = 256,
    progress: bool = True,
) -> list[Prediction]:
    """`predict_sequence` for every view (or the ``cameras`` listed) of every sequence,
    with a progress bar over the views."""
    from tqdm.auto import tqdm

    views = [(s, c) for s in sequences for c in s.camera_ids if cameras is None or c in cameras]
    if not views:
        raise ValueError("predict: no (sequence, camera) views to predict")
    out = []
    for seq, cam in tqdm(views, desc="predicting", unit="view", disable=not progress):
        out.append(
            predict_sequence(
                model,
                seq,
                cam,
                model_id=model_id,
                flip_tta=flip_tta,
                level=level,
                clip=clip,
                batch_size=batch_size,
            )
        )
    return out
