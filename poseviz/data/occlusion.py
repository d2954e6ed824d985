"""Self-occlusion labels from 3D joints: the capsule ("cylinder") method of seed 000 §5.2.

The body is a set of capsules (a segment between two joints swept by a sphere of radius r):
one per bone, plus two flank capsules that fill the torso. A joint is **occluded** in a view
when the line of sight from the camera centre to the joint's front surface passes through a
capsule it does not belong to. That is the paper's rule "the joint's projection falls inside
the projection of a cylinder that is closer to the camera at that point", evaluated exactly
along the camera ray instead of on a rasterised silhouette (the two agree for any pinhole
camera; lens distortion only renames the pixel of a ray, so it changes nothing).

Rules (all in metres, camera frame, OpenCV axes: z forward):

- **Capsules** of ``h36m17`` and their default radii (`H36M17_CAPSULES`): torso — spine
  pelvis->spine and spine->thorax 0.12 (the latter ending 0.10 short of the thorax, so
  the trunk's top is level with the thorax), pelvis->hips 0.08, thorax->shoulders 0.06, flanks
  hip->shoulder on each side 0.05; head — thorax->neck/nose 0.05, neck/nose->head 0.10;
  arms — upper arm 0.05, forearm 0.04; legs — thigh 0.075, shank 0.055. Together the torso
  capsules span about 0.4 m across and 0.24 m front to back, the size of an adult trunk
  (the flanks stay thin so that an elbow hanging beside the waist stays visible).
  Other layouts get one capsule per bone with radius `DEFAULT_RADIUS` (override any radius
  by capsule name with ``radii=``).
- **Own volumes are excluded.** Capsules are grouped into rigid segments: the whole torso,
  the head with the neck, and each limb bone on its own. A joint is never occluded by a
  group that has a capsule ending at that joint. So the wrist ignores its forearm, the elbow
  both arm bones, and torso joints (pelvis, hips, spine, thorax, shoulders) ignore the whole
  torso: a joint centre inside the trunk would otherwise always count as hidden by it.
  Joint 9 (neck/nose) ends both head-group capsules, so the head never hides it (it is
  treated as the neck: seen from behind, its front surface is the back of the neck).
  **Adjacent bones do count**: the upper arm can hide the wrist of a flexed arm, the thigh
  the ankle of a deep squat, the near thigh the far hip in a side view.
- **Front surface.** Joint centres lie inside the flesh, so the line of sight ends at the
  joint's front surface: the point ``r_j`` closer to the camera along the ray, where ``r_j``
  is the smallest radius of the joint's own capsules (4 cm at the wrist, 5 cm at the
  shoulder). Without this an elbow hanging beside the flank would count as hidden in a
  frontal view.

Severity of a frame (seed 000 §5.1, indices into `poseviz.data.batch.SEVERITIES`):

- a body part (``skeleton.body_parts``: arms, legs, spine) is **covered** when a majority
  (more than half) of its joints are occluded: 2 of 3 for a limb, 3 of 4 for the spine (its
  origin joint is not counted). A majority, not half, because in any side view the near
  arm hides the spine and thorax joints while the head stays in sight;
- ``none``: no joint occluded; ``joint``: 1-4 occluded joints and no part covered;
  ``body_part``: one or two parts covered, or more than four occluded joints with none
  covered; ``half_body``: three or more parts covered. (The paper's half-body class also
  says "upper or lower body folded"; the part count is what is measured here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from poseviz.data.batch import SEVERITIES
from poseviz.geometry import world_to_camera
from poseviz.skeleton import Skeleton, get_skeleton
from poseviz.structures import Camera, PoseSequence

__all__ = [
    "DEFAULT_RADIUS",
    "H36M17_CAPSULES",
    "Capsule",
    "body_capsules",
    "capsule_segments",
    "covered_parts",
    "label_sequence",
    "occlusion_labels",
    "occlusion_severity",
    "part_names",
    "severity_names",
]

DEFAULT_RADIUS = 0.05
"""Capsule radius (m) for the bones of layouts other than ``h36m17``."""

JOINT_OCCLUSION_MAX = 4
"""At most this many occluded joints (and no covered part) is the ``joint`` severity."""

HALF_BODY_MIN_PARTS = 3
"""At least this many covered parts is the ``half_body`` severity."""


@dataclass(frozen=True)
class Capsule:
    """A segment between joints ``a`` and ``b`` swept by a sphere of ``radius`` metres.

    ``group`` names the rigid segment it belongs to (see the module docstring's exclusion
    rule); ``part`` the body region it is drawn as (``"torso"``, ``"head"``, or a key of
    ``skeleton.body_parts``). ``inset_b`` (metres) stops the segment that far short of joint
    ``b`` (never past ``a``), so the rounded end does not overshoot ``b`` by the full radius;
    `capsule_segments` applies it.
    """

    name: str
    a: int
    b: int
    radius: float
    group: str
    part: str
    inset_b: float = 0.0


# (name, a, b, radius m, group, part[, inset_b m]); joint indices in h36m17 order. The upper
# spine stops 0.10 m short of the thorax so the trunk ends level with it instead of bulging
# 0.12 m up around the neck.
H36M17_CAPSULES: tuple[Capsule, ...] = tuple(
    Capsule(*row)
    for row in (
        ("lower_spine", 0, 7, 0.12, "torso", "torso"),
        ("upper_spine", 7, 8, 0.12, "torso", "torso", 0.10),
        ("r_pelvis", 0, 1, 0.08, "torso", "torso"),
        ("l_pelvis", 0, 4, 0.08, "torso", "torso"),
        ("l_clavicle", 8, 11, 0.06, "torso", "torso"),
        ("r_clavicle", 8, 14, 0.06, "torso", "torso"),
        ("l_flank", 4, 11, 0.05, "torso", "torso"),
        ("r_flank", 1, 14, 0.05, "torso", "torso"),
        ("neck", 8, 9, 0.05, "head", "head"),
        ("head", 9, 10, 0.10, "head", "head"),
        ("l_upper_arm", 11, 12, 0.05, "l_upper_arm", "left_arm"),
        ("l_forearm", 12, 13, 0.04, "l_forearm", "left_arm"),
        ("r_upper_arm", 14, 15, 0.05, "r_upper_arm", "right_arm"),
        ("r_forearm", 15, 16, 0.04, "r_forearm", "right_arm"),
        ("l_thigh", 4, 5, 0.075, "l_thigh", "left_leg"),
        ("l_shank", 5, 6, 0.055, "l_shank", "left_leg"),
        ("r_thigh", 1, 2, 0.075, "r_thigh", "right_leg"),
        ("r_shank", 2, 3, 0.055, "r_shank", "right_leg"),
    )
)


def _as_skeleton(skeleton: str | Skeleton) -> Skeleton:
    return skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)


def body_capsules(
    skeleton: str | Skeleton = "h36m17", radii: Mapping[str, float] | None = None
) -> tuple[Capsule, ...]:
    """The capsule body of a layout.

    Args:
        skeleton: layout name or `Skeleton`. ``h36m17`` uses `H36M17_CAPSULES`; any other
            layout gets one capsule per bone named ``"<parent>-<child>"`` (joint names),
            radius `DEFAULT_RADIUS`, each bone its own group.
        radii: capsule name -> radius in metres, replacing the defaults for those capsules.

    Returns:
        The capsules, in a fixed order.
    """
    skel = _as_skeleton(skeleton)
    if skel.name == "h36m17":
        capsules = H36M17_CAPSULES
    else:
        part_of = {j: name for name, bp in skel.body_parts.items() for j in bp.joints}
        capsules = tuple(
            Capsule(
                f"{skel.names[p]}-{skel.names[c]}",
                p,
                c,
                DEFAULT_RADIUS,
                f"{skel.names[p]}-{skel.names[c]}",
                part_of.get(c, "torso"),
            )
            for p, c in skel.bones
        )
    if radii:
        known = {c.name for c in capsules}
        unknown = sorted(set(radii) - known)
        if unknown:
            raise ValueError(
                f"radii: unknown capsule names {unknown} for skeleton {skel.name!r}; "
                f"known: {sorted(known)}"
            )
        bad = {k: v for k, v in radii.items() if not (np.isfinite(v) and v > 0)}
        if bad:
            raise ValueError(f"radii: expected positive radii in metres, got {bad}")
        capsules = tuple(
            Capsule(
                c.name, c.a, c.b, float(radii.get(c.name, c.radius)), c.group, c.part, c.inset_b
            )  # fmt: skip
            for c in capsules
        )
    return capsules


def capsule_segments(
    joints: np.ndarray, capsules: tuple[Capsule, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """End points of the capsules' core segments for given joints.

    Args:
        joints: ``(..., J, 3)`` joint positions, metres (any frame).
        capsules: from `body_capsules`.

    Returns:
        ``(a, b)``, each ``(..., K, 3)``: ``a`` is joint ``capsule.a``; ``b`` is joint
        ``capsule.b`` moved ``capsule.inset_b`` metres toward ``a`` (at most all the way).
    """
    x = np.asarray(joints, dtype=np.float64)
    a = x[..., [c.a for c in capsules], :]
    b = x[..., [c.b for c in capsules], :]
    inset = np.array([c.inset_b for c in capsules])
    if inset.any():
        ab = a - b
        length = np.linalg.norm(ab, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(length > 0, np.minimum(inset[:, None] / length, 1.0), 0.0)
        b = b + ab * step
    return a, b


@dataclass(frozen=True)
class _Plan:
    """Precomputed (joint, capsule) pairs to test and per-joint front-surface offsets."""

    pair_joint: np.ndarray  # (P,) joint index, sorted
    pair_capsule: np.ndarray  # (P,) capsule index
    radius: np.ndarray  # (K,) metres
    front_offset: np.ndarray  # (J,) metres
    own: np.ndarray  # (J, K) bool: capsule k is in joint j's own groups


@lru_cache(maxsize=16)
def _plan(capsules: tuple[Capsule, ...], num_joints: int) -> _Plan:
    K = len(capsules)
    for c in capsules:
        if not (0 <= c.a < num_joints and 0 <= c.b < num_joints):
            raise ValueError(
                f"capsule {c.name!r}: joints {c.a}, {c.b} out of range 0..{num_joints - 1}"
            )
    own = np.zeros((num_joints, K), dtype=bool)
    front = np.zeros(num_joints)
    for j in range(num_joints):
        groups = {c.group for c in capsules if j in (c.a, c.b)}
        own[j] = [c.group in groups for c in capsules]
        incident = [c.radius for c in capsules if j in (c.a, c.b)]
        front[j] = min(incident) if incident else 0.0
    jj, kk = np.nonzero(~own)
    return _Plan(
        pair_joint=jj,
        pair_capsule=kk,
        radius=np.array([c.radius for c in capsules]),
        front_offset=front,
        own=own,
    )


def _sight_distance_sq(q, a, b):
    """Squared distance between the line of sight from the origin (camera centre) to ``q``
    and the segment ``a``-``b``.

    Each of ``q``, ``a``, ``b`` is a triple of same-shape arrays ``(x, y, z)`` (components
    kept apart so every step is a contiguous elementwise op); returns an array of that
    shape. Closest points of two segments (Ericson, *Real-Time Collision Detection*,
    §5.1.9) with the first segment starting at the origin.
    """
    qx, qy, qz = q
    ax, ay, az = a
    dx, dy, dz = b[0] - ax, b[1] - ay, b[2] - az
    aa = qx * qx + qy * qy + qz * qz
    ee = dx * dx + dy * dy + dz * dz
    ff = -(dx * ax + dy * ay + dz * az)
    cc = -(qx * ax + qy * ay + qz * az)
    bb = qx * dx + qy * dy + qz * dz
    denom = aa * ee - bb * bb
    with np.errstate(divide="ignore", invalid="ignore"):
        s_point = np.clip(-cc / aa, 0.0, 1.0)  # closest point of the sight line to a
        s = np.where(denom > 1e-12 * aa * ee, np.clip((bb * ff - cc * ee) / denom, 0, 1), 0.0)
        t = np.where(ee > 0, (bb * s + ff) / np.where(ee > 0, ee, 1.0), 0.0)
        s = np.where(ee > 0, s, s_point)  # zero-length capsule: a sphere at a
        s = np.where(t < 0, s_point, np.where(t > 1, np.clip((bb - cc) / aa, 0, 1), s))
        t = np.clip(t, 0.0, 1.0)
    ex = qx * s - ax - dx * t
    ey = qy * s - ay - dy * t
    ez = qz * s - az - dz * t
    return ex * ex + ey * ey + ez * ez


def _check_joints(joints_cam: np.ndarray, skel: Skeleton, where: str) -> np.ndarray:
    x = np.asarray(joints_cam, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] != skel.num_joints or x.shape[2] != 3:
        raise ValueError(
            f"{where}: expected joints_cam of shape (T, {skel.num_joints}, 3) in the camera "
            f"frame (metres) for skeleton {skel.name!r}, got {x.shape}"
        )
    if np.isinf(x).any():
        raise ValueError(f"{where}: joints_cam contains inf")
    z = x[..., 2]
    if (z[np.isfinite(z)] <= 0).any():
        t, j = np.argwhere(z <= 0)[0]
        raise ValueError(
            f"{where}: joint {j} in frame {t} is at z={z[t, j]:.3g} m, not in front of the "
            "camera (camera frame, z forward)"
        )
    return x


def occlusion_labels(
    joints_cam: np.ndarray,
    camera: Camera | None,
    *,
    skeleton: str | Skeleton = "h36m17",
    radii: Mapping[str, float] | None = None,
    chunk: int = 256,
) -> np.ndarray:
    """Per-frame, per-joint self-occlusion in one view (capsule method, see module docstring).

    Args:
        joints_cam: ``(T, J, 3)`` joints in the camera frame, metres, OpenCV axes (z forward,
            every joint at z > 0). NaN joints (mocap gaps) are reported as not occluded and
            do not occlude others.
        camera: the view. The test runs along camera rays in the camera frame, so only the
            camera centre matters and intrinsics/distortion do not change the result; pass
            the `Camera` for the record (or None).
        skeleton: layout of ``joints_cam`` (name or `Skeleton`).
        radii: capsule name -> radius (m) overrides, see `body_capsules`.
        chunk: frames processed at once (256 keeps the temporaries in a 2 MB cache).

    Returns:
        ``(T, J)`` bool, True where the joint is occluded.
    """
    if camera is not None and not isinstance(camera, Camera):
        raise ValueError(f"occlusion_labels: camera must be a Camera, got {type(camera).__name__}")
    skel = _as_skeleton(skeleton)
    x = _check_joints(joints_cam, skel, "occlusion_labels")
    capsules = body_capsules(skel, radii)
    plan = _plan(capsules, skel.num_joints)
    T, J = x.shape[:2]
    out = np.zeros((T, J), dtype=bool)
    if T == 0 or plan.pair_joint.size == 0:
        return out
    # Joints sorted by pair; reduceat needs the start of each joint's run of pairs.
    joints_with_pairs, starts = np.unique(plan.pair_joint, return_index=True)
    r2 = plan.radius[plan.pair_capsule] ** 2
    for t0 in range(0, T, chunk):
        xt = x[t0 : t0 + chunk]
        seg_a, seg_b = (np.moveaxis(e, 2, 0) for e in capsule_segments(xt, capsules))
        xc = np.moveaxis(xt, 2, 0)  # (3, t, J): components apart
        dist = np.sqrt((xc * xc).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            front = xc * (1.0 - plan.front_offset / dist)
        q = front[:, :, plan.pair_joint]  # (3, t, P)
        a, b = seg_a[:, :, plan.pair_capsule], seg_b[:, :, plan.pair_capsule]
        hit = _sight_distance_sq(q, a, b) < r2  # NaN -> False
        out[t0 : t0 + chunk, joints_with_pairs] = np.logical_or.reduceat(hit, starts, axis=1)
    return out


def covered_parts(occluded: np.ndarray, *, skeleton: str | Skeleton = "h36m17") -> np.ndarray:
    """Which body parts are covered in each frame.

    A part (``skeleton.body_parts``; for ``h36m17``: left_arm, right_arm, left_leg,
    right_leg, spine) is covered when more than half of its ``n`` joints (``n // 2 + 1``)
    are occluded; its origin joint is not one of them.

    Args:
        occluded: ``(T, J)`` bool occlusion labels.
        skeleton: layout name or `Skeleton` (must define body parts).

    Returns:
        ``(T, P)`` bool, columns in the order of ``skeleton.body_parts`` (see `part_names`).
    """
    skel = _as_skeleton(skeleton)
    occ = _check_occluded(occluded, skel, "covered_parts")
    if not skel.body_parts:
        raise ValueError(f"covered_parts: skeleton {skel.name!r} defines no body parts")
    cols = []
    for part in skel.body_parts.values():
        need = len(part.joints) // 2 + 1
        cols.append(occ[:, list(part.joints)].sum(axis=1) >= need)
    return np.stack(cols, axis=1)


def part_names(skeleton: str | Skeleton = "h36m17") -> tuple[str, ...]:
    """Column names of `covered_parts` for a layout."""
    return tuple(_as_skeleton(skeleton).body_parts)


def _check_occluded(occluded: np.ndarray, skel: Skeleton, where: str) -> np.ndarray:
    occ = np.asarray(occluded)
    if occ.ndim != 2 or occ.shape[1] != skel.num_joints:
        raise ValueError(
            f"{where}: expected occluded of shape (T, {skel.num_joints}) for skeleton "
            f"{skel.name!r}, got {occ.shape}"
        )
    if occ.dtype != bool:
        if not np.isin(occ, (0, 1)).all():
            raise ValueError(f"{where}: expected a boolean (T, J) array, got values besides 0/1")
        occ = occ.astype(bool)
    return occ


def occlusion_severity(occluded: np.ndarray, *, skeleton: str | Skeleton = "h36m17") -> np.ndarray:
    """Occlusion severity of each frame (seed 000 §5.1; rules in the module docstring).

    Args:
        occluded: ``(T, J)`` bool occlusion labels of one view.
        skeleton: layout name or `Skeleton`, for its body parts.

    Returns:
        ``(T,)`` int64 index into `poseviz.data.batch.SEVERITIES`
        (0 none, 1 joint, 2 body_part, 3 half_body).
    """
    skel = _as_skeleton(skeleton)
    occ = _check_occluded(occluded, skel, "occlusion_severity")
    n_joints = occ.sum(axis=1)
    n_parts = covered_parts(occ, skeleton=skel).sum(axis=1)
    sev = np.full(occ.shape[0], SEVERITIES.index("body_part"), dtype=np.int64)
    sev[n_joints == 0] = SEVERITIES.index("none")
    sev[(n_joints >= 1) & (n_joints <= JOINT_OCCLUSION_MAX) & (n_parts == 0)] = SEVERITIES.index(
        "joint"
    )
    sev[n_parts >= HALF_BODY_MIN_PARTS] = SEVERITIES.index("half_body")
    return sev


def severity_names(severity: np.ndarray) -> np.ndarray:
    """``(T,)`` severity indices -> ``(T,)`` names from `SEVERITIES`."""
    return np.asarray(SEVERITIES, dtype=object)[np.asarray(severity, dtype=np.int64)]


def label_sequence(
    sequence: PoseSequence,
    *,
    radii: Mapping[str, float] | None = None,
    cameras: list[str] | None = None,
) -> dict[str, np.ndarray]:
    """Occlusion labels of a sequence in each of its cameras.

    Args:
        sequence: a `PoseSequence` with world ``joints_3d`` ``(T, J, 3)`` (metres) and
            `Camera` objects.
        radii: capsule radius overrides (see `body_capsules`).
        cameras: camera ids to label (default: all of ``sequence.cameras``).

    Returns:
        camera id -> ``(T, J)`` bool, ready for ``sequence.occluded``.
    """
    if sequence.joints_3d is None:
        raise ValueError(f"label_sequence: sequence {sequence.name!r} has no joints_3d")
    ids = list(sequence.cameras) if cameras is None else cameras
    out = {}
    for cam_id in ids:
        if cam_id not in sequence.cameras:
            raise ValueError(
                f"label_sequence: sequence {sequence.name!r} has no camera {cam_id!r}; "
                f"cameras: {sorted(sequence.cameras)}"
            )
        cam = sequence.cameras[cam_id]
        joints_cam = world_to_camera(sequence.joints_3d, cam)
        out[cam_id] = occlusion_labels(joints_cam, cam, skeleton=sequence.skeleton, radii=radii)
    return out
