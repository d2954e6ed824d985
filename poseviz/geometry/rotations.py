"""Rotation conversions. Quaternions are ``(w, x, y, z)`` (scalar first), as the function
names say; matrices act on column vectors (``v' = R @ v``)."""

from __future__ import annotations

import torch

from poseviz.geometry._backend import check_last, numpy_compat

__all__ = [
    "axis_angle_to_matrix",
    "euler_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_quaternion_wxyz",
    "quaternion_wxyz_to_matrix",
]

_AXES = {"X": 0, "Y": 1, "Z": 2}


@numpy_compat
def quaternion_wxyz_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """``(..., 4)`` quaternions ``(w, x, y, z)`` (normalised here) -> ``(..., 3, 3)``."""
    check_last(q, 4, "q", "quaternion_wxyz_to_matrix")
    norm = q.norm(dim=-1, keepdim=True)
    if (norm < 1e-12).any():
        raise ValueError("quaternion_wxyz_to_matrix: zero-length quaternion")
    w, x, y, z = (q / norm).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        -1,
    ).reshape(q.shape[:-1] + (3, 3))


@numpy_compat
def matrix_to_quaternion_wxyz(R: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` rotation matrices -> ``(..., 4)`` unit quaternions ``(w, x, y, z)``
    with ``w >= 0``."""
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"matrix_to_quaternion_wxyz: expected (..., 3, 3), got {tuple(R.shape)}")
    m = R
    # Four candidate solutions; pick the best-conditioned one per matrix (Shepperd's method).
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = torch.stack(
        [
            torch.stack(
                [
                    1 + tr,
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 0, 1] + m[..., 1, 0],
                    1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
                    m[..., 1, 2] + m[..., 2, 1],
                ],
                -1,
            ),
            torch.stack(
                [
                    m[..., 1, 0] - m[..., 0, 1],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
                ],
                -1,
            ),
        ],
        -2,
    )  # (..., 4, 4)
    diag = torch.stack([tr, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = diag.argmax(-1)
    q = torch.gather(cands, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[..., :1] < 0, -q, q)


@numpy_compat
def axis_angle_to_matrix(v: torch.Tensor) -> torch.Tensor:
    """``(..., 3)`` axis-angle vectors (direction = axis, norm = angle in radians) ->
    ``(..., 3, 3)`` by Rodrigues' formula."""
    check_last(v, 3, "v", "axis_angle_to_matrix")
    angle = v.norm(dim=-1, keepdim=True)
    half = angle / 2
    # sin(half)/angle with its limit 1/2 at 0, so small angles stay accurate and smooth.
    k = torch.where(angle < 1e-8, 0.5 - angle**2 / 48, torch.sin(half) / angle.clamp_min(1e-12))
    q = torch.cat([torch.cos(half), v * k], -1)
    return quaternion_wxyz_to_matrix(q)


@numpy_compat
def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` -> ``(..., 3)`` axis-angle with angle in [0, pi]."""
    q = matrix_to_quaternion_wxyz(R)
    vec = q[..., 1:]
    s = vec.norm(dim=-1, keepdim=True)
    angle = 2 * torch.atan2(s, q[..., :1])
    return torch.where(s < 1e-12, 2 * vec, vec * angle / s.clamp_min(1e-12))


def _axis_matrix(axis: str, a: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(a), torch.sin(a)
    o, z = torch.ones_like(a), torch.zeros_like(a)
    rows = {
        "X": [o, z, z, z, c, -s, z, s, c],
        "Y": [c, z, s, z, o, z, -s, z, c],
        "Z": [c, -s, z, s, c, z, z, z, o],
    }[axis]
    return torch.stack(rows, -1).reshape(a.shape + (3, 3))


@numpy_compat
def euler_to_matrix(angles: torch.Tensor, order: str, *, degrees: bool = True) -> torch.Tensor:
    """``(..., 3)`` Euler angles -> ``(..., 3, 3)``, intrinsic rotations in ``order``.

    ``order="ZXY"`` means ``R = Rz(a0) @ Rx(a1) @ Ry(a2)``: the convention of BVH channel
    lists (``Zrotation Xrotation Yrotation``).
    """
    check_last(angles, 3, "angles", "euler_to_matrix")
    order = order.upper()
    if len(order) != 3 or any(a not in _AXES for a in order):
        raise ValueError(
            f"euler_to_matrix: order must be three of X, Y, Z (e.g. 'ZXY'), got {order!r}"
        )
    a = torch.deg2rad(angles) if degrees else angles
    R = _axis_matrix(order[0], a[..., 0])
    for i in (1, 2):
        R = R @ _axis_matrix(order[i], a[..., i])
    return R
