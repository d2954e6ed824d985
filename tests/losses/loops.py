"""Direct loop implementations of each equation, written from the papers with plain Python
floats and nested loops (no vectorisation shared with the package). They take numpy arrays
of small size and return Python floats (batch means) unless stated."""

from __future__ import annotations

import itertools
import math

import numpy as np

# h36m17 parents as written in DESIGN.md (independent of poseviz.skeleton)
H36M_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]


def dist(a, b) -> float:
    return math.sqrt(sum((float(x) - float(y)) ** 2 for x, y in zip(a, b, strict=True)))


def frames(x: np.ndarray) -> list[tuple[int, ...]]:
    """Indices of the leading (batch/frame) axes of an ``(..., J, C)`` array."""
    return list(itertools.product(*[range(n) for n in x.shape[:-2]]))


def mpjpe(p, g) -> float:
    vals = []
    for f in frames(p):
        J = p.shape[-2]
        vals.append(sum(dist(p[f][j], g[f][j]) for j in range(J)) / J)
    return sum(vals) / len(vals)


def weighted_mpjpe(p, g, w) -> float:
    vals = []
    for f in frames(p):
        J = p.shape[-2]
        vals.append(sum(w[j] * dist(p[f][j], g[f][j]) for j in range(J)) / J)
    return sum(vals) / len(vals)


def velocity(p, g) -> float:
    """p, g: (B, T, J, 3)."""
    vals = []
    B, T, J, _ = p.shape
    for b in range(B):
        for t in range(1, T):
            e = 0.0
            for j in range(J):
                vp = p[b, t, j] - p[b, t - 1, j]
                vg = g[b, t, j] - g[b, t - 1, j]
                e += dist(vp, vg)
            vals.append(e / J)
    return sum(vals) / len(vals)


def soft_argmax(h, beta=1.0):
    H, W = h.shape
    m = max(float(v) for v in h.ravel())
    wts = [[math.exp(beta * (float(h[y][x]) - m)) for x in range(W)] for y in range(H)]
    z = sum(sum(r) for r in wts)
    ex = sum(wts[y][x] * x for y in range(H) for x in range(W)) / z
    ey = sum(wts[y][x] * y for y in range(H) for x in range(W)) / z
    return ex, ey


def integral_2d(heatmaps, target, beta=1.0) -> float:
    """heatmaps (B, K, H, W), target (B, K, 2): eq. 6 per image, batch mean."""
    B, K = heatmaps.shape[:2]
    vals = []
    for b in range(B):
        vals.append(sum(dist(soft_argmax(heatmaps[b, k], beta), target[b, k]) for k in range(K)))
    return sum(vals) / B


def focal(logits, labels, alpha=1.0, gamma=2.0) -> float:
    """logits, labels (B, K): eq. 7 summed over joints, batch mean."""
    B, K = logits.shape
    vals = []
    for b in range(B):
        s = 0.0
        for k in range(K):
            c = 1.0 / (1.0 + math.exp(-float(logits[b, k])))
            y = float(labels[b, k])
            ce = -(y * math.log(c) + (1 - y) * math.log(1 - c))
            s += alpha * (1 - math.exp(-ce)) ** gamma * ce
        vals.append(s)
    return sum(vals) / B


def limb_joint(p, g, parents=H36M_PARENTS) -> float:
    vals = []
    for f in frames(p):
        s = 0.0
        for j, par in enumerate(parents):
            if par >= 0:
                s += (dist(p[f][j], p[f][par]) - dist(g[f][j], g[f][par])) ** 2
        for j in range(len(parents)):
            s += dist(p[f][j], g[f][j]) ** 2
        vals.append(s)
    return sum(vals) / len(vals)


def mse_pose(p, g) -> float:
    vals = []
    for f in frames(p):
        vals.append(sum(dist(p[f][j], g[f][j]) ** 2 for j in range(p.shape[-2])))
    return sum(vals) / len(vals)


def gla_global(p, g) -> float:
    """(B, T, N, 3): eq. 4 per sequence, batch mean."""
    B, T, N, _ = p.shape
    vals = []
    for b in range(B):
        s = sum(dist(p[b, t, i], g[b, t, i]) for t in range(T) for i in range(N))
        vals.append(s / (T * N))
    return sum(vals) / B


def spatial_sum(p, g) -> float:
    """RePOSE eq. 2 literally: sum over frames and joint pairs with d_i < d_j (all batch
    entries summed); p, g (B, T, J, 3), depth = z."""
    B, T, J, _ = p.shape
    s = 0.0
    for b in range(B):
        for t in range(T):
            for i in range(J):
                for j in range(J):
                    if g[b, t, i, 2] < g[b, t, j, 2]:
                        s += max(0.0, float(p[b, t, i, 2]) - float(p[b, t, j, 2]))
    return s


def temporal_sum(p, g) -> float:
    """RePOSE eq. 3 literally: sum over joints and frame pairs with d_m < d_n."""
    B, T, J, _ = p.shape
    s = 0.0
    for b in range(B):
        for j in range(J):
            for m in range(T):
                for n in range(T):
                    if g[b, m, j, 2] < g[b, n, j, 2]:
                        s += max(0.0, float(p[b, m, j, 2]) - float(p[b, n, j, 2]))
    return s


def _process(x, n: int, idx: int):
    return x.unsqueeze(idx).repeat_interleave(n, idx)


def algorithm1_spatial(x, gt):
    """RePOSE Algorithm 1 transcribed (torch, x/gt (B, T, J, 3)): mean over (B, T, J, J)."""
    import torch

    J = x.shape[2]
    x, gt = x[..., 2], gt[..., 2]
    A, B = _process(gt, J, -1), _process(gt, J, -2)
    C, D = _process(x, J, -1), _process(x, J, -2)
    comp1 = (C - D) * (A < B)
    return torch.mean(torch.maximum(comp1, torch.zeros_like(C)))


def algorithm2_temporal(x, gt):
    """RePOSE Algorithm 2 transcribed (torch, x/gt (B, T, J, 3)): mean over (B, J, T, T)."""
    import torch

    T = x.shape[1]
    x, gt = x.permute(0, 2, 1, 3)[..., 2], gt.permute(0, 2, 1, 3)[..., 2]
    A, B = _process(gt, T, -1), _process(gt, T, -2)
    C, D = _process(x, T, -1), _process(x, T, -2)
    comp1 = (C - D) * (A < B)
    return torch.mean(torch.maximum(comp1, torch.zeros_like(C)))


# PSIM+ (seed 000 §3), literal form, from the paper's equations and DESIGN.md's body parts
BODY_PARTS = [
    (8, [11, 12, 13]),
    (8, [14, 15, 16]),
    (0, [4, 5, 6]),
    (0, [1, 2, 3]),
    (0, [7, 8, 9, 10]),
]


def _sim(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    den = sum(x * x for x in a) + sum(y * y for y in b)
    return 1.0 if den == 0 else 2 * dot / den


def psim_plus_frame(R, T, w=(0.6, 0.15, 0.25)) -> float:
    """Spatial PSIM+ (eq. 4) of one (J, 3) pose pair; R reference, T target."""
    J = len(R)
    r = [[float(R[j][c]) - float(R[0][c]) for c in range(3)] for j in range(J)]
    t = [[float(T[j][c]) - float(T[0][c]) for c in range(3)] for j in range(J)]
    P = _sim([v for j in r for v in j], [v for j in t for v in j])  # eq. 1
    sr, st = [], []
    for origin, joints in BODY_PARTS:  # eq. 2: hop vectors / first hop length
        for pose, out in ((R, sr), (T, st)):
            hops = [[float(pose[j][c]) - float(pose[origin][c]) for c in range(3)] for j in joints]
            u = math.sqrt(sum(v * v for v in hops[0]))
            out.extend(v / u for h in hops for v in h)
    S = _sim(sr, st)
    errors = [dist(r[j], t[j]) for j in range(J)]  # eq. 3: joints with error >= MPJPE
    delta = sum(errors) / J
    sens = [j for j in range(J) if errors[j] >= delta]
    V = _sim([v for j in sens for v in r[j]], [v for j in sens for v in t[j]])
    return w[0] * P + w[1] * S + w[2] * V


def psim_plus_sequence(R, T, window: int, w=(0.6, 0.15, 0.25)) -> float:
    """Temporal PSIM+ (eq. 5) of one (T, J, 3) pair, windows truncated at the edges."""
    n, J = len(R), len(R[0])
    rel = [
        [
            [[float(X[f][j][c]) - float(X[f][0][c]) for c in range(3)] for j in range(J)]
            for f in range(n)
        ]
        for X in (R, T)
    ]
    h = window // 2
    total = 0.0
    for f in range(n):
        Z = range(max(0, f - h), min(n - 1, f + h) + 1)
        means = [
            [[sum(X[z][j][c] for z in Z) / len(Z) for c in range(3)] for j in range(J)] for X in rel
        ]
        drift = 0.0
        for z in Z:
            diff = [
                (rel[0][z][j][c] - means[0][j][c]) - (rel[1][z][j][c] - means[1][j][c])
                for j in range(J)
                for c in range(3)
            ]
            drift += math.sqrt(sum(d * d for d in diff))
        total += (1 - drift / len(Z)) * psim_plus_frame(R[f], T[f], w)
    return total / n
