"""The batch contract: what the data pipeline hands to models, losses and the trainer.

A training or evaluation batch is a plain ``dict``. Tensors are float32 unless stated; B is
the batch size, T the clip length (input frames), T_out the output frames (T for
sequence-to-sequence clips, 1 for centre-frame clips), J the joints (17, ``h36m17``).

==========================  ========================  =========================================
key                         shape                     meaning
==========================  ========================  =========================================
``keypoints_2d``            ``(B, T, J, 2 or 3)``     normalised screen coordinates
                                                      ``x / w * 2 - [1, h / w]``; a third
                                                      channel, when present, is confidence
``pose_3d``                 ``(B, T_out, J, 3)``      target, root-relative camera frame, metres
``pose_3d_sequence``        ``(B, T, J, 3)``          the whole clip's target (centre-frame
                                                      models' global losses)
``occlusion``               ``(B, T, J)``             1.0 where the joint is occluded in the view
``confidence``              ``(B, T, J)``             detector confidence in [0, 1]
``image``                   ``(B, 3, H, W)``          person crop of the centre (or only) frame,
                                                      RGB in [0, 1]
``keypoints_2d_heatmap``    ``(B, J, 2)``             the crop's 2D joints in heatmap pixels
``severity``                ``(B,)`` int64            occlusion severity of the target frame
                                                      (`SEVERITIES` index)
``frame``                   ``(B,)`` int64            index of the target (centre) frame
``subject``, ``action``,    ``list[str]`` of B        labels for per-subject / per-action tables
``sequence``, ``camera``
==========================  ========================  =========================================

Only ``keypoints_2d`` and ``pose_3d`` are always present; the rest appear when the data has
them or a model asks for them. Models read ``keypoints_2d`` (plus ``occlusion`` or
``image`` where they use them); losses name their inputs as ``batch.<key>`` (see
`poseviz.losses.combine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["BATCH_KEYS", "REQUIRED_KEYS", "SEVERITIES", "check_batch"]

# key -> (symbolic shape, dtype kind) ; "C" is 2 or 3.
BATCH_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "keypoints_2d": (("B", "T", "J", "C"), "float"),
    "pose_3d": (("B", "T_out", "J", "3"), "float"),
    "pose_3d_sequence": (("B", "T", "J", "3"), "float"),
    "occlusion": (("B", "T", "J"), "float"),
    "confidence": (("B", "T", "J"), "float"),
    "image": (("B", "3", "H", "W"), "float"),
    "keypoints_2d_heatmap": (("B", "J", "2"), "float"),
    "severity": (("B",), "int"),
    "frame": (("B",), "int"),
}
REQUIRED_KEYS = ("keypoints_2d", "pose_3d")
LABEL_KEYS = ("subject", "action", "sequence", "camera")

# Occlusion severity of one frame in one view (seed 000 §5.1), in this order.
SEVERITIES = ("none", "joint", "body_part", "half_body")


def check_batch(batch: Mapping[str, Any], *, where: str = "batch") -> None:
    """Raise ``ValueError`` naming the key and the expected shape unless ``batch`` follows
    the contract above (sizes with the same symbol must agree across keys)."""
    for key in REQUIRED_KEYS:
        if key not in batch:
            raise ValueError(f"{where}: missing key {key!r} (required: {list(REQUIRED_KEYS)})")
    sizes: dict[str, int] = {}
    for key, (shape, kind) in BATCH_KEYS.items():
        if key not in batch:
            continue
        value = batch[key]
        want = "(" + ", ".join(shape) + ")"
        if not isinstance(value, torch.Tensor):
            raise ValueError(
                f"{where}[{key!r}]: expected a tensor {want}, got {type(value).__name__}"
            )
        if value.ndim != len(shape):
            raise ValueError(f"{where}[{key!r}]: expected shape {want}, got {tuple(value.shape)}")
        if (kind == "float") != value.is_floating_point():
            raise ValueError(f"{where}[{key!r}]: expected a {kind} tensor, got {value.dtype}")
        for sym, n in zip(shape, value.shape, strict=True):
            if sym.isdigit():
                ok = n == int(sym)
            elif sym == "C":
                ok = n in (2, 3)
            else:
                ok = sizes.setdefault(sym, n) == n
            if not ok:
                raise ValueError(
                    f"{where}[{key!r}]: expected shape {want} with {sym}="
                    f"{sizes.get(sym, '2 or 3' if sym == 'C' else sym)}, got {tuple(value.shape)}"
                )
    B = sizes["B"]
    for key in LABEL_KEYS:
        if key in batch and len(batch[key]) != B:
            raise ValueError(f"{where}[{key!r}]: expected {B} labels, got {len(batch[key])}")
