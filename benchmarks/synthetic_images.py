"""Speed of the synthetic person images (`poseviz.data.synthetic.render_person_crop`).

Renders N person crops of random h36m17 poses (jittered standing poses, random
orientation, 3-6 m from a 1000 x 1000 camera) at 256 x 256 on one core and prints
images/s. References measured in the same run:

- ``background``: `random_background` alone at the same size (every render includes it),
  so the ratio shows what the body itself costs;
- ``pyvista`` (``--pyvista``): an off-screen PyVista/VTK render of the same capsule scene
  (one ``pv.Capsule`` per capsule, same camera, same size), the obvious alternative.

    PYTHONPATH=. python3 benchmarks/synthetic_images.py [--images 300] [--pyvista]
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
import torch

from poseviz.data.occlusion import body_capsules, capsule_segments
from poseviz.data.synthetic import random_background, render_person_crop
from poseviz.geometry import euler_to_matrix
from poseviz.structures import Camera

# A standing h36m17 pose in metres (x left, y up, z forward of the person).
STANDING = np.array(
    [[0, 1, 0], [-0.13, 1, 0], [-0.13, 0.55, 0], [-0.13, 0.1, 0], [0.13, 1, 0],
     [0.13, 0.55, 0], [0.13, 0.1, 0], [0, 1.23, 0], [0, 1.48, 0], [0, 1.6, 0.05],
     [0, 1.72, 0], [0.17, 1.45, 0], [0.22, 1.17, 0], [0.24, 0.92, 0], [-0.17, 1.45, 0],
     [-0.22, 1.17, 0], [-0.24, 0.92, 0]]
)  # fmt: skip
FRONT = np.diag([1.0, -1.0, -1.0])  # body frame -> camera frame, facing the camera


def random_poses(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 17, 3)`` camera-frame poses: the standing pose with joints moved by up to
    0.12 m, turned about the vertical at random, 3-6 m in front of the camera."""
    body = STANDING[None] - STANDING[0] + rng.uniform(-0.12, 0.12, (n, 17, 3))
    angles = np.stack([np.zeros(n), rng.uniform(-np.pi, np.pi, n), np.zeros(n)], 1)
    R = FRONT @ np.asarray(euler_to_matrix(angles, "XYZ", degrees=False))
    depth = rng.uniform(3, 6, n)
    return np.einsum("nij,nkj->nki", R, body) + np.stack([0 * depth, 0 * depth, depth], 1)[:, None]


def rate(fn, n: int) -> float:
    fn(0)  # warm-up
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


class PyVistaScene:
    """The same capsule body drawn by VTK off screen through the crop camera."""

    def __init__(self, size: int) -> None:
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
        import pyvista as pv

        self.pv = pv
        self.plotter = pv.Plotter(off_screen=True, window_size=(size, size))
        self.capsules = body_capsules("h36m17")

    def render(self, joints_cam: np.ndarray, camera: Camera) -> np.ndarray:
        pv, p = self.pv, self.plotter
        p.clear()
        ends_a, ends_b = capsule_segments(joints_cam, self.capsules)
        for c, a, b in zip(self.capsules, ends_a, ends_b, strict=True):
            length = float(np.linalg.norm(b - a))
            p.add_mesh(
                pv.Capsule(center=(a + b) / 2, direction=b - a, radius=c.radius,
                           cylinder_length=max(length, 1e-6), resolution=16),
                color="tan",
            )  # fmt: skip
        cam = p.camera
        cam.position, cam.focal_point, cam.up = (0, 0, 0), (0, 0, 1), (0, -1, 0)
        cam.view_angle = float(np.degrees(2 * np.arctan(camera.height / 2 / camera.fy)))
        cam.clipping_range = (0.1, 100)
        return p.screenshot(return_img=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--pyvista", action="store_true", help="also time a PyVista render")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core, as a DataLoader worker would use
    torch.set_num_threads(1)
    S = args.size
    cam = Camera(id="c", width=1000, height=1000, fx=1100, fy=1100, cx=500, cy=500)
    poses = random_poses(np.random.default_rng(0), args.images + 1)

    def render(i: int) -> None:
        render_person_crop(poses[i], cam, size=(S, S), rng=i)

    def background(i: int) -> None:
        random_background(S, S, np.random.default_rng(i))

    ours = rate(render, args.images)
    ref = rate(background, args.images)
    print(f"render_person_crop {S}x{S}: {ours:,.0f} images/s (one core)")
    print(f"reference random_background {S}x{S}: {ref:,.0f} images/s")
    print(f"ratio render / background time: {ref / ours:.1f}x")
    if args.pyvista:
        scene = PyVistaScene(S)
        crops = [render_person_crop(p, cam, size=(S, S), rng=0) for p in poses[:50]]
        pv_rate = rate(lambda i: scene.render(crops[i].joints_3d, crops[i].camera), 49)
        print(f"reference PyVista off-screen, same capsules {S}x{S}: {pv_rate:,.1f} images/s")
        print(f"ratio PyVista / render time: {ours / pv_rate:.1f}x")


if __name__ == "__main__":
    main()
