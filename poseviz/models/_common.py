"""Small pieces the model families of this package share: reading the keypoint input in the
channels a model was built for, making a pose root-relative, and plain training-stage data."""

from __future__ import annotations

import torch

from poseviz.models.registry import LiftingModel, config_to_dict
from poseviz.skeleton import Skeleton, get_skeleton

__all__ = ["keypoints_in", "plain_stages", "root_relative", "skeleton_of"]


def skeleton_of(config: object) -> Skeleton:
    """The `Skeleton` named by ``config.skeleton`` (default ``"h36m17"``)."""
    return get_skeleton(str(getattr(config, "skeleton", "h36m17")))


def keypoints_in(model: LiftingModel, keypoints_2d: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Check ``keypoints_2d`` ``(B, T, J, 2 or 3)`` against ``model`` and return it with
    ``in_channels`` channels: a confidence channel the model does not use is dropped, and a
    model that reads confidences gets 1.0 (fully confident) when the input has none.

    Raises:
        ValueError: from `LiftingModel.check_keypoints`: wrong rank, joint count, channel
            count (the message names the expected shape), dtype or device.
    """
    model.check_keypoints(keypoints_2d)
    C = keypoints_2d.shape[-1]
    if C == in_channels:
        return keypoints_2d
    if C > in_channels:
        return keypoints_2d[..., :in_channels]
    ones = keypoints_2d.new_ones(*keypoints_2d.shape[:-1], in_channels - C)
    return torch.cat([keypoints_2d, ones], dim=-1)


def root_relative(pose: torch.Tensor, root: int) -> torch.Tensor:
    """``pose`` ``(..., J, 3)`` minus its ``root`` joint, so the root sits at the origin."""
    return pose - pose[..., root : root + 1, :]


def plain_stages(stages: object) -> tuple[dict, ...]:
    """A config's ``stages`` (`poseviz.losses.LossStage.to_dict`-style mappings) as a tuple
    of plain dicts, tuples inside turned into lists, so the config survives a YAML round
    trip unchanged."""
    return tuple(config_to_dict(dict(s)) for s in stages)  # type: ignore[union-attr]
