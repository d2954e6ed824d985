"""Pure metric functions: torch in -> torch out (on the input's device, differentiable
where stated), numpy in -> numpy out. Poses are ``(..., J, 3)`` in metres; position errors
come back in millimetres. The accumulating classes in `poseviz.metrics` call the same code.
"""

from poseviz.metrics.functional.attention import BackgroundAttention, background_attention_ratio
from poseviz.metrics.functional.depth_order import DEPTH_MODES, depth_order_accuracy
from poseviz.metrics.functional.pck import (
    MPI_INF_3DHP_JOINT_GROUPS,
    MPI_INF_3DHP_PCK_JOINTS,
    MPI_INF_3DHP_SCENES,
    PCK_THRESHOLD,
    PCK_THRESHOLDS,
    auc,
    pck,
    pck_curve,
)
from poseviz.metrics.functional.position import (
    ALIGNMENTS,
    acceleration_error,
    joint_errors,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    per_joint_error,
)
from poseviz.metrics.functional.psim import (
    DEFAULT_WEIGHTS,
    DEFAULT_WINDOW,
    PSIMPlusResult,
    psim_plus,
)
from poseviz.metrics.functional.structure import bone_lengths, bsle, lse

__all__ = [
    "ALIGNMENTS",
    "DEFAULT_WEIGHTS",
    "DEFAULT_WINDOW",
    "DEPTH_MODES",
    "MPI_INF_3DHP_JOINT_GROUPS",
    "MPI_INF_3DHP_PCK_JOINTS",
    "MPI_INF_3DHP_SCENES",
    "PCK_THRESHOLD",
    "PCK_THRESHOLDS",
    "BackgroundAttention",
    "PSIMPlusResult",
    "acceleration_error",
    "auc",
    "background_attention_ratio",
    "bone_lengths",
    "bsle",
    "depth_order_accuracy",
    "joint_errors",
    "lse",
    "mpjpe",
    "mpjve",
    "n_mpjpe",
    "p_mpjpe",
    "pck",
    "pck_curve",
    "per_joint_error",
    "psim_plus",
]
