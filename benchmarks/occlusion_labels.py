"""Speed of `poseviz.data.occlusion.occlusion_labels` (capsule method).

Labels N random h36m17 poses (jittered standing poses, random orientation, 3-6 m from the
camera) and prints frames/s, the time to label 100k frames x 4 cameras, and the ratio to a
reference measured in the same run: `poseviz.geometry.project` of the same joints (the
cheapest per-view operation a data pipeline does anyway).

    PYTHONPATH=. python3 benchmarks/occlusion_labels.py [--frames 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from poseviz.data.occlusion import occlusion_labels
from poseviz.geometry import euler_to_matrix, project
from poseviz.structures import Camera

# A standing h36m17 pose in metres (x left, y up, z forward of the person).
STANDING = np.array(
    [[0, 1, 0], [-0.13, 1, 0], [-0.13, 0.55, 0], [-0.13, 0.1, 0], [0.13, 1, 0],
     [0.13, 0.55, 0], [0.13, 0.1, 0], [0, 1.23, 0], [0, 1.48, 0], [0, 1.6, 0.05],
     [0, 1.72, 0], [0.17, 1.45, 0], [0.22, 1.17, 0], [0.24, 0.92, 0], [-0.17, 1.45, 0],
     [-0.22, 1.17, 0], [-0.24, 0.92, 0]]
)  # fmt: skip


def random_poses(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 17, 3)`` camera-frame poses: the standing pose with joints moved by up to
    0.25 m, randomly rotated, 4.5 m in front of the camera."""
    body = STANDING[None] - STANDING[0] + rng.uniform(-0.25, 0.25, (n, 17, 3))
    R = np.asarray(euler_to_matrix(rng.uniform(-np.pi, np.pi, (n, 3)), "YXZ", degrees=False))
    return np.einsum("nij,nkj->nki", R, body) + np.array([0.0, 0.0, 4.5])


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cam = Camera(id="c", width=1000, height=1000, fx=1100, fy=1100, cx=500, cy=500)
    x = random_poses(np.random.default_rng(0), args.frames)
    t_labels = best_time(lambda: occlusion_labels(x, cam), args.repeats)
    t_project = best_time(lambda: project(x, cam), args.repeats)
    rate = args.frames / t_labels
    print(f"occlusion_labels: {rate:,.0f} frames/s ({t_labels:.2f} s for {args.frames:,} frames)")
    print(f"  100k frames x 4 cameras: {4 * 100_000 / rate:.1f} s")
    print(f"reference project(): {args.frames / t_project:,.0f} frames/s")
    print(f"ratio labels / project time: {t_labels / t_project:.1f}x")


if __name__ == "__main__":
    main()
