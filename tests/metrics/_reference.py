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
