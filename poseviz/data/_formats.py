"""Helpers shared by the file readers: error messages, units, name-based joint maps,
gap handling and skeleton registration for raw layouts.

Every reader reports a malformed file with `FormatError` (a `ValueError`) whose message
names the file, the key or field, what was expected and what was found.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.skeleton import Skeleton, get_skeleton, list_skeletons, register_skeleton

__all__ = [
    "NAMED_KEYPOINTS_RECIPE",
    "FormatError",
    "Recipe",
    "apply_recipe",
    "as_str",
    "ensure_skeleton",
    "fill_gaps",
    "fit_intrinsics",
    "looks_named",
    "markers_to_layout",
    "named_points_to_h36m17",
    "resolve_recipe",
    "unit_scale",
]


class FormatError(ValueError):
    """A file does not hold what its format promises."""

    def __init__(self, path: str | Path, field: str, expected: str, got: str | None = None):
        msg = f"{path}: {field}: expected {expected}"
        if got is not None:
            msg += f", got {got}"
        super().__init__(msg)
        self.path, self.field = str(path), field


# Length units -> metres. "inch" is the international inch (25.4 mm).
UNITS: Mapping[str, float] = {
    "m": 1.0,
    "metre": 1.0,
    "meter": 1.0,
    "meters": 1.0,
    "metres": 1.0,
    "dm": 0.1,
    "cm": 0.01,
    "mm": 0.001,
    "in": 0.0254,
    "inch": 0.0254,
    "inches": 0.0254,
    "ft": 0.3048,
}


def unit_scale(unit: str, path: str | Path = "", field: str = "unit") -> float:
    """Factor that converts ``unit`` (``"mm"``, ``"cm"``, ``"m"``, ``"inch"``...) to metres."""
    key = str(unit).strip().lower()
    if key not in UNITS:
        raise FormatError(path, field, f"a length unit among {sorted(set(UNITS))}", repr(unit))
    return UNITS[key]


# A recipe says how each target joint is built from named source points: target name ->
# alternatives, tried in order; an alternative is a tuple of source names whose mean is the
# target. Alternatives let one recipe serve files that name their markers differently.
Recipe = Mapping[str, Sequence[Sequence[str]]]


def resolve_recipe(
    recipe: Recipe, available: Sequence[str], *, path: str | Path = "", what: str = "joints"
) -> dict[str, tuple[str, ...]]:
    """Pick, for every target, the first alternative whose sources all exist in ``available``.

    Raises `FormatError` naming the target and the sources that were looked for.
    """
    names = set(available)
    chosen: dict[str, tuple[str, ...]] = {}
    for target, alternatives in recipe.items():
        for alt in alternatives:
            if all(n in names for n in alt):
                chosen[target] = tuple(alt)
                break
        else:
            wanted = " or ".join("+".join(a) for a in alternatives)
            raise FormatError(
                path, what, f"the {what} needed for {target!r} ({wanted})", "none of them"
            )
    return chosen


def apply_recipe(
    points: Mapping[str, np.ndarray], chosen: Mapping[str, Sequence[str]], targets: Sequence[str]
) -> np.ndarray:
    """Stack ``(T, C)`` source arrays into ``(T, len(targets), C)``: each target is the mean
    of its chosen sources (NaN propagates: a gap in any source is a gap in the target)."""
    return np.stack([np.mean([points[n] for n in chosen[t]], axis=0) for t in targets], axis=1)


def fill_gaps(
    values: np.ndarray, names: Sequence[str], max_gap: int | None, path: str | Path = ""
) -> np.ndarray:
    """Linearly interpolate NaN runs of at most ``max_gap`` frames in ``(T, J, C)`` data.

    ``max_gap=None`` keeps every gap as NaN. A longer run, or a gap at the start or end of
    the recording (nothing to interpolate from), raises `FormatError` naming the joint or
    marker and the frames.
    """
    if max_gap is None:
        return values
    out = np.array(values, dtype=np.float64, copy=True)
    T = out.shape[0]
    for j, name in enumerate(names):
        bad = ~np.isfinite(out[:, j]).all(axis=-1)
        if not bad.any():
            continue
        if bad.all():
            raise FormatError(path, f"{name!r}", "at least one valid frame", "no valid frame")
        edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for a, b in zip(starts, stops, strict=True):
            if b - a > max_gap or a == 0 or b == T:
                where = "at the start" if a == 0 else "at the end" if b == T else ""
                raise FormatError(
                    path,
                    f"{name!r}",
                    f"gaps (NaN runs) of at most max_gap={max_gap} frames inside the recording",
                    f"a gap of {b - a} frames (frames {a}-{b - 1}) {where}".rstrip(),
                )
        good = np.flatnonzero(~bad)
        for c in range(out.shape[-1]):
            out[bad, j, c] = np.interp(np.flatnonzero(bad), good, out[good, j, c])
    return out


def ensure_skeleton(
    prefix: str, names: Sequence[str], parents: Sequence[int], left_right: bool = True
) -> str:
    """Register (once) a layout for a file's own joints and return its name.

    The name is ``prefix`` followed by a short digest of the joint names and parents, so two
    files with the same joints share one layout and different rigs never collide.
    """
    if prefix in list_skeletons():
        sk = get_skeleton(prefix)
        if sk.names == tuple(names) and sk.parents == tuple(parents):
            return prefix
    digest = hashlib.sha1(repr((tuple(names), tuple(parents))).encode()).hexdigest()[:8]
    name = f"{prefix}_{digest}"
    if name in list_skeletons():
        return name
    left, right = [], []
    if left_right:
        lowered = [n.lower() for n in names]
        for i, n in enumerate(lowered):
            for lp, rp in (("left", "right"), ("l_", "r_"), ("l", "r")):
                if n.startswith(lp) and rp + n[len(lp) :] in lowered:
                    k = lowered.index(rp + n[len(lp) :])
                    if i not in left and k not in right and i != k:
                        left.append(i)
                        right.append(k)
                    break
    register_skeleton(Skeleton(name, tuple(names), tuple(parents), tuple(left), tuple(right)))
    return name


def as_str(value: Any) -> str:
    """Decode bytes and numpy scalars/0-d arrays to ``str`` (pickles and .mat files mix them)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# Named keypoints as Pose2Sim (HALPE_26, COCO_133, BODY_25...) and OpenSim TRC files spell
# them -> h36m17. Matching ignores case. Derived joints: pelvis = hip midpoint when there is
# no Hip/CHip/MidHip point, thorax = Neck or the shoulder midpoint, spine = midpoint of
# pelvis and thorax, neck_nose = Nose, head = Head (HALPE's head point) or the eye midpoint.
NAMED_KEYPOINTS_RECIPE: Recipe = {
    "pelvis": (("hip",), ("chip",), ("midhip",), ("rhip", "lhip")),
    "r_hip": (("rhip",),),
    "r_knee": (("rknee",),),
    "r_ankle": (("rankle",),),
    "l_hip": (("lhip",),),
    "l_knee": (("lknee",),),
    "l_ankle": (("lankle",),),
    "spine": (("hip", "neck"), ("chip", "neck"), ("midhip", "neck"), ("rhip", "lhip", "rshoulder", "lshoulder")),
    "thorax": (("neck",), ("rshoulder", "lshoulder")),
    "neck_nose": (("nose",),),
    "head": (("head",), ("reye", "leye")),
    "l_shoulder": (("lshoulder",),),
    "l_elbow": (("lelbow",),),
    "l_wrist": (("lwrist",),),
    "r_shoulder": (("rshoulder",),),
    "r_elbow": (("relbow",),),
    "r_wrist": (("rwrist",),),
}  # fmt: skip


def named_points_to_h36m17(
    names: Sequence[str], points: np.ndarray, path: str | Path = "", what: str = "markers"
) -> np.ndarray:
    """Convert ``(T, M, C)`` named points (Pose2Sim / OpenPose style names, any case, an
    optional ``subject:`` prefix) to ``(T, 17, C)`` h36m17 with `NAMED_KEYPOINTS_RECIPE`."""
    from poseviz.skeleton.layouts import H36M17

    keys = [n.rsplit(":", 1)[-1].strip().lower().replace("_", "") for n in names]
    chosen = resolve_recipe(NAMED_KEYPOINTS_RECIPE, keys, path=path, what=what)
    by_name = {k: points[:, i] for i, k in enumerate(keys)}
    return apply_recipe(by_name, chosen, H36M17.names)


def looks_named(names: Sequence[str]) -> bool:
    """True when `named_points_to_h36m17` can convert points with these names."""
    keys = [n.rsplit(":", 1)[-1].strip().lower().replace("_", "") for n in names]
    try:
        resolve_recipe(NAMED_KEYPOINTS_RECIPE, keys)
    except FormatError:
        return False
    return True


def markers_to_layout(
    names: Sequence[str],
    points: np.ndarray,
    *,
    path: str | Path = "",
    raw: bool = False,
    plugin_gait: Any = None,
) -> tuple[np.ndarray, str]:
    """Turn ``(T, M, 3)`` named 3D markers (metres) into joints and their layout name.

    Plug-in-Gait marker sets go through `poseviz.skeleton.plugin_gait`; Pose2Sim / OpenPose
    named keypoints through `named_points_to_h36m17`. ``raw=True`` keeps the markers as they
    are (a layout named ``markers_<digest>``, every marker hanging from the first one: the
    tree is for drawing only). Anything else raises `FormatError` naming what was found.
    """
    from poseviz.skeleton.plugin_gait import is_plugin_gait, plugin_gait_to_h36m17

    if raw:
        return points, ensure_skeleton("markers", list(names), [-1] + [0] * (len(names) - 1))
    if is_plugin_gait(list(names)):
        markers = {n: points[:, i] for i, n in enumerate(names)}
        return plugin_gait_to_h36m17(markers, plugin_gait), "h36m17"
    if looks_named(names):
        return named_points_to_h36m17(names, points, path), "h36m17"
    raise FormatError(
        path,
        "marker labels",
        "a Plug-in-Gait marker set or Pose2Sim/OpenPose keypoint names to build h36m17 "
        "joints (pass raw=True to keep the markers as they are)",
        f"{list(names)[:12]}{' ...' if len(names) > 12 else ''}",
    )


def fit_intrinsics(
    points_cam: np.ndarray, pixels: np.ndarray, path: str | Path = "", what: str = "camera"
) -> tuple[float, float, float, float]:
    """Least-squares pinhole intrinsics ``(fx, fy, cx, cy)`` from camera-frame points.

    Solves ``u = fx X/Z + cx`` and ``v = fy Y/Z + cy`` over all finite correspondences
    (``(..., 3)`` metres or any unit, ``(..., 2)`` pixels); used where a dataset publishes
    2D and camera-frame 3D annotations but not the intrinsics. Needs points in front of
    the camera spread over the image.
    """
    X = np.asarray(points_cam, dtype=np.float64).reshape(-1, 3)
    uv = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(X).all(1) & np.isfinite(uv).all(1) & (X[:, 2] > 1e-9)
    if ok.sum() < 3:
        raise FormatError(
            path,
            what,
            "at least 3 valid 2D/3D correspondences to fit intrinsics",
            f"{int(ok.sum())}",
        )
    X, uv = X[ok], uv[ok]
    out = []
    for axis in (0, 1):
        A = np.stack([X[:, axis] / X[:, 2], np.ones(len(X))], axis=1)
        (f, c), *_ = np.linalg.lstsq(A, uv[:, axis], rcond=None)
        out.append((f, c))
    (fx, cx), (fy, cy) = out
    if not (fx > 0 and fy > 0):
        raise FormatError(
            path,
            what,
            "2D/3D annotations that fit a camera with positive focal lengths",
            f"fx={fx:.4g}, fy={fy:.4g}",
        )
    return float(fx), float(fy), float(cx), float(cy)
