"""Plug-in-Gait markers -> h36m17 joint centres.

The Vicon Plug-in-Gait (PiG) full-body marker set puts markers on the skin over bony
landmarks (ASIS, PSIS, lateral knee and ankle, acromion, lateral elbow, wrist bar, head
band, C7, T10, clavicle, sternum). Joint centres lie inside the body, so each h36m17 joint is
estimated from the markers with a documented rule. All inputs and outputs are in metres;
gaps (NaN) in a marker propagate to the joints built from it.

Joint-centre estimates (``T`` frames, world frame of the recording):

- **Pelvis frame**: origin at the ASIS midpoint; ``z`` from LASI to RASI (right), ``x``
  anterior (from the PSIS midpoint, or SACR, towards the ASIS midpoint, made orthogonal
  to ``z``), ``y = z x x`` superior. Pelvic width ``PW = |RASI - LASI|``, pelvic depth
  ``PD = |ASIS mid - PSIS mid|``.
- **Hip joint centres** (``r_hip``, ``l_hip``): Harrington et al. (2007), "Prediction of
  the hip joint centre in adults, children, and patients with cerebral palsy based on
  magnetic resonance imaging", J. Biomech. 40(3):595-602, regression in the pelvis frame
  (mm): ``x = -0.24 PD - 9.9``, ``y = -0.30 PW - 10.9``, ``z = +-(0.33 PW + 7.3)`` (+ right).
- **pelvis**: midpoint of the two hip joint centres (Human3.6M's pelvis joint sits between
  the hips).
- **Knee and ankle centres**: PiG's chord rule. The joint centre ``J`` lies in the plane of
  the proximal joint centre ``P``, the wand marker (THI for the knee, TIB for the ankle) and
  the lateral marker ``M`` (KNE, ANK), at distance ``d = width / 2 + marker radius`` from
  ``M``, with ``P-J`` perpendicular to ``J-M``. Solving gives
  ``J = M - (d^2 / |M-P|) u + d sqrt(1 - d^2/|M-P|^2) w``, ``u`` the unit vector from ``P``
  to ``M`` and ``w`` the in-plane unit normal to ``u`` pointing medially (towards the
  pelvis midline). Knee and ankle widths are subject measurements that a C3D rarely
  carries; defaults are typical adult values (knee 100 mm, ankle 70 mm), marker diameter
  14 mm (PiG's standard marker). Pass the measured values when you have them.
- **Shoulder centres**: Rab, Petuskey & Bagley (2002), "A method for determination of upper
  extremity kinematics", Gait & Posture 15(2):113-119: 17% of the inter-acromion distance
  (``|LSHO - RSHO|``) below the shoulder marker along the thorax's long axis (from the T10 /
  STRN midpoint to the C7 / CLAV midpoint).
- **Wrist centres**: midpoint of the wrist-bar markers WRA and WRB (they straddle the wrist
  on the radial and ulnar styloids).
- **Elbow centres**: the elbow marker ELB sits on the lateral epicondyle; the flexion axis
  runs medially, perpendicular to the plane of the upper arm and forearm. ``EJC = ELB +
  (elbow width / 2 + marker radius) n`` with ``n`` the medial unit normal of the plane
  (shoulder centre, ELB, wrist centre). Where the arm is almost straight (the plane is
  ill-defined, angle between the segments under 10 degrees) ``n`` is interpolated in time
  from the frames around it. Default elbow width 70 mm.
- **thorax**: midpoint of C7 and CLAV (the base of the neck between the shoulders).
- **spine**: midpoint of the pelvis and thorax points (Human3.6M's spine joint sits about
  halfway up the trunk; T10 and STRN sit higher, at the lower ribs).
- **head**: centroid of LFHD, RFHD, LBHD, RBHD (Human3.6M's ``Head`` joint is the centre of
  the head; its head-top ``Site`` is not part of h36m17).
- **neck_nose**: midpoint of the thorax point and the head centroid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from poseviz.skeleton.layouts import H36M17

__all__ = [
    "PLUGIN_GAIT_MARKERS",
    "PluginGaitOptions",
    "is_plugin_gait",
    "plugin_gait_to_h36m17",
    "strip_prefix",
]

# Markers the estimates above use (PSIS may be replaced by SACR).
PLUGIN_GAIT_MARKERS: tuple[str, ...] = (
    "LASI", "RASI", "LPSI", "RPSI", "LTHI", "RTHI", "LKNE", "RKNE", "LTIB", "RTIB",
    "LANK", "RANK", "LSHO", "RSHO", "LELB", "RELB", "LWRA", "RWRA", "LWRB", "RWRB",
    "C7", "T10", "CLAV", "STRN", "LFHD", "RFHD", "LBHD", "RBHD",
)  # fmt: skip

_STRAIGHT_ARM_SIN = np.sin(np.deg2rad(10.0))


@dataclass(frozen=True)
class PluginGaitOptions:
    """Subject measurements (metres) for the joint-centre estimates; defaults are typical
    adult values, used when the C3D does not carry the subject's own."""

    knee_width: float = 0.100
    ankle_width: float = 0.070
    elbow_width: float = 0.070
    marker_diameter: float = 0.014

    def __post_init__(self) -> None:
        for name in ("knee_width", "ankle_width", "elbow_width", "marker_diameter"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 < value < 0.5):
                raise ValueError(
                    f"PluginGaitOptions.{name}: expected metres in (0, 0.5), got {value!r}"
                )


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / n


def strip_prefix(label: str) -> str:
    """``"Derrick:LASI"`` -> ``"LASI"`` (Vicon writes ``subject:marker``)."""
    return label.rsplit(":", 1)[-1].strip()


def is_plugin_gait(labels: list[str] | tuple[str, ...]) -> bool:
    """True when the labels (prefixes allowed) hold every marker the estimates need."""
    names = {strip_prefix(x).upper() for x in labels}
    if "SACR" in names:
        names |= {"LPSI", "RPSI"}
    return set(PLUGIN_GAIT_MARKERS) <= names


def _chord(
    proximal: np.ndarray, wand: np.ndarray, marker: np.ndarray, offset: float, medial: np.ndarray
) -> np.ndarray:
    """PiG chord rule, vectorised over frames (see the module docstring)."""
    v = marker - proximal
    dist = np.linalg.norm(v, axis=-1, keepdims=True)
    u = v / dist
    w = wand - marker
    w = w - np.sum(w * u, axis=-1, keepdims=True) * u  # in-plane normal to u
    w = _unit(w)
    w = np.where(np.sum(w * medial, axis=-1, keepdims=True) >= 0, w, -w)  # medial side
    ratio = np.clip(offset / dist, 0.0, 1.0)
    return marker - offset * ratio * u + offset * np.sqrt(1.0 - ratio**2) * w


def _interpolate_directions(n: np.ndarray, valid: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Fill directions of invalid frames by linear interpolation over time (then normalise)."""
    if valid.all():
        return n
    if not valid.any():
        return fallback
    out = n.copy()
    idx, good = np.flatnonzero(~valid), np.flatnonzero(valid)
    for c in range(3):
        out[idx, c] = np.interp(idx, good, n[good, c])
    return _unit(out)


def plugin_gait_to_h36m17(
    markers: Mapping[str, np.ndarray], options: PluginGaitOptions | None = None
) -> np.ndarray:
    """Estimate h36m17 joint centres from Plug-in-Gait markers.

    Args:
        markers: marker name (``"LASI"``; a ``"subject:"`` prefix is ignored) -> ``(T, 3)``
            positions in metres, NaN for gaps.
        options: subject measurements; typical adult values by default.

    Returns:
        ``(T, 17, 3)`` joint centres in metres in the markers' frame (h36m17 order).

    Raises:
        ValueError: a required marker is missing (the message lists which) or the arrays
            do not share one ``(T, 3)`` shape.
    """
    opt = options or PluginGaitOptions()
    m = {strip_prefix(k).upper(): np.asarray(v, dtype=np.float64) for k, v in markers.items()}
    if "LPSI" not in m and "RPSI" not in m and "SACR" in m:
        m["LPSI"] = m["RPSI"] = m["SACR"]
    missing = [name for name in PLUGIN_GAIT_MARKERS if name not in m]
    if missing:
        raise ValueError(f"plugin_gait_to_h36m17: missing Plug-in-Gait markers {missing}")
    shape = m["LASI"].shape
    for name in PLUGIN_GAIT_MARKERS:
        if m[name].ndim != 2 or m[name].shape != shape or shape[-1] != 3:
            raise ValueError(
                f"plugin_gait_to_h36m17: marker {name!r}: expected shape (T, 3) like LASI "
                f"{shape}, got {m[name].shape}"
            )
    radius = opt.marker_diameter / 2

    # Pelvis frame and Harrington hip joint centres (regression in millimetres).
    asis_mid = (m["LASI"] + m["RASI"]) / 2
    psis_mid = (m["LPSI"] + m["RPSI"]) / 2
    z = _unit(m["RASI"] - m["LASI"])
    y = _unit(np.cross(z, asis_mid - psis_mid))
    x = np.cross(y, z)
    pw = np.linalg.norm(m["RASI"] - m["LASI"], axis=-1, keepdims=True) * 1000
    pd = np.linalg.norm(asis_mid - psis_mid, axis=-1, keepdims=True) * 1000
    hx, hy, hz = -0.24 * pd - 9.9, -0.30 * pw - 10.9, 0.33 * pw + 7.3
    r_hip = asis_mid + (hx * x + hy * y + hz * z) / 1000
    l_hip = asis_mid + (hx * x + hy * y - hz * z) / 1000

    # Knees and ankles by the chord rule; medial = towards the other side of the pelvis.
    r_knee = _chord(r_hip, m["RTHI"], m["RKNE"], opt.knee_width / 2 + radius, -z)
    l_knee = _chord(l_hip, m["LTHI"], m["LKNE"], opt.knee_width / 2 + radius, z)
    r_ankle = _chord(r_knee, m["RTIB"], m["RANK"], opt.ankle_width / 2 + radius, -z)
    l_ankle = _chord(l_knee, m["LTIB"], m["LANK"], opt.ankle_width / 2 + radius, z)

    # Trunk and shoulders (Rab et al. 2002).
    thorax = (m["C7"] + m["CLAV"]) / 2
    up = _unit(thorax - (m["T10"] + m["STRN"]) / 2)
    acromion_span = np.linalg.norm(m["LSHO"] - m["RSHO"], axis=-1, keepdims=True)
    r_sho = m["RSHO"] - 0.17 * acromion_span * up
    l_sho = m["LSHO"] - 0.17 * acromion_span * up
    r_wri = (m["RWRA"] + m["RWRB"]) / 2
    l_wri = (m["LWRA"] + m["LWRB"]) / 2
    thorax_right = _unit(m["RSHO"] - m["LSHO"])

    def elbow(sho: np.ndarray, elb: np.ndarray, wri: np.ndarray, sign: float) -> np.ndarray:
        upper, fore = sho - elb, wri - elb
        normal = np.cross(upper, fore)
        sin = np.linalg.norm(normal, axis=-1) / (
            np.linalg.norm(upper, axis=-1) * np.linalg.norm(fore, axis=-1)
        )
        valid = np.isfinite(sin) & (sin > _STRAIGHT_ARM_SIN)
        # Right arm: (shoulder - elbow) x (wrist - elbow) points medially; left: laterally.
        n = sign * _unit(normal)
        n = _interpolate_directions(n, valid, -sign * thorax_right)
        n = _unit(n - np.sum(n * _unit(upper), axis=-1, keepdims=True) * _unit(upper))
        return elb + (opt.elbow_width / 2 + radius) * n

    r_elb = elbow(r_sho, m["RELB"], r_wri, 1.0)
    l_elb = elbow(l_sho, m["LELB"], l_wri, -1.0)

    # Head.
    fhd, bhd = (m["LFHD"] + m["RFHD"]) / 2, (m["LBHD"] + m["RBHD"]) / 2
    head_centre = (fhd + bhd) / 2
    neck_nose = (thorax + head_centre) / 2

    joints = {
        "pelvis": (r_hip + l_hip) / 2,
        "r_hip": r_hip,
        "r_knee": r_knee,
        "r_ankle": r_ankle,
        "l_hip": l_hip,
        "l_knee": l_knee,
        "l_ankle": l_ankle,
        "spine": ((r_hip + l_hip) / 2 + thorax) / 2,
        "thorax": thorax,
        "neck_nose": neck_nose,
        "head": head_centre,
        "l_shoulder": l_sho,
        "l_elbow": l_elb,
        "l_wrist": l_wri,
        "r_shoulder": r_sho,
        "r_elbow": r_elb,
        "r_wrist": r_wri,
    }
    return np.stack([joints[name] for name in H36M17.names], axis=1)
