"""Independent plain-Python references written from the papers' equations (no torch, no
vectorisation), used by the metric tests."""

from __future__ import annotations

import math

# Body parts of DESIGN.md (origin -> joints), typed in again rather than read from the code.
PARTS = [(8, [11, 12, 13]), (8, [14, 15, 16]), (0, [4, 5, 6]), (0, [1, 2, 3]), (0, [7, 8, 9, 10])]
ROOT = 0


def sub(a, b):
    return [x - y for x, y in zip(a, b, strict=True)]


def norm(a):
    return math.sqrt(sum(x * x for x in a))


def sim(a, b):
    """2 (a . b) / (|a|^2 + |b|^2) (eqs. 1-3); 1 for two zero vectors."""
    den = sum(x * x for x in a) + sum(y * y for y in b)
    return 1.0 if den == 0 else 2 * sum(x * y for x, y in zip(a, b, strict=True)) / den


def flatten(vectors):
    return [c for v in vectors for c in v]


def psim_frame(R, T, weights=(0.6, 0.15, 0.25), variant="literal"):
    """One frame: R, T are lists of 17 [x, y, z]. Returns (P, S, V, sensitive set, PSIM+)."""
    J = len(R)
    rr = [sub(R[k], R[ROOT]) for k in range(J)]
    tt = [sub(T[k], T[ROOT]) for k in range(J)]
    errors = [norm(sub(rr[k], tt[k])) for k in range(J)]
    delta = sum(errors) / J  # the frame's MPJPE
    A = [k for k in range(J) if errors[k] >= delta]
    hops_r, hops_t = [], []
    for origin, joints in PARTS:
        lr = [sub(R[j], R[origin]) for j in joints]
        lt = [sub(T[j], T[origin]) for j in joints]
        ur, ut = norm(lr[0]), norm(lt[0])
        hops_r += [[c / ur for c in v] for v in lr]
        hops_t += [[c / ut for c in v] for v in lt]
    if variant == "literal":
        P = sim(flatten(rr), flatten(tt))
        S = sim(flatten(hops_r), flatten(hops_t))
        V = sim(flatten(rr[k] for k in A), flatten(tt[k] for k in A))
    else:
        nonroot = [k for k in range(J) if k != ROOT]
        P = sum(sim(rr[k], tt[k]) for k in nonroot) / len(nonroot)
        S = sum(sim(a, b) for a, b in zip(hops_r, hops_t, strict=True)) / len(hops_r)
        sens = [k for k in A if k != ROOT]
        V = sum(sim(rr[k], tt[k]) for k in sens) / len(sens)
    w_p, w_s, w_v = weights
    return P, S, V, A, w_p * P + w_s * S + w_v * V


def temporal_weights(Rs, Ts, window, variant="literal"):
    """w_t(t) of eq. 5 for one sequence (lists of frames), truncated windows at the edges."""
    n, J, h = len(Rs), len(Rs[0]), window // 2
    rel_r = [[sub(f[k], f[ROOT]) for k in range(J)] for f in Rs]
    rel_t = [[sub(f[k], f[ROOT]) for k in range(J)] for f in Ts]
    out = []
    for t in range(n):
        Z = [z for z in range(t - h, t + h + 1) if 0 <= z < n]
        mu_r = [[sum(rel_r[z][k][c] for z in Z) / len(Z) for c in range(3)] for k in range(J)]
        mu_t = [[sum(rel_t[z][k][c] for z in Z) / len(Z) for c in range(3)] for k in range(J)]
        total = 0.0
        for z in Z:
            d_r = [sub(rel_r[z][k], mu_r[k]) for k in range(J)]
            d_t = [sub(rel_t[z][k], mu_t[k]) for k in range(J)]
            if variant == "literal":
                total += norm(sub(flatten(d_r), flatten(d_t)))
            else:
                total += sum(norm(sub(d_r[k], d_t[k])) for k in range(J)) / J
        out.append(1 - total / len(Z))
    return out


def psim_temporal(Rs, Ts, window, weights=(0.6, 0.15, 0.25), variant="literal"):
    """Eq. 5: (1/|T|) sum_t w_t(t) PSIM+(t)."""
    wts = temporal_weights(Rs, Ts, window, variant)
    scores = [psim_frame(r, t, weights, variant)[4] for r, t in zip(Rs, Ts, strict=True)]
    return sum(w * s for w, s in zip(wts, scores, strict=True)) / len(Rs), wts


# --- position errors, PCK, structure, depth order, attention: plain loops --------------


def dist(a, b):
    return norm(sub(a, b))


def mpjpe_pose(P, G, root=0):
    """Root-aligned mean per-joint error of one pose (lists of [x, y, z]), same units."""
    J = len(P)
    return sum(dist(sub(P[k], P[root]), sub(G[k], G[root])) for k in range(J)) / J


def n_mpjpe_pose(P, G, root=0):
    p = [sub(P[k], P[root]) for k in range(len(P))]
    g = [sub(G[k], G[root]) for k in range(len(G))]
    s = sum(x * y for a, b in zip(p, g, strict=True) for x, y in zip(a, b, strict=True))
    s /= sum(x * x for a in p for x in a)
    return sum(dist([s * c for c in a], b) for a, b in zip(p, g, strict=True)) / len(p)


def velocity_errors(Ps, Gs, order=1, root=0):
    """Per (frame, joint) errors of the order-th time differences of root-relative poses."""
    P = [[sub(f[k], f[root]) for k in range(len(f))] for f in Ps]
    G = [[sub(f[k], f[root]) for k in range(len(f))] for f in Gs]
    for _ in range(order):
        P = [[sub(P[t + 1][k], P[t][k]) for k in range(len(P[0]))] for t in range(len(P) - 1)]
        G = [[sub(G[t + 1][k], G[t][k]) for k in range(len(G[0]))] for t in range(len(G) - 1)]
    return [[dist(P[t][k], G[t][k]) for k in range(len(P[0]))] for t in range(len(P))]


def pck_matlab(errors, joints, thresholds):
    """mpii_compute_3d_pck.m: errors[f][j] in mm; 'Total' PCK curve (fractions) over the
    given joints, error < t counted as correct."""
    curve = []
    for t in thresholds:
        hit = sum(1 for f in errors for j in joints if f[j] < t)
        curve.append(hit / (len(joints) * len(errors)))
    return curve


def bone_length_errors(P, G, bones):
    return [abs(dist(P[c], P[p]) - dist(G[c], G[p])) for p, c in bones]


def limb_asymmetry(P, pairs):
    return [abs(dist(P[a[1]], P[a[0]]) - dist(P[b[1]], P[b[0]])) for a, b in pairs]


def depth_pairs_spatial(P, G, tol):
    """(correct, decided) over joint pairs i < j of one frame, depth = z."""
    c = d = 0
    for i in range(len(P)):
        for j in range(i + 1, len(P)):
            gap = G[i][2] - G[j][2]
            if abs(gap) > tol:
                d += 1
                pg = P[i][2] - P[j][2]
                c += (pg > 0 and gap > 0) or (pg < 0 and gap < 0)
    return c, d


def depth_pairs_temporal(Ps, Gs, tol, window, root=0):
    """(correct, decided) over joints and frame pairs (t, t+k), 1 <= k < window, on
    root-relative depth."""
    c = d = 0
    T = len(Ps)
    for t in range(T):
        for k in range(1, window):
            if t + k >= T:
                break
            for j in range(len(Ps[0])):
                gap = (Gs[t + k][j][2] - Gs[t + k][root][2]) - (Gs[t][j][2] - Gs[t][root][2])
                if abs(gap) > tol:
                    d += 1
                    pg = (Ps[t + k][j][2] - Ps[t + k][root][2]) - (Ps[t][j][2] - Ps[t][root][2])
                    c += (pg > 0 and gap > 0) or (pg < 0 and gap < 0)
    return c, d


def background_ratio(A, K, radius, scale_x=1.0, scale_y=1.0):
    """A[j][row][col], K[j] = (x, y) pixels; cell centre ((col+.5)sx-.5, (row+.5)sy-.5)."""
    out = []
    H, W = len(A[0]), len(A[0][0])
    for j in range(len(A)):
        total = bg = 0.0
        for row in range(H):
            for col in range(W):
                cx, cy = (col + 0.5) * scale_x - 0.5, (row + 0.5) * scale_y - 0.5
                inside = any((cx - kx) ** 2 + (cy - ky) ** 2 <= radius**2 for kx, ky in K)
                total += A[j][row][col]
                bg += 0.0 if inside else A[j][row][col]
        out.append(bg / total)
    return out
