"""Pure array geometry (torch or numpy in, the same type out; metres and pixels).

Cameras follow OpenCV (x right, y down, z forward; ``X_cam = R @ X_world + t``);
quaternions are ``(w, x, y, z)``.
"""

from poseviz.geometry.camera import (
    camera_to_image,
    camera_to_world,
    distort,
    image_coordinates,
    normalize_screen_coordinates,
    project,
    undistort,
    world_to_camera,
)
from poseviz.geometry.heatmaps import soft_argmax_2d
from poseviz.geometry.procrustes import procrustes_align, procrustes_distances, scale_align
from poseviz.geometry.rotations import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion_wxyz,
    quaternion_wxyz_to_matrix,
)
from poseviz.geometry.triangulation import reprojection_error, triangulate

__all__ = [
    "axis_angle_to_matrix",
    "camera_to_image",
    "camera_to_world",
    "distort",
    "euler_to_matrix",
    "image_coordinates",
    "matrix_to_axis_angle",
    "matrix_to_quaternion_wxyz",
    "normalize_screen_coordinates",
    "procrustes_align",
    "procrustes_distances",
    "project",
    "quaternion_wxyz_to_matrix",
    "reprojection_error",
    "scale_align",
    "soft_argmax_2d",
    "triangulate",
    "undistort",
    "world_to_camera",
]
