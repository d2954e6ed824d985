"""Hand-built h36m17 poses and views for the occlusion and synthetic-image tests.

Body frame: x to the person's left, y up, z forward (the way the person faces), metres.
"""

from __future__ import annotations

import numpy as np

from poseviz.geometry import euler_to_matrix
from poseviz.structures import Camera

# Standing, arms hanging beside the body (h36m17 order).
STANDING = np.array(
    [
        [0.00, 1.00, 0.00],  # 0 pelvis
        [-0.13, 1.00, 0.00],  # 1 r_hip
        [-0.13, 0.55, 0.02],  # 2 r_knee
        [-0.13, 0.10, 0.00],  # 3 r_ankle
        [0.13, 1.00, 0.00],  # 4 l_hip
        [0.13, 0.55, 0.02],  # 5 l_knee
        [0.13, 0.10, 0.00],  # 6 l_ankle
        [0.00, 1.23, 0.00],  # 7 spine
        [0.00, 1.48, 0.00],  # 8 thorax
        [0.00, 1.60, 0.05],  # 9 neck_nose
        [0.00, 1.72, 0.00],  # 10 head
        [0.17, 1.45, 0.00],  # 11 l_shoulder
        [0.22, 1.17, 0.00],  # 12 l_elbow
        [0.24, 0.92, 0.02],  # 13 l_wrist
        [-0.17, 1.45, 0.00],  # 14 r_shoulder
        [-0.22, 1.17, 0.00],  # 15 r_elbow
        [-0.24, 0.92, 0.02],  # 16 r_wrist
    ]
)

# Body frame -> camera frame (OpenCV: x right, y down, z forward), each a proper rotation.
FRONT = np.array([[1.0, 0, 0], [0, -1, 0], [0, 0, -1]])  # camera in front, person faces it
BACK = np.array([[-1.0, 0, 0], [0, -1, 0], [0, 0, 1]])  # camera behind the person
LEFT_SIDE = np.array([[0.0, 0, -1], [0, -1, 0], [-1, 0, 0]])  # camera at the person's left
TOP = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # camera above, looking down


def to_camera(body: np.ndarray, rotation: np.ndarray, distance: float = 4.0) -> np.ndarray:
    """``(..., J, 3)`` body-frame joints -> camera frame, the pelvis ``distance`` m in front
    of the camera along its optical axis (for `TOP`: the camera 3 m above the head, over
    the feet)."""
    centre = np.array([0.0, 1.0, 0.0])
    if rotation is TOP:
        centre = np.array([0.0, 0.0, 0.0])
        distance = 4.72  # 3 m above the head
    return (body - centre) @ rotation.T + np.array([0.0, 0.0, distance])


def camera(width: int = 1000, height: int = 1000, focal: float = 1100.0) -> Camera:
    return Camera(
        id="cam", width=width, height=height, fx=focal, fy=focal, cx=width / 2, cy=height / 2
    )


def random_poses(rng: np.random.Generator, n: int, jitter: float = 0.25) -> np.ndarray:
    """``(n, 17, 3)`` camera-frame poses: the standing pose with every joint but the pelvis
    moved by up to ``jitter`` m, randomly rotated, 3-6 m in front of the camera."""
    body = STANDING[None] + rng.uniform(-jitter, jitter, (n, 17, 3))
    body[:, 0] = STANDING[0]
    body = body - STANDING[0]
    angles = np.stack(  # pitch, yaw (about the body's vertical), roll; radians
        [rng.uniform(-0.6, 0.6, n), rng.uniform(-np.pi, np.pi, n), rng.uniform(-0.3, 0.3, n)], 1
    )
    R = FRONT @ np.asarray(euler_to_matrix(angles[:, [1, 0, 2]], "YXZ", degrees=False))
    cam = np.einsum("nij,nkj->nki", R, body)
    offset = np.stack(
        [rng.uniform(-0.5, 0.5, n), rng.uniform(-0.3, 0.3, n), rng.uniform(3, 6, n)], 1
    )
    return cam + offset[:, None]
