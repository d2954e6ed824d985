"""DG-CNN's training objectives (seed ``000_f1d3e10faaa5ea8f.txt`` §4).

Feature-Net (trained on images):
- `integral_2d_loss`, eq. 6: ``L_2D = sum_i ||j_i - j_i^GT||`` with ``j_i`` the soft-argmax
  (integral regression) of joint i's heatmap, in heatmap pixels;
- `focal_occlusion_loss`, eq. 7: focal loss on per-joint occlusion logits, alpha = 1, gamma = 2;
- `feature_net_loss`, eq. 8: ``0.999 L_2D + 0.001 L_OC`` (§5.2).

Lifting-Net (trained on 2D + occlusion):
- `limb_joint_loss`, eq. 11: squared limb-length errors plus squared joint errors;
- `psim_similarity_loss`: ``L_sim = 1 - PSIM+`` on the metrics' differentiable PSIM+;
- `lifting_net_loss`, eq. 12: ``0.1 L_3D + 0.9 L_sim`` (§5.2).

Each per-item value is the equation's sum over joints (or limbs) for one frame/image;
``reduction="mean"`` (default) averages it over the batch, ``"sum"`` sums, ``"none"`` returns it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from poseviz.geometry import soft_argmax_2d
from poseviz.losses._validation import (
    Reduction,
    check_finite,
    check_pair,
    check_reduction,
    check_tensor,
    check_weight,
    reduce,
)
from poseviz.losses.position import joint_errors
from poseviz.metrics.functional.psim import psim_plus  # contract: functional.** is allowed
from poseviz.skeleton import Skeleton, get_skeleton

__all__ = [
    "FeatureNetLoss",
    "FocalOcclusionLoss",
    "Integral2DLoss",
    "LiftingNetLoss",
    "LimbJointLoss",
    "PSIMSimilarityLoss",
    "feature_net_loss",
    "focal_occlusion_loss",
    "integral_2d_loss",
    "lifting_net_loss",
    "limb_joint_loss",
    "psim_similarity_loss",
]


def integral_2d_loss(
    heatmaps: torch.Tensor,
    target: torch.Tensor,
    *,
    beta: float = 1.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Integral-regression 2D loss, DG-CNN eq. 6: ``L_2D = sum_i ||j_i - j_i^GT||_2``, where
    ``j_i = soft_argmax_2d(heatmap_i)`` (`poseviz.geometry.soft_argmax_2d`).

    Args:
        heatmaps: ``(..., K, H, W)`` heatmap logits, e.g. ``(B, K, 64, 64)``.
        target: ``(..., K, 2)`` ground-truth ``(x, y)`` in heatmap pixels (pixel centres at
            integers); must be finite.
        beta: softmax inverse temperature of the soft-argmax.
        reduction: ``"none"`` -> ``(...)`` per image; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Heatmap pixels.
    """
    fn = "integral_2d_loss"
    check_reduction(reduction, fn)
    heatmaps = check_tensor(heatmaps, "heatmaps", fn)
    target = check_tensor(target, "target", fn)
    if (
        heatmaps.ndim < 3
        or target.ndim != heatmaps.ndim - 1
        or target.shape[-1] != 2
        or heatmaps.shape[:-2] != target.shape[:-1]
    ):
        raise ValueError(
            f"{fn}: expected heatmaps (..., K, H, W) and target (..., K, 2) with the same "
            f"leading shape, got heatmaps {tuple(heatmaps.shape)} and target {tuple(target.shape)}"
        )
    check_finite(target, "target", fn)
    coords = soft_argmax_2d(heatmaps, beta=beta)
    return reduce(joint_errors(coords, target.to(coords.dtype)).sum(-1), reduction)


def focal_occlusion_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float = 1.0,
    gamma: float = 2.0,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """Focal occlusion loss, DG-CNN eq. 7: ``L_OC = alpha * (1 - exp(-CE))^gamma * CE`` per
    joint, summed over joints, with alpha = 1 and gamma = 2 (§5.2).

    ``CE`` is the binary cross-entropy of the predicted occlusion probability
    ``c = sigmoid(logit)`` against the label (the paper writes ``C_E`` as the log-likelihood
    with the sign folded into eq. 7; this is the usual focal loss of Lin et al. with
    ``p_t = exp(-CE)``). ``alpha`` is the scalar factor of eq. 7, not RetinaNet's
    positive/negative balance. Computed from logits (``binary_cross_entropy_with_logits``
    and ``-expm1(-CE)``), so it stays finite for any logit.

    Args:
        logits: ``(..., K)`` occlusion logits (before the sigmoid), e.g. ``(B, T, J)``.
        target: ``(..., K)`` labels, 1 = occluded, 0 = visible (soft labels in [0, 1] work).
        alpha, gamma: eq. 7's factor and focusing exponent (both >= 0).
        reduction: ``"none"`` -> ``(...)`` per frame; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Nats (summed over joints).
    """
    fn = "focal_occlusion_loss"
    check_reduction(reduction, fn)
    alpha = check_weight(alpha, "alpha", fn)
    gamma = check_weight(gamma, "gamma", fn)
    logits, target = check_pair(logits, target, fn, layout="(..., K)", channels=None, min_ndim=1)
    if bool(((target < 0) | (target > 1)).any()):
        raise ValueError(f"{fn}: target occlusion labels must lie in [0, 1] (1 = occluded)")
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    focal = alpha * (-torch.expm1(-ce)) ** gamma * ce
    return reduce(focal.sum(-1), reduction)


def feature_net_loss(
    heatmaps: torch.Tensor,
    occlusion_logits: torch.Tensor,
    keypoints_2d: torch.Tensor,
    occlusion: torch.Tensor,
    *,
    w_2d: float = 0.999,
    w_oc: float = 0.001,
    beta: float = 1.0,
    alpha: float = 1.0,
    gamma: float = 2.0,
) -> torch.Tensor:
    """Feature-Net's objective, DG-CNN eq. 8: ``L_Feat = w_2D L_2D + w_OC L_OC`` with the
    paper's ``w_2D = 0.999``, ``w_OC = 0.001`` (§5.2); both terms batch means.

    Args:
        heatmaps: ``(B, K, H, W)`` logits; keypoints_2d: ``(B, K, 2)`` GT heatmap pixels
            (see `integral_2d_loss`).
        occlusion_logits, occlusion: ``(B, K)`` logits and labels (see `focal_occlusion_loss`).

    Returns:
        Scalar.
    """
    fn = "feature_net_loss"
    w_2d = check_weight(w_2d, "w_2d", fn)
    w_oc = check_weight(w_oc, "w_oc", fn)
    return w_2d * integral_2d_loss(heatmaps, keypoints_2d, beta=beta) + w_oc * (
        focal_occlusion_loss(occlusion_logits, occlusion, alpha=alpha, gamma=gamma)
    )


def _as_skeleton(skeleton: str | Skeleton) -> Skeleton:
    return skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)


def _bone_index(skeleton: Skeleton, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    parents, children = zip(*skeleton.bones, strict=True)
    return (
        torch.tensor(parents, dtype=torch.long, device=device),
        torch.tensor(children, dtype=torch.long, device=device),
    )


def limb_lengths(joints: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """``(..., J, 3) -> (..., E)`` length of each bone ``(parent, child)`` of ``skeleton``, in
    the order of ``skeleton.bones`` (metres)."""
    parents, children = _bone_index(skeleton, joints.device)
    return torch.linalg.vector_norm(joints[..., children, :] - joints[..., parents, :], dim=-1)


def limb_joint_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    skeleton: str | Skeleton = "h36m17",
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """DG-CNN's 3D pose loss, eq. 11:
    ``L_3D = sum_{i=1..E} (B_i - B_i^GT)^2 + sum_{i=1..K} ||Y_i - Y_i^GT||_2^2``,
    with ``B_i`` the length of limb i (the ``E = J - 1`` bones of ``skeleton``) and ``Y_i``
    the 3D joints.

    Args:
        pred, target: ``(..., J, 3)`` root-relative joints in metres; target must be finite.
        skeleton: layout name or `Skeleton` whose bones define the limbs (default h36m17).
        reduction: ``"none"`` -> ``(...)`` per frame; ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Square metres.
    """
    fn = "limb_joint_loss"
    check_reduction(reduction, fn)
    pred, target = check_pair(pred, target, fn)
    skel = _as_skeleton(skeleton)
    skel.check_joints(pred, f"{fn} pred")
    limb = (limb_lengths(pred, skel) - limb_lengths(target, skel)).square().sum(-1)
    joint = (pred - target).square().sum((-1, -2))
    return reduce(limb + joint, reduction)


def psim_similarity_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    weights: tuple[float, float, float] = (0.6, 0.15, 0.25),
    temporal: bool = False,
    window: int | None = None,
    variant: str = "literal",
    skeleton: str | Skeleton = "h36m17",
    reduction: Reduction = "mean",
) -> torch.Tensor:
    """DG-CNN's similarity loss (§4.3, eq. 12's ``L_sim``): ``L_sim = 1 - PSIM+(Y^GT, Y)``,
    computed by the metrics' differentiable `poseviz.metrics.functional.psim_plus` with the
    ground truth as reference (PSIM+ eq. 4; eq. 5 when ``temporal``).

    The sensitive-joint set of eq. 3 is a hard selection, so gradients flow through the
    selected joints' positions, not through the choice of joints.

    Args:
        pred, target: ``(..., J, 3)`` poses in metres, or ``(..., T, J, 3)`` sequences when
            ``temporal``; target must be finite.
        weights: PSIM+ component weights ``(w_p, w_s, w_v)``, default ``(0.6, 0.15, 0.25)``
            (§5.2; Table 4 ablates them).
        temporal, window, variant: passed to `psim_plus` (temporal pooling of eq. 5 and its
            window in frames; ``"literal"`` or ``"per_joint"`` similarities).
        skeleton: layout with the five body parts (``"h36m17"``).
        reduction: ``"none"`` -> ``(...)`` per pose (per sequence when temporal);
            ``"mean"``/``"sum"`` -> scalar.

    Returns:
        Dimensionless, 0 for a perfect prediction.
    """
    fn = "psim_similarity_loss"
    check_reduction(reduction, fn)
    layout = "(..., T, J, 3)" if temporal else "(..., J, 3)"
    pred, target = check_pair(pred, target, fn, layout=layout, min_ndim=3 if temporal else 2)
    result = psim_plus(
        target,
        pred,
        weights=weights,
        temporal=temporal,
        window=window,
        variant=variant,
        layout=_as_skeleton(skeleton),
    )
    return reduce(1 - result.score, reduction)


def lifting_net_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    w_3d: float = 0.1,
    w_sim: float = 0.9,
    psim_weights: tuple[float, float, float] = (0.6, 0.15, 0.25),
    skeleton: str | Skeleton = "h36m17",
) -> torch.Tensor:
    """Lifting-Net's objective, DG-CNN eq. 12: ``L_Lift = w_3D L_3D + w_sim L_sim`` with the
    paper's ``w_3D = 0.1``, ``w_sim = 0.9`` (§5.2): `limb_joint_loss` (eq. 11) plus
    `psim_similarity_loss`, both batch means over poses.

    Args:
        pred, target: ``(..., J, 3)`` root-relative joints in metres; target must be finite.
        w_3d, w_sim: non-negative weights; psim_weights: ``(w_p, w_s, w_v)`` of PSIM+.
        skeleton: layout (limbs of eq. 11 and body parts of PSIM+).

    Returns:
        Scalar (square metres and dimensionless similarity, mixed as the paper does).
    """
    fn = "lifting_net_loss"
    w_3d = check_weight(w_3d, "w_3d", fn)
    w_sim = check_weight(w_sim, "w_sim", fn)
    return w_3d * limb_joint_loss(pred, target, skeleton=skeleton) + w_sim * (
        psim_similarity_loss(pred, target, weights=psim_weights, skeleton=skeleton)
    )


class Integral2DLoss(nn.Module):
    """`integral_2d_loss` (DG-CNN eq. 6) as a module: ``forward(heatmaps (..., K, H, W),
    target (..., K, 2))``."""

    def __init__(self, *, beta: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.beta = float(beta)
        self.reduction = reduction

    def forward(self, heatmaps: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return integral_2d_loss(heatmaps, target, beta=self.beta, reduction=self.reduction)


class FocalOcclusionLoss(nn.Module):
    """`focal_occlusion_loss` (DG-CNN eq. 7) as a module: ``forward(logits (..., K),
    target (..., K))``."""

    def __init__(
        self, *, alpha: float = 1.0, gamma: float = 2.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.alpha = check_weight(alpha, "alpha", type(self).__name__)
        self.gamma = check_weight(gamma, "gamma", type(self).__name__)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return focal_occlusion_loss(
            logits, target, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction
        )


class FeatureNetLoss(nn.Module):
    """`feature_net_loss` (DG-CNN eq. 8) as a module:
    ``forward(heatmaps, occlusion_logits, keypoints_2d, occlusion)``."""

    def __init__(
        self,
        *,
        w_2d: float = 0.999,
        w_oc: float = 0.001,
        beta: float = 1.0,
        alpha: float = 1.0,
        gamma: float = 2.0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.w_2d = check_weight(w_2d, "w_2d", name)
        self.w_oc = check_weight(w_oc, "w_oc", name)
        self.beta, self.alpha, self.gamma = float(beta), float(alpha), float(gamma)

    def forward(
        self,
        heatmaps: torch.Tensor,
        occlusion_logits: torch.Tensor,
        keypoints_2d: torch.Tensor,
        occlusion: torch.Tensor,
    ) -> torch.Tensor:
        return feature_net_loss(
            heatmaps,
            occlusion_logits,
            keypoints_2d,
            occlusion,
            w_2d=self.w_2d,
            w_oc=self.w_oc,
            beta=self.beta,
            alpha=self.alpha,
            gamma=self.gamma,
        )


class LimbJointLoss(nn.Module):
    """`limb_joint_loss` (DG-CNN eq. 11) as a module: ``forward(pred, target)``,
    ``(..., J, 3)`` metres."""

    def __init__(self, *, skeleton: str | Skeleton = "h36m17", reduction: Reduction = "mean"):
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.skeleton = _as_skeleton(skeleton)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return limb_joint_loss(pred, target, skeleton=self.skeleton, reduction=self.reduction)


class PSIMSimilarityLoss(nn.Module):
    """`psim_similarity_loss` (``1 - PSIM+``) as a module: ``forward(pred, target)``,
    ``(..., J, 3)`` metres (``(..., T, J, 3)`` when ``temporal``)."""

    def __init__(
        self,
        *,
        weights: tuple[float, float, float] = (0.6, 0.15, 0.25),
        temporal: bool = False,
        window: int | None = None,
        variant: str = "literal",
        skeleton: str | Skeleton = "h36m17",
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        check_reduction(reduction, type(self).__name__)
        self.weights = tuple(float(w) for w in weights)
        self.temporal, self.window, self.variant = bool(temporal), window, variant
        self.skeleton = _as_skeleton(skeleton)
        self.reduction = reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return psim_similarity_loss(
            pred,
            target,
            weights=self.weights,
            temporal=self.temporal,
            window=self.window,
            variant=self.variant,
            skeleton=self.skeleton,
            reduction=self.reduction,
        )


class LiftingNetLoss(nn.Module):
    """`lifting_net_loss` (DG-CNN eq. 12) as a module: ``forward(pred, target)``,
    ``(..., J, 3)`` metres."""

    def __init__(
        self,
        *,
        w_3d: float = 0.1,
        w_sim: float = 0.9,
        psim_weights: tuple[float, float, float] = (0.6, 0.15, 0.25),
        skeleton: str | Skeleton = "h36m17",
    ) -> None:
        super().__init__()
        self.w_3d = check_weight(w_3d, "w_3d", type(self).__name__)
        self.w_sim = check_weight(w_sim, "w_sim", type(self).__name__)
        self.psim_weights = tuple(float(w) for w in psim_weights)
        self.skeleton = _as_skeleton(skeleton)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return lifting_net_loss(
            pred,
            target,
            w_3d=self.w_3d,
            w_sim=self.w_sim,
            psim_weights=self.psim_weights,
            skeleton=self.skeleton,
        )
