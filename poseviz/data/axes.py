"""Which way is up in a motion file: mocap formats disagree (BVH is usually Y up, C3D and
the DeepMimic demo Z up), and virtual cameras need to know."""

from __future__ import annotations

import numpy as np

from poseviz.skeleton import get_skeleton

__all__ = ["up_axis"]


def up_axis(joints_3d: np.ndarray, skeleton: str = "h36m17") -> np.ndarray:
    """The world's up direction ``(3,)``, one of ±x, ±y, ±z: the axis along which the
    median over frames of (head - mean of the ankles) is largest, with its sign.

    Args:
        joints_3d: ``(T, J, 3)`` world joints in metres (NaN frames are ignored).
        skeleton: the layout (must name ``head`` and the two ankles; h36m17 does).
    """
    sk = get_skeleton(skeleton)
    X = np.asarray(joints_3d, dtype=np.float64)
    if X.ndim != 3 or X.shape[1:] != (sk.num_joints, 3):
        raise ValueError(
            f"up_axis: expected joints of shape (T, {sk.num_joints}, 3), got {X.shape}"
        )
    head = X[:, sk.index("head")]
    ankles = (X[:, sk.index("l_ankle")] + X[:, sk.index("r_ankle")]) / 2
    v = np.nanmedian(head - ankles, axis=0)
    if not np.isfinite(v).all() or not np.abs(v).max() > 0:
        raise ValueError("up_axis: no finite frames to tell up from")
    k = int(np.argmax(np.abs(v)))
    out = np.zeros(3)
    out[k] = np.sign(v[k])
    return out
