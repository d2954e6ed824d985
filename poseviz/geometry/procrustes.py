"""Batched similarity (Procrustes) and scale-only alignment of point sets.

The optimal rotation is found in closed form, without a per-pose SVD: Horn's (1987) unit
quaternion method. For centred point sets ``Y`` (moved) and ``X`` (fixed) with
cross-covariance ``M = Y^T X`` the optimal proper rotation is the quaternion eigenvector of
the largest eigenvalue ``lambda_max`` of Horn's symmetric, traceless 4x4 matrix ``K(M)``.
``lambda_max`` is the largest root of the characteristic quartic
``det(K - l I) = l^4 + c2 l^2 + c1 l + c0``, found by Newton's method started above it (the
quaternion characteristic polynomial (QCP) approach of Theobald 2005); the eigenvector is a
column of the adjugate of ``K - lambda_max I``, which has rank one (column 0, the cheapest,
for rotations up to 120 degrees; the best-conditioned column for the rest). Everything is
elementwise on ``(...,)`` tensors, so a million poses align in a fraction of a second on a
CPU, and autograd differentiates through it. ``lambda_max = trace(R^T M)`` equals the sum of the
singular values of ``M`` with the last one's sign flipped when a reflection would be better,
so the solution is the same as the SVD one of VideoPose3D's ``p_mpjpe`` (reflections
excluded).
"""

from __future__ import annotations

import torch

from poseviz.geometry._backend import as_tensor, to_numpy_if
from poseviz.geometry.rotations import quaternion_wxyz_to_matrix

__all__ = ["procrustes_align", "procrustes_distances", "scale_align"]

_NEWTON_MAX_ITERS = 60


def _check_pair(pred: torch.Tensor, target: torch.Tensor, fn: str) -> None:
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != 3:
        raise ValueError(
            f"{fn}: expected pred and target of the same shape (..., J, 3), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


_COLUMN_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def _row_minors(a: list[list[torch.Tensor]], r: int, s: int) -> list[torch.Tensor]:
    """The 2x2 minors of rows ``r`` and ``s`` of 4x4 matrices (nested lists of ``(...,)``
    tensors), over the column pairs 01, 02, 03, 12, 13, 23."""
    return [a[r][i] * a[s][j] - a[s][i] * a[r][j] for i, j in _COLUMN_PAIRS]


def _pair_minors(a: list[list[torch.Tensor]]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """`_row_minors` of rows 0-1 and of rows 2-3."""
    return _row_minors(a, 0, 1), _row_minors(a, 2, 3)


def _adjugate_column0(
    a: list[list[torch.Tensor]], bottom: list[torch.Tensor] | None = None
) -> list[torch.Tensor]:
    """Column 0 of the adjugate of 4x4 matrices (nested lists of ``(...,)`` tensors), from
    the 2x2 minors of rows 2-3 (``bottom``; computed here when not given)."""
    c0, c1, c2, c3, c4, c5 = _row_minors(a, 2, 3) if bottom is None else bottom
    return [
        a[1][1] * c5 - a[1][2] * c4 + a[1][3] * c3,
        -a[1][0] * c5 + a[1][2] * c2 - a[1][3] * c1,
        a[1][0] * c4 - a[1][1] * c2 + a[1][3] * c0,
        -a[1][0] * c3 + a[1][1] * c1 - a[1][2] * c0,
    ]


def _adjugate4(a: list[list[torch.Tensor]]) -> list[list[torch.Tensor]]:
    """Adjugate of 4x4 matrices given as nested lists of ``(...,)`` tensors (Laplace
    expansion over the 2x2 minors of rows 0-1 and rows 2-3)."""
    top, bottom = _pair_minors(a)
    (s0, s1, s2, s3, s4, s5), (c0, c1, c2, c3, c4, c5) = top, bottom
    col0 = _adjugate_column0(a, bottom)
    return [
        [
            col0[0],
            -a[0][1] * c5 + a[0][2] * c4 - a[0][3] * c3,
            a[3][1] * s5 - a[3][2] * s4 + a[3][3] * s3,
            -a[2][1] * s5 + a[2][2] * s4 - a[2][3] * s3,
        ],
        [
            col0[1],
            a[0][0] * c5 - a[0][2] * c2 + a[0][3] * c1,
            -a[3][0] * s5 + a[3][2] * s2 - a[3][3] * s1,
            a[2][0] * s5 - a[2][2] * s2 + a[2][3] * s1,
        ],
        [
            col0[2],
            -a[0][0] * c4 + a[0][1] * c2 - a[0][3] * c0,
            a[3][0] * s4 - a[3][1] * s2 + a[3][3] * s0,
            -a[2][0] * s4 + a[2][1] * s2 - a[2][3] * s0,
        ],
        [
            col0[3],
            a[0][0] * c3 - a[0][1] * c1 + a[0][2] * c0,
            -a[3][0] * s3 + a[3][1] * s1 - a[3][2] * s0,
            a[2][0] * s3 - a[2][1] * s1 + a[2][2] * s0,
        ],
    ]


def _det4(a: list[list[torch.Tensor]]) -> torch.Tensor:
    """Determinant of 4x4 matrices given as nested lists of ``(...,)`` tensors, from the
    same 2x2 minors as `_adjugate4` (Laplace expansion over rows 0-1 and rows 2-3)."""
    s, c = _pair_minors(a)
    return s[0] * c[5] - s[1] * c[4] + s[2] * c[3] + s[3] * c[2] - s[4] * c[1] + s[5] * c[0]


def _top_eigenvector(A: list[list[torch.Tensor]]) -> torch.Tensor:
    """``(N, 4)`` unnormalised top eigenvector from the rank-one adjugate of
    ``A = K - lambda_max I`` (nested 4x4 list of ``(N,)`` tensors): its column with the
    largest diagonal entry, the best conditioned one."""
    B = _adjugate4(A)  # rank one: B ~ q q^T
    cols = torch.stack([torch.stack(B[j], -1) for j in range(4)], -2)  # B symmetric
    diag = torch.stack([B[i][i].abs() for i in range(4)], -1)
    best = diag.argmax(-1)
    return torch.gather(cols, -2, best[..., None, None].expand(*best.shape, 1, 4))[..., 0, :]


def _optimal_rotation(M: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For cross-covariances ``M = Y^T X`` (``(3, 3, N)``) of centred point sets scaled to
    ``|X| = |Y| = 1``: the proper rotation ``R`` (``(N, 3, 3)``, acting on row vectors:
    ``Y @ R`` is aligned to ``X``) maximising ``trace(R^T M)``, and that maximum
    ``lambda_max`` (``(N,)``). Computed in float64."""
    M = M.double()
    (Sxx, Sxy, Sxz), (Syx, Syy, Syz), (Szx, Szy, Szz) = (row.unbind(0) for row in M.unbind(0))
    # Horn's matrix (symmetric): its top eigenvector is the quaternion (w, x, y, z) of the
    # rotation taking the rows of Y onto those of X (column-vector convention).
    k01, k02, k03 = Syz - Szy, Szx - Sxz, Sxy - Syx
    k12, k13, k23 = Sxy + Syx, Szx + Sxz, Syz + Szy
    K = [
        [Sxx + Syy + Szz, k01, k02, k03],
        [k01, Sxx - Syy - Szz, k12, k13],
        [k02, k12, -Sxx + Syy - Szz, k23],
        [k03, k13, k23, -Sxx - Syy + Szz],
    ]
    # det(K - l I) = l^4 + c2 l^2 + c1 l + c0 (K is traceless).
    c2 = -2 * M.square().sum((0, 1))
    det_s = (
        Sxx * (Syy * Szz - Syz * Szy)
        - Sxy * (Syx * Szz - Syz * Szx)
        + Sxz * (Syx * Szy - Syy * Szx)
    )
    c1 = -8 * det_s
    c0 = _det4(K)
    two_c2 = 2 * c2

    def newton_step(lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(f, f') of the quartic at ``lam`` (Horner form)."""
        l2 = lam * lam
        f = torch.addcmul(torch.addcmul(c0, c1, lam), l2 + c2, l2)
        return f, torch.addcmul(c1, torch.add(two_c2, l2, alpha=4), lam)

    # Newton from above: lambda_max <= |X| |Y| = 1, and the quartic is increasing and
    # convex right of its largest root, so the iterates decrease monotonically onto it
    # (f' > 0 there; where f' = 0, a multiple top root, the iterate stays put).
    with torch.no_grad():
        lam = torch.ones_like(c2)
        for i in range(_NEWTON_MAX_ITERS):
            f, df = newton_step(lam)
            step = torch.where(df > 0, f / df, 0.0)
            lam = lam - step
            if i % 2 and not bool(step.abs().max() > 1e-15):  # a check every other step
                break
    if c2.requires_grad:
        # One more Newton step with autograd on: at the converged root it leaves the value
        # unchanged and carries the implicit derivative d(lambda) = -dP / P'(lambda).
        f, df = newton_step(lam)
        lam = lam - f / torch.where(df.abs() > 1e-30, df, 1.0)
    with torch.no_grad():
        df = newton_step(lam)[1]
    A = [[K[i][j] - lam if i == j else K[i][j] for j in range(4)] for i in range(4)]
    # adj(A) = trace(adj A) q q^T with trace(adj A) = -f'(lambda_max) (Jacobi's formula), so
    # column 0 is -f' q0 q: as well conditioned as the best column wherever q0^2 >= 1/4 (the
    # largest q_i^2 is at least 1/4). The other poses (rotations by more than 120 degrees,
    # or a multiple top eigenvalue) take the column with the largest diagonal entry.
    col0 = _adjugate_column0(A)
    q = torch.stack(col0, -1)
    fallback = ~((df > 0) & (-col0[0] >= 0.25 * df))
    if bool(fallback.any()):
        idx = fallback.nonzero()[:, 0]
        q = q.index_put((idx,), _top_eigenvector([[a[idx] for a in row] for row in A]))
    # A multiple top eigenvalue (collinear or empty point sets) leaves the rotation free.
    qn = q.square().sum(-1, keepdim=True)
    ok = qn > 1e-290  # the adjugate is homogeneous: any non-zero column gives the axis
    identity = torch.zeros_like(q)
    identity[..., 0] = 1
    q = torch.where(ok, q / torch.where(ok, qn, 1.0).sqrt(), identity)
    R_col = quaternion_wxyz_to_matrix(q)  # R_col @ y ~ x
    return R_col.transpose(-1, -2), lam


def _align_planes(Y: torch.Tensor, X: torch.Tensor, scale: bool):
    """Similarity alignment on coordinate planes. Returns ``(Y0 planes, X0 planes, mu_x,
    mu_y, a, R)`` with ``Y0``/``X0`` centred ``(3, N, J)``, ``a`` ``(N,)``, ``R`` ``(N, 3, 3)``
    (row vectors): the aligned pose is ``a * Y0 @ R + mu_x``."""
    J = Y.shape[-2]
    # Coordinate planes (3, N, J): every step below is elementwise or reduces over the
    # contiguous joint axis, which is far faster on a CPU than small (3, 3) matmuls.
    Yp = Y.reshape(-1, J, 3).permute(2, 0, 1).contiguous()
    Xp = X.reshape(-1, J, 3).permute(2, 0, 1).contiguous()
    mu_x, mu_y = Xp.mean(-1, keepdim=True), Yp.mean(-1, keepdim=True)
    X0, Y0 = Xp - mu_x, Yp - mu_y
    norm_x = (X0[0].square() + X0[1].square() + X0[2].square()).sum(-1).sqrt().clamp_min(1e-12)
    norm_y = (Y0[0].square() + Y0[1].square() + Y0[2].square()).sum(-1).sqrt().clamp_min(1e-12)
    M = (Y0[:, None] * X0[None]).sum(-1) / (norm_x * norm_y)  # (3, 3, N): Y0^T X0
    R, lam = _optimal_rotation(M)
    R = R.to(Y.dtype)
    a = (lam.to(Y.dtype) * norm_x / norm_y) if scale else torch.ones_like(norm_x)
    return Y0, X0, mu_x, mu_y, a, R


def _rotated_planes(Y0: torch.Tensor, aR: torch.Tensor, offset: torch.Tensor) -> list[torch.Tensor]:
    """The three coordinate planes ``(N, J)`` of ``Y0 @ aR + offset`` (``Y0`` ``(3, N, J)``,
    ``aR`` ``(N, 3, 3)``, ``offset`` ``(3, N, J or 1)``), as fused multiply-adds."""
    out = []
    for b in range(3):
        p = torch.addcmul(offset[b], Y0[0], aR[:, 0, b, None])
        p = torch.addcmul(p, Y0[1], aR[:, 1, b, None])
        out.append(torch.addcmul(p, Y0[2], aR[:, 2, b, None]))
    return out


def procrustes_align(pred, target, *, scale: bool = True, return_transform: bool = False):
    """Align each pose in ``pred`` to ``target`` by the similarity transform that minimises
    the squared error: rotation (reflections excluded), uniform scale and translation.

    The same solution as VideoPose3D's ``p_mpjpe`` (SVD of the centred cross-covariance,
    with the sign of the last singular vector flipped when it would give a reflection),
    computed in closed form (Horn's quaternion method; see the module docstring).

    Args:
        pred, target: ``(..., J, 3)`` in metres; batch dimensions are aligned independently.
        scale: estimate the scale (similarity); ``False`` gives a rigid alignment.
        return_transform: also return ``(s, R, t)`` with shapes ``(...,)``, ``(..., 3, 3)``,
            ``(..., 3)`` such that ``aligned = s * pred @ R + t``.

    Returns:
        ``(..., J, 3)`` aligned ``pred`` (numpy in, numpy out); differentiable in torch.
    """
    numpy_out = not isinstance(pred, torch.Tensor)
    Y = as_tensor(pred)
    X = as_tensor(target, Y)
    _check_pair(Y, X, "procrustes_align")
    lead = Y.shape[:-2]
    Y0, _, mu_x, mu_y, a, R = _align_planes(Y, X, scale)
    aR = a[:, None, None] * R
    planes = _rotated_planes(Y0, aR, mu_x)
    aligned = torch.stack(planes, -1).reshape(Y.shape)
    if not return_transform:
        return to_numpy_if(aligned, numpy_out)
    t = mu_x[..., 0].T - (mu_y[..., 0].T[:, None, :] @ aR)[:, 0]  # (N, 3)
    transform = (a.reshape(lead), R.reshape(*lead, 3, 3), t.reshape(*lead, 3))
    return to_numpy_if((aligned, transform), numpy_out)


def procrustes_distances(pred, target, *, scale: bool = True):
    """Distance of each point of ``pred``, aligned as by `procrustes_align`, to its
    ``target`` point: ``(..., J, 3)`` -> ``(..., J)`` in the input's units. The per-joint
    errors of P-MPJPE, without building the aligned poses. Differentiable (the gradient at
    a zero distance is 0); numpy in, numpy out."""
    numpy_out = not isinstance(pred, torch.Tensor)
    Y = as_tensor(pred)
    X = as_tensor(target, Y)
    _check_pair(Y, X, "procrustes_distances")
    Y0, X0, _, _, a, R = _align_planes(Y, X, scale)
    d = _rotated_planes(Y0, a[:, None, None] * R, -X0)
    sq = torch.addcmul(torch.addcmul(d[0] * d[0], d[1], d[1]), d[2], d[2])
    if sq.requires_grad:
        tiny = torch.finfo(sq.dtype).tiny
        dist = torch.where(sq > 0, sq.clamp_min(tiny).sqrt(), torch.zeros_like(sq))
    else:
        dist = sq.sqrt()
    return to_numpy_if(dist.reshape(Y.shape[:-1]), numpy_out)


def scale_align(pred, target):
    """Scale each ``(..., J, 3)`` pose in ``pred`` by the least-squares factor
    ``<pred, target> / <pred, pred>`` (the N-MPJPE alignment of Rhodin et al. 2018)."""
    numpy_out = not isinstance(pred, torch.Tensor)
    Y = as_tensor(pred)
    X = as_tensor(target, Y)
    _check_pair(Y, X, "scale_align")
    num = (Y * X).sum((-1, -2), keepdim=True)
    den = (Y * Y).sum((-1, -2), keepdim=True).clamp_min(1e-12)
    return to_numpy_if(Y * (num / den), numpy_out)
