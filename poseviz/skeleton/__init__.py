"""Joint layouts: the frozen `Skeleton`, the named layouts and converters to ``h36m17``.

The canonical layout is ``h36m17`` (Human3.6M's 17 joints in VideoPose3D's order)::

    0 pelvis, 1 r_hip, 2 r_knee, 3 r_ankle, 4 l_hip, 5 l_knee, 6 l_ankle, 7 spine,
    8 thorax, 9 neck_nose, 10 head, 11 l_shoulder, 12 l_elbow, 13 l_wrist,
    14 r_shoulder, 15 r_elbow, 16 r_wrist

Every other layout converts to it with `convert` (linear maps, documented in
``CONVERSIONS``) or, for Plug-in-Gait markers, `plugin_gait_to_h36m17`.
"""

from poseviz.skeleton.core import BodyPart, Skeleton, flip_pose
from poseviz.skeleton.layouts import (
    CANONICAL,
    CONVERSIONS,
    Converter,
    convert,
    get_converter,
    get_skeleton,
    list_skeletons,
    register_skeleton,
)

__all__ = [
    "CANONICAL",
    "CONVERSIONS",
    "BodyPart",
    "Converter",
    "Skeleton",
    "convert",
    "flip_pose",
    "get_converter",
    "get_skeleton",
    "list_skeletons",
    "register_skeleton",
]
