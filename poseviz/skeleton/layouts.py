"""Named joint layouts and their conversions to the canonical ``h36m17`` layout.

Every conversion here is linear: each h36m17 joint is the mean of one or more source joints,
so a converter is a ``(17, J_src)`` weight matrix. Derived joints (documented per layout in
``CONVERSIONS``) take the minimum confidence of the joints they are built from. Plug-in-Gait
markers need non-linear joint-centre estimates and live in `poseviz.skeleton.plugin_gait`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import overload

import numpy as np
import torch

from poseviz.skeleton.core import BodyPart, Skeleton

__all__ = [
    "CANONICAL",
    "CONVERSIONS",
    "Converter",
    "convert",
    "get_converter",
    "get_skeleton",
    "list_skeletons",
    "register_skeleton",
]

CANONICAL = "h36m17"

_REGISTRY: dict[str, Skeleton] = {}


def register_skeleton(skeleton: Skeleton) -> Skeleton:
    """Add a layout to the registry (names are unique)."""
    if skeleton.name in _REGISTRY:
        raise ValueError(f"skeleton {skeleton.name!r} is already registered")
    _REGISTRY[skeleton.name] = skeleton
    return skeleton


def get_skeleton(name: str) -> Skeleton:
    """The registered layout called ``name`` (``"h36m17"``, ``"coco17"``, ...)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown skeleton layout {name!r}; known layouts: {list_skeletons()}"
        ) from None


def list_skeletons() -> list[str]:
    return sorted(_REGISTRY)


def _skeleton(name: str, joints: list[tuple[str, str | None]], body_parts=None) -> Skeleton:
    """Build a skeleton from ``(joint, parent name)`` pairs; left/right pairs are found from
    the ``l_``/``r_`` (or ``left_``/``right_``, ``L``/``R`` prefixed) names."""
    names = tuple(j for j, _ in joints)
    parents = tuple(-1 if p is None else names.index(p) for _, p in joints)
    left, right = [], []
    for i, n in enumerate(names):
        for lp, rp in (("l_", "r_"), ("left_", "right_")):
            if n.startswith(lp) and rp + n[len(lp) :] in names:
                left.append(i)
                right.append(names.index(rp + n[len(lp) :]))
    return register_skeleton(
        Skeleton(
            name,
            names,
            parents,
            tuple(left),
            tuple(right),
            MappingProxyType(dict(body_parts or {})),
        )
    )


# --- h36m17: the canonical layout (Human3.6M 17-joint order used by VideoPose3D) ----------
H36M17 = _skeleton(
    "h36m17",
    [
        ("pelvis", None),
        ("r_hip", "pelvis"),
        ("r_knee", "r_hip"),
        ("r_ankle", "r_knee"),
        ("l_hip", "pelvis"),
        ("l_knee", "l_hip"),
        ("l_ankle", "l_knee"),
        ("spine", "pelvis"),
        ("thorax", "spine"),
        ("neck_nose", "thorax"),
        ("head", "neck_nose"),
        ("l_shoulder", "thorax"),
        ("l_elbow", "l_shoulder"),
        ("l_wrist", "l_elbow"),
        ("r_shoulder", "thorax"),
        ("r_elbow", "r_shoulder"),
        ("r_wrist", "r_elbow"),
    ],
    body_parts={
        "left_arm": BodyPart(8, (11, 12, 13)),
        "right_arm": BodyPart(8, (14, 15, 16)),
        "left_leg": BodyPart(0, (4, 5, 6)),
        "right_leg": BodyPart(0, (1, 2, 3)),
        "spine": BodyPart(0, (7, 8, 9, 10)),
    },
)

# --- COCO-17 (keypoint order of the COCO dataset); the tree is for drawing only ------------
COCO17 = _skeleton(
    "coco17",
    [
        ("nose", None),
        ("l_eye", "nose"),
        ("r_eye", "nose"),
        ("l_ear", "l_eye"),
        ("r_ear", "r_eye"),
        ("l_shoulder", "nose"),
        ("r_shoulder", "nose"),
        ("l_elbow", "l_shoulder"),
        ("r_elbow", "r_shoulder"),
        ("l_wrist", "l_elbow"),
        ("r_wrist", "r_elbow"),
        ("l_hip", "l_shoulder"),
        ("r_hip", "r_shoulder"),
        ("l_knee", "l_hip"),
        ("r_knee", "r_hip"),
        ("l_ankle", "l_knee"),
        ("r_ankle", "r_knee"),
    ],
)

# --- MediaPipe BlazePose 33 landmarks ------------------------------------------------------
BLAZEPOSE33 = _skeleton(
    "blazepose33",
    [
        ("nose", None),
        ("left_eye_inner", "nose"),
        ("left_eye", "left_eye_inner"),
        ("left_eye_outer", "left_eye"),
        ("right_eye_inner", "nose"),
        ("right_eye", "right_eye_inner"),
        ("right_eye_outer", "right_eye"),
        ("left_ear", "left_eye_outer"),
        ("right_ear", "right_eye_outer"),
        ("left_mouth", "nose"),
        ("right_mouth", "nose"),
        ("left_shoulder", "nose"),
        ("right_shoulder", "nose"),
        ("left_elbow", "left_shoulder"),
        ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"),
        ("right_wrist", "right_elbow"),
        ("left_pinky", "left_wrist"),
        ("right_pinky", "right_wrist"),
        ("left_index", "left_wrist"),
        ("right_index", "right_wrist"),
        ("left_thumb", "left_wrist"),
        ("right_thumb", "right_wrist"),
        ("left_hip", "left_shoulder"),
        ("right_hip", "right_shoulder"),
        ("left_knee", "left_hip"),
        ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"),
        ("right_ankle", "right_knee"),
        ("left_heel", "left_ankle"),
        ("right_heel", "right_ankle"),
        ("left_foot_index", "left_ankle"),
        ("right_foot_index", "right_ankle"),
    ],
)

# --- MPI-INF-3DHP 17-joint test-set order (pelvis = joint 14) ------------------------------
MPI_INF_3DHP17 = _skeleton(
    "mpi_inf_3dhp17",
    [
        ("head_top", "head"),
        ("neck", "spine"),
        ("r_shoulder", "neck"),
        ("r_elbow", "r_shoulder"),
        ("r_wrist", "r_elbow"),
        ("l_shoulder", "neck"),
        ("l_elbow", "l_shoulder"),
        ("l_wrist", "l_elbow"),
        ("r_hip", "pelvis"),
        ("r_knee", "r_hip"),
        ("r_ankle", "r_knee"),
        ("l_hip", "pelvis"),
        ("l_knee", "l_hip"),
        ("l_ankle", "l_knee"),
        ("pelvis", None),
        ("spine", "pelvis"),
        ("head", "neck"),
    ],
)

# --- OpenPose BODY_25 (also what Pose2Sim writes) -------------------------------------------
OPENPOSE_BODY25 = _skeleton(
    "openpose_body25",
    [
        ("nose", "neck"),
        ("neck", "mid_hip"),
        ("r_shoulder", "neck"),
        ("r_elbow", "r_shoulder"),
        ("r_wrist", "r_elbow"),
        ("l_shoulder", "neck"),
        ("l_elbow", "l_shoulder"),
        ("l_wrist", "l_elbow"),
        ("mid_hip", None),
        ("r_hip", "mid_hip"),
        ("r_knee", "r_hip"),
        ("r_ankle", "r_knee"),
        ("l_hip", "mid_hip"),
        ("l_knee", "l_hip"),
        ("l_ankle", "l_knee"),
        ("r_eye", "nose"),
        ("l_eye", "nose"),
        ("r_ear", "r_eye"),
        ("l_ear", "l_eye"),
        ("l_big_toe", "l_ankle"),
        ("l_small_toe", "l_ankle"),
        ("l_heel", "l_ankle"),
        ("r_big_toe", "r_ankle"),
        ("r_small_toe", "r_ankle"),
        ("r_heel", "r_ankle"),
    ],
)

# --- DeepMimic humanoid3d (pybullet's humanoid.urdf): link origins plus two head points -----
# The reader (poseviz.data.deepmimic) computes each link origin by forward kinematics;
# ``head_top`` is the top of the head sphere on the neck link and ``nose`` the sphere's front
# at the height of its centre, both placed with the neck link's orientation.
DEEPMIMIC = _skeleton(
    "deepmimic",
    [
        ("root", None),
        ("chest", "root"),
        ("neck", "chest"),
        ("right_hip", "root"),
        ("right_knee", "right_hip"),
        ("right_ankle", "right_knee"),
        ("right_shoulder", "chest"),
        ("right_elbow", "right_shoulder"),
        ("right_wrist", "right_elbow"),
        ("left_hip", "root"),
        ("left_knee", "left_hip"),
        ("left_ankle", "left_knee"),
        ("left_shoulder", "chest"),
        ("left_elbow", "left_shoulder"),
        ("left_wrist", "left_elbow"),
        ("head_top", "neck"),
        ("nose", "neck"),
    ],
)


# --- conversions to h36m17 -------------------------------------------------------------------
# For each layout: h36m17 joint -> source joints whose mean it is. A single name is a direct
# correspondence; several names define a derived joint (documented in the comment).
def _same(*names: str) -> dict[str, tuple[str, ...]]:
    return {n: (n,) for n in names}


def _spelled_out(*names: str) -> dict[str, tuple[str, ...]]:
    """Direct correspondences for layouts that spell sides out: ``r_hip`` -> ``right_hip``."""
    return {n: ({"r": "right", "l": "left"}[n[0]] + n[1:],) for n in names}


_LIMBS = (
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
)

CONVERSIONS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "h36m17": _same(*H36M17.names),
        # COCO has no pelvis, spine, thorax or head top. Following MotionBERT's coco2h36m:
        # pelvis = hip midpoint, thorax = shoulder midpoint, spine = pelvis-thorax midpoint
        # (= mean of both hips and both shoulders), neck_nose = nose, head = eye midpoint.
        "coco17": {
            **_same(*_LIMBS),
            "pelvis": ("l_hip", "r_hip"),
            "spine": ("l_hip", "r_hip", "l_shoulder", "r_shoulder"),
            "thorax": ("l_shoulder", "r_shoulder"),
            "neck_nose": ("nose",),
            "head": ("l_eye", "r_eye"),
        },
        # BlazePose: as COCO (same derived joints), with its left_/right_ names.
        "blazepose33": {
            **_spelled_out(*_LIMBS),
            "pelvis": ("left_hip", "right_hip"),
            "spine": ("left_hip", "right_hip", "left_shoulder", "right_shoulder"),
            "thorax": ("left_shoulder", "right_shoulder"),
            "neck_nose": ("nose",),
            "head": ("left_eye", "right_eye"),
        },
        # 3DHP's 17 joints correspond one to one: its neck is H36M's thorax, its head is H36M's
        # neck/nose joint and its head top is H36M's head (the correspondence used by the 3DHP
        # evaluations of VideoPose3D-family code).
        "mpi_inf_3dhp17": {
            **_same(*_LIMBS, "pelvis", "spine"),
            "thorax": ("neck",),
            "neck_nose": ("head",),
            "head": ("head_top",),
        },
        # OpenPose: pelvis = MidHip, thorax = Neck (OpenPose places it between the shoulders),
        # spine = MidHip-Neck midpoint, neck_nose = nose, head = eye midpoint.
        "openpose_body25": {
            **_same(*_LIMBS),
            "pelvis": ("mid_hip",),
            "spine": ("mid_hip", "neck"),
            "thorax": ("neck",),
            "neck_nose": ("nose",),
            "head": ("l_eye", "r_eye"),
        },
        # DeepMimic: pelvis = root, spine = chest joint, thorax = neck joint (base of the neck),
        # neck_nose = nose (front of the head sphere), head = head top.
        "deepmimic": {
            **_spelled_out(*_LIMBS),
            "pelvis": ("root",),
            "spine": ("chest",),
            "thorax": ("neck",),
            "neck_nose": ("nose",),
            "head": ("head_top",),
        },
    }
)


@dataclass(frozen=True)
class Converter:
    """Linear map from a source layout to h36m17: ``out[j] = sum_k W[j, k] * src[k]``."""

    source: str
    weights: np.ndarray  # (17, J_src), rows sum to 1
    sources: tuple[tuple[int, ...], ...]  # source joints of each target joint

    @overload
    def __call__(self, points: np.ndarray, confidence: None = None) -> np.ndarray: ...
    @overload
    def __call__(self, points: torch.Tensor, confidence: None = None) -> torch.Tensor: ...
    @overload
    def __call__(
        self, points: np.ndarray, confidence: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def __call__(self, points, confidence=None):
        """Convert ``(..., J_src, C)`` points (any unit) and optional ``(..., J_src)``
        confidence. Returns ``(..., 17, C)`` of the same type, plus ``(..., 17)`` confidence
        (the minimum over each target joint's sources) when it was given."""
        J = self.weights.shape[1]
        if points.ndim < 2 or points.shape[-2] != J:
            raise ValueError(
                f"convert from {self.source!r}: expected points of shape (..., {J}, C), got {tuple(points.shape)}"
            )
        if isinstance(points, torch.Tensor):
            # a copy (torch.tensor, not as_tensor): the weight matrix is a read-only array
            W = torch.tensor(self.weights, dtype=points.dtype, device=points.device)
            out = torch.einsum("jk,...kc->...jc", W, points)
        else:
            out = np.einsum("jk,...kc->...jc", self.weights, np.asarray(points, dtype=np.float64))
        if confidence is None:
            return out
        if confidence.shape != points.shape[:-1]:
            raise ValueError(
                f"convert from {self.source!r}: confidence shape {tuple(confidence.shape)} "
                f"does not match points {tuple(points.shape[:-1])}"
            )
        if isinstance(confidence, torch.Tensor):
            conf = torch.stack([confidence[..., list(s)].amin(-1) for s in self.sources], -1)
        else:
            conf = np.stack([np.min(confidence[..., list(s)], axis=-1) for s in self.sources], -1)
        return out, conf


_CONVERTERS: dict[str, Converter] = {}


def get_converter(source: str) -> Converter:
    """The converter from layout ``source`` to h36m17."""
    if source not in _CONVERTERS:
        src = get_skeleton(source)
        if source not in CONVERSIONS:
            raise ValueError(
                f"no linear conversion from {source!r} to h36m17; known: {sorted(CONVERSIONS)}"
            )
        recipe = CONVERSIONS[source]
        W = np.zeros((H36M17.num_joints, src.num_joints))
        sources = []
        for j, target in enumerate(H36M17.names):
            idx = tuple(src.index(n) for n in recipe[target])
            W[j, list(idx)] = 1.0 / len(idx)
            sources.append(idx)
        W.setflags(write=False)
        _CONVERTERS[source] = Converter(source, W, tuple(sources))
    return _CONVERTERS[source]


def convert(points, source: str, confidence=None):
    """Convert ``(..., J_src, C)`` points in layout ``source`` to ``(..., 17, C)`` h36m17.

    Works on numpy arrays and torch tensors (same type out) for 2D pixels or 3D metres.
    With ``confidence`` ``(..., J_src)`` it returns ``(points, confidence)``.
    """
    return get_converter(source)(points, confidence)
