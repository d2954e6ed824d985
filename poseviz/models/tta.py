"""Left/right flip test-time augmentation and a flip-equivariance check.

A person mirrored left/right is another valid person, so a good lifting model is
*flip-equivariant*: lifting the mirrored 2D input gives the mirrored 3D output. Flip TTA
averages the model's prediction with the un-mirrored prediction of the mirrored input
(VideoPose3D, GLA-GCN and RePOSE all evaluate this way); the result is exactly equivariant.

Mirroring follows `poseviz.skeleton.flip_pose`: x is negated (normalised screen x and
camera-frame 3D x are both centred on 0) and left and right joints swap. Other inputs are
mirrored too: per-joint ``occlusion``/``confidence`` ``(B, T, J)`` swap their joints and an
``image`` ``(B, 3, H, W)`` flips horizontally; anything else passes unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

from poseviz.models.registry import LiftingModel, LiftOutput
from poseviz.skeleton import Skeleton, flip_pose, get_skeleton

__all__ = ["flip_equivariance_error", "flip_tta"]

_PER_JOINT = ("occlusion", "confidence")


def _skeleton(model: LiftingModel, skeleton: Skeleton | str | None) -> Skeleton:
    if isinstance(skeleton, Skeleton):
        return skeleton
    if skeleton is None:
        own = getattr(model, "skeleton", None)
        if isinstance(own, Skeleton):
            return own
        skeleton = str(getattr(model.config, "skeleton", "h36m17"))
    return get_skeleton(skeleton)


def _flip_input(key: str, value: Any, sk: Skeleton) -> Any:
    if not isinstance(value, torch.Tensor):
        return value
    if key in _PER_JOINT:
        sk.check_joints(value.unsqueeze(-1), f"flip_tta input {key!r} (..., J)")
        return value[..., list(sk.flip_permutation)]
    if key == "image":
        return value.flip(-1)
    return value


def _is_pose(value: Any, J: int) -> bool:
    return (
        isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and value.ndim >= 2
        and tuple(value.shape[-2:]) == (J, 3)
    )


def flip_tta(
    model: LiftingModel,
    keypoints_2d: torch.Tensor,
    *,
    skeleton: Skeleton | str | None = None,
    **inputs: Any,
) -> LiftOutput:
    """Flip test-time augmentation:
    ``pose = (f(x) + flip(f(flip(x)))) / 2``.

    Args:
        model: a lifting model (put it in eval mode first for evaluation).
        keypoints_2d: ``(B, T, J, 2|3)`` normalised screen coordinates.
        skeleton: the joint layout; default ``model.skeleton`` or ``model.config.skeleton``.
        inputs: other ``forward`` inputs (mirrored as the module docstring says).

    Returns:
        `LiftOutput` whose ``pose_3d`` ``(B, T_out, J, 3)`` (metres) is the average above;
        every ``aux`` tensor shaped ``(..., J, 3)`` (e.g. ``sequence_3d``) is averaged the same
        way, the other ``aux`` entries come from the un-mirrored pass.
    """
    sk = _skeleton(model, skeleton)
    out = model(keypoints_2d, **inputs)
    mirrored = model(
        flip_pose(keypoints_2d, sk), **{k: _flip_input(k, v, sk) for k, v in inputs.items()}
    )
    J = sk.num_joints
    aux = dict(out.aux)
    for key, value in out.aux.items():
        if _is_pose(value, J) and _is_pose(mirrored.aux.get(key), J):
            aux[key] = (value + flip_pose(mirrored.aux[key], sk)) / 2
    return LiftOutput((out.pose_3d + flip_pose(mirrored.pose_3d, sk)) / 2, aux)


def flip_equivariance_error(
    model: LiftingModel,
    keypoints_2d: torch.Tensor,
    *,
    skeleton: Skeleton | str | None = None,
    **inputs: Any,
) -> torch.Tensor:
    """How far ``model`` is from flip equivariance on this input: the mean per-joint
    distance between ``f(flip(x))`` and ``flip(f(x))``.

    Args:
        keypoints_2d: ``(B, T, J, 2|3)``; ``skeleton`` and ``inputs`` as in `flip_tta`.

    Returns:
        ``(B,)`` metres (0 for an equivariant model, e.g. any model under `flip_tta`).
    """
    sk = _skeleton(model, skeleton)
    out = model(keypoints_2d, **inputs).pose_3d
    mirrored = model(
        flip_pose(keypoints_2d, sk), **{k: _flip_input(k, v, sk) for k, v in inputs.items()}
    ).pose_3d
    return (mirrored - flip_pose(out, sk)).norm(dim=-1).flatten(1).mean(dim=1)
