"""Throughput of the metrics on a million frames, against naive loops in the same run.

    python benchmarks/metrics.py [--frames 1000000] [--threads N] [--dtype float32]

For spatial PSIM+, temporal PSIM+ (100-frame sequences, window 9), P-MPJPE and the
MPI-INF-3DHP PCK + AUC protocol it prints the vectorised frames per second on ``--frames``
frames, the naive reference's frames per second (timed on a subset and extrapolated per
frame: the plain-Python loops of tests/metrics/_reference.py for PSIM+, a per-frame
``scipy.linalg.orthogonal_procrustes`` loop (reflections excluded) for P-MPJPE, a per-frame numpy loop of the
official MATLAB definition for PCK/AUC) and the ratio. Targets on 2 CPU cores: spatial
PSIM+ >= 1M frames/s, temporal PSIM+ and P-MPJPE >= 300k frames/s, each >= 100x naive.
Wall-clock numbers depend on the machine's load; the ratios are the comparable figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseviz.metrics.functional import (  # noqa: E402
    MPI_INF_3DHP_PCK_JOINTS,
    auc,
    p_mpjpe,
    pck,
    psim_plus,
)
from tests.metrics import _reference as ref  # noqa: E402
from tests.metrics.conftest import make_poses, make_prediction  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    """Shortest wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def naive_p_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Per-frame loop: ``scipy.linalg.orthogonal_procrustes``, with VideoPose3D's reflection
    fix (an SVD of the same frame) where scipy's answer is a reflection."""
    total = 0.0
    for b in range(len(gt)):
        X0, Y0 = gt[b] - gt[b].mean(0), pred[b] - pred[b].mean(0)
        R, s = orthogonal_procrustes(Y0, X0)
        if np.linalg.det(R) < 0:
            U, sv, Vt = np.linalg.svd(Y0.T @ X0)
            U[:, -1] *= -1
            R, s = U @ Vt, sv[:-1].sum() - sv[-1]
        aligned = s / (Y0**2).sum() * Y0 @ R + gt[b].mean(0)
        total += np.linalg.norm(aligned - gt[b], axis=-1).mean()
    return 1000 * total / len(gt)


def naive_pck_auc(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    joints = list(MPI_INF_3DHP_PCK_JOINTS)
    thresholds = np.arange(0, 151, 5)
    curve = np.zeros(len(thresholds))
    hits150 = 0
    for b in range(len(gt)):
        err = 1000 * np.linalg.norm((pred[b] - pred[b][0]) - (gt[b] - gt[b][0]), axis=-1)[joints]
        for k, t in enumerate(thresholds):
            curve[k] += (err < t).sum()
        hits150 += (err < 150).sum()
    n = len(joints) * len(gt)
    return 100 * hits150 / n, 100 * (curve / n).mean()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    rng = np.random.default_rng(0)
    n = args.frames - args.frames % 100
    print(
        f"{n:,} frames, {args.dtype}, torch {torch.__version__} on {torch.get_num_threads()} threads"
    )
    base_gt = make_poses(rng, (10_000,))
    base_pred = make_prediction(rng, base_gt)
    reps = -(-n // 10_000)
    gt64 = np.tile(base_gt, (reps, 1, 1))[:n]
    pred64 = np.tile(base_pred, (reps, 1, 1))[:n]
    # The same poses repeated: a million distinct random ones would cost more to generate
    # than to score, and the metrics do the same work on any input.
    gt = torch.from_numpy(gt64).to(dtype)
    pred = torch.from_numpy(pred64).to(dtype)
    seq_gt, seq_pred = gt.reshape(-1, 100, 17, 3), pred.reshape(-1, 100, 17, 3)
    rows = []

    def record(name, fast_s, naive_s_per_frame, target):
        fps, naive_fps = n / fast_s, 1 / naive_s_per_frame
        rows.append((name, fps, naive_fps, fps / naive_fps, target))

    # spatial PSIM+
    psim_plus(gt[:1000], pred[:1000])
    fast = best_of(lambda: psim_plus(gt, pred))
    k = 300
    sub_g, sub_p = gt64[:k].tolist(), pred64[:k].tolist()
    naive = (
        best_of(lambda: [ref.psim_frame(a, b) for a, b in zip(sub_g, sub_p, strict=True)], 1) / k
    )
    record("PSIM+ spatial", fast, naive, 1_000_000)

    # temporal PSIM+ (100-frame sequences, window 9)
    fast = best_of(lambda: psim_plus(seq_gt, seq_pred, temporal=True))
    sg, sp = gt64[:100].tolist(), pred64[:100].tolist()
    naive = best_of(lambda: ref.psim_temporal(sg, sp, 9), 1) / 100
    record("PSIM+ temporal", fast, naive, 300_000)

    # P-MPJPE
    fast = best_of(lambda: p_mpjpe(pred, gt))
    k = 3000
    naive = best_of(lambda: naive_p_mpjpe(pred64[:k], gt64[:k]), 1) / k
    got, want = float(p_mpjpe(pred64[:k], gt64[:k])), naive_p_mpjpe(pred64[:k], gt64[:k])
    assert abs(got - want) < 1e-6 * max(1.0, want), (got, want)
    record("P-MPJPE", fast, naive, 300_000)

    # MPI-INF-3DHP PCK + AUC (one pass each)
    fast = best_of(lambda: (pck(pred, gt), auc(pred, gt)))
    naive = best_of(lambda: naive_pck_auc(pred64[:k], gt64[:k]), 1) / k
    np.testing.assert_allclose(
        (pck(pred64[:k], gt64[:k]), auc(pred64[:k], gt64[:k])), naive_pck_auc(pred64[:k], gt64[:k])
    )
    record("PCK + AUC (3DHP)", fast, naive, None)

    print(f"{'metric':<18}{'frames/s':>14}{'naive frames/s':>16}{'ratio':>10}  target")
    for name, fps, naive_fps, ratio, target in rows:
        ok = "" if target is None else ("ok" if fps >= target and ratio >= 100 else "MISSED")
        tgt = "-" if target is None else f">= {target:,} and >= 100x"
        print(f"{name:<18}{fps:>14,.0f}{naive_fps:>16,.0f}{ratio:>9,.0f}x  {tgt} {ok}")


if __name__ == "__main__":
    main()
