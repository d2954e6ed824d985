"""Training objectives of the five papers, each a function plus an ``nn.Module`` calling it.

Position (`poseviz.losses.position`): `mpjpe_loss`, `weighted_mpjpe_loss`, `velocity_loss`.
DG-CNN (`poseviz.losses.dgcnn`, seed 000): `integral_2d_loss` (eq. 6),
`focal_occlusion_loss` (eq. 7), `feature_net_loss` (eq. 8), `limb_joint_loss` (eq. 11),
`psim_similarity_loss` (1 - PSIM+, on `poseviz.metrics.functional.psim_plus`),
`lifting_net_loss` (eq. 12).
RePOSE (`poseviz.losses.relational_depth`, seed 001): `spatial_depth_loss` (eq. 2),
`temporal_depth_loss` (eq. 3), `repose_loss` (eq. 4).
Lifting by Image (`poseviz.losses.lifting_by_image`, seed 004): `mse_pose_loss` (eq. 3).
GLA-GCN (`poseviz.losses.gla_gcn`, seed 003): `global_sequence_loss` (eq. 4),
`local_pose_loss` (eq. 8).
Combining by name and multi-stage schedules (`poseviz.losses.combine`): `build_loss`,
`get_loss`, `list_losses`, `LossStage`, `stage_at`, `gla_gcn_stages`,
`lifting_by_image_stages`, `PRESETS`.

Inputs are root-relative camera-frame joints in metres, ``(..., J, 3)``; targets with NaN or
mismatched shapes raise ``ValueError``. The soft-argmax of integral regression is shared with
the models as `poseviz.geometry.soft_argmax_2d`.
"""

from poseviz.losses.combine import (
    PRESETS,
    CombinedLoss,
    LossResult,
    LossSpec,
    LossStage,
    build_loss,
    get_loss,
    get_loss_spec,
    gla_gcn_stages,
    lifting_by_image_stages,
    list_losses,
    register_loss,
    stage_at,
)
from poseviz.losses.dgcnn import (
    FeatureNetLoss,
    FocalOcclusionLoss,
    Integral2DLoss,
    LiftingNetLoss,
    LimbJointLoss,
    PSIMSimilarityLoss,
    feature_net_loss,
    focal_occlusion_loss,
    integral_2d_loss,
    lifting_net_loss,
    limb_joint_loss,
    psim_similarity_loss,
)
from poseviz.losses.gla_gcn import (
    GlobalSequenceLoss,
    LocalPoseLoss,
    global_sequence_loss,
    local_pose_loss,
)
from poseviz.losses.lifting_by_image import MSEPoseLoss, mse_pose_loss
from poseviz.losses.position import (
    MPJPELoss,
    VelocityLoss,
    WeightedMPJPELoss,
    mpjpe_loss,
    velocity_loss,
    weighted_mpjpe_loss,
)
from poseviz.losses.relational_depth import (
    RePOSELoss,
    SpatialDepthLoss,
    TemporalDepthLoss,
    repose_loss,
    spatial_depth_loss,
    temporal_depth_loss,
)

__all__ = [
    "PRESETS",
    "CombinedLoss",
    "FeatureNetLoss",
    "FocalOcclusionLoss",
    "GlobalSequenceLoss",
    "Integral2DLoss",
    "LiftingNetLoss",
    "LimbJointLoss",
    "LocalPoseLoss",
    "LossResult",
    "LossSpec",
    "LossStage",
    "MPJPELoss",
    "MSEPoseLoss",
    "PSIMSimilarityLoss",
    "RePOSELoss",
    "SpatialDepthLoss",
    "TemporalDepthLoss",
    "VelocityLoss",
    "WeightedMPJPELoss",
    "build_loss",
    "feature_net_loss",
    "focal_occlusion_loss",
    "get_loss",
    "get_loss_spec",
    "gla_gcn_stages",
    "global_sequence_loss",
    "integral_2d_loss",
    "lifting_by_image_stages",
    "lifting_net_loss",
    "limb_joint_loss",
    "list_losses",
    "local_pose_loss",
    "mpjpe_loss",
    "mse_pose_loss",
    "psim_similarity_loss",
    "register_loss",
    "repose_loss",
    "spatial_depth_loss",
    "stage_at",
    "temporal_depth_loss",
    "velocity_loss",
    "weighted_mpjpe_loss",
]
