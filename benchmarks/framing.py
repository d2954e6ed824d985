"""How large people are in the frame: a training config's windows against real video.

    python benchmarks/framing.py [--config models/gla_gcn/config.yaml] [--zoom 1 3]
        [--data ../shared/data/pose2sim_demo] [--windows 4096]

Prints the person's height in normalised screen units (``x / w * 2 - 1``: the image width
is 2; the span of the 17 joints' y, head top to ankles) in the config's training windows
(centre frame of ``--windows`` random windows, for each ``--zoom`` factor of
``data.options.zoom``) and in each camera of the Pose2Sim demo's MediaPipe 2D. Virtual
cameras keep a whole clip in view, so without zoom training people are smaller in the frame
than in hand-held video; this is the gap `data.options.zoom` closes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def describe(heights: np.ndarray) -> str:
    p10, p50, p90 = np.percentile(heights, [10, 50, 90])
    return f"median {p50:.2f}, 10-90 % {p10:.2f}-{p90:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=str(REPO / "models" / "gla_gcn" / "config.yaml"))
    p.add_argument("--zoom", type=float, nargs="*", default=[1.0, 3.0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "pose2sim_demo"))
    p.add_argument("--windows", type=int, default=4096)
    args = p.parse_args(argv)

    from poseviz.data.pose2sim import read_pose2sim
    from poseviz.geometry import normalize_screen_coordinates
    from poseviz.inference.video import track_video
    from poseviz.models import create_model
    from poseviz.training.config import load_config
    from poseviz.training.data import build_datasets

    for zoom in args.zoom:
        cfg = load_config(args.config, [f"data.options.zoom={zoom}"])
        train, _ = build_datasets(cfg.data, model=create_model(cfg.model.name), seed=0)
        idx = np.random.default_rng(0).choice(len(train), min(args.windows, len(train)), False)
        kp = train.__getitems__(idx.tolist())["keypoints_2d"][..., :2].numpy()
        heights = np.ptp(kp[:, kp.shape[1] // 2, :, 1], axis=-1)
        print(f"training windows, zoom {zoom:g}: {describe(heights)}")
    (rig,) = read_pose2sim(args.data)
    for cid in sorted(rig.video):
        tracked = track_video(rig.video[cid], camera_id=cid, progress=False)
        cam = rig.cameras[cid]
        kp = normalize_screen_coordinates(tracked.sequence.joints_2d[cid], cam.width, cam.height)
        heights = np.ptp(kp[tracked.track.detected][..., 1], axis=-1)
        print(f"{Path(args.data).name} {cid}: {describe(heights)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
