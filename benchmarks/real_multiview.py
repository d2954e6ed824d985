"""Monocular lifting against a multi-view reference on real video (the Pose2Sim demo).

    python benchmarks/real_multiview.py [--data ../shared/data/pose2sim_demo]
        [--models models/NAME ...] [--max-error-px 30] [--cache-dir DIR]
        [--flip-tta {off,on,both}] [--level {off,on,both}] [--per-joint]

1. Detects 2D (MediaPipe BlazePose -> h36m17, `poseviz.inference.video.track_video`) in the
   four calibrated camera videos (100 frames at 60 fps, one person).
2. Triangulates each frame's joints with weighted DLT (weights = detector confidence),
   keeping per joint the largest set of views that all reproject within ``--max-error-px``
   (default 30 px: about 3 % of the person's ~1000 px height in these 1080x1920 portrait
   views, several times MediaPipe's typical 2D error, so only views that really disagree,
   e.g. a left/right swap or a limb hidden behind the body, are dropped; see
   `poseviz.inference.multiview.triangulate_consistent`). Prints the reference's
   reprojection error.
3. For each camera: the reference in that camera's frame, root-relative (pelvis at the
   origin); every model lifts that camera's 2D (`poseviz.inference.load_model` /
   `predict_sequence`); MediaPipe's own monocular world landmarks (``pose_world_landmarks``,
   hip-centred, camera-aligned axes) are scored the same way. Models that read images get
   real person crops (`poseviz.inference.video.lift_tracked_video`); each model is scored
   without and with flip test-time augmentation (``--flip-tta``) and, keypoint models
   with flip TTA, also levelled (``--level``: each view lifted as a camera turned about
   its optical axis so that the median trunk points up the image, the 3D turned back;
   `poseviz.inference.level`, no calibration used). MPJPE is the mean joint
   distance (mm) without alignment; PA-MPJPE after a similarity Procrustes alignment per
   frame (`poseviz.geometry.procrustes_align`, VideoPose3D's p_mpjpe). Only frames where
   the reference has all 17 joints and the person was detected in that view count.

The reference is built from the same MediaPipe 2D that the models lift, so 2D errors common
to all views are in the reference too: the table compares 3D reasoning, not 2D detection.
Models default to every ``models/*/`` folder with a ``config.yaml``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from poseviz.data.pose2sim import read_pose2sim  # noqa: E402
from poseviz.geometry import procrustes_align, world_to_camera  # noqa: E402
from poseviz.inference.level import supports_level  # noqa: E402
from poseviz.inference.multiview import triangulate_consistent  # noqa: E402
from poseviz.inference.video import lift_tracked_video, track_video  # noqa: E402


def errors_mm(pred: np.ndarray, ref: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(MPJPE, PA-MPJPE, per-joint PA-MPJPE ``(J,)``) in millimetres of ``(T, J, 3)``
    root-relative poses in metres."""
    mpjpe = np.linalg.norm(pred - ref, axis=-1).mean()
    pa = 1000 * np.linalg.norm(procrustes_align(pred, ref) - ref, axis=-1).mean(0)
    return 1000 * float(mpjpe), float(pa.mean()), pa


def time_detection(video: str, frames: int) -> None:
    """ms per frame of MediaPipe's bare ``Pose.process`` loop (the reference) and of
    `detect_video` without cache (hashing, h36m17 mapping, online tracking, re-detection)."""
    import cv2

    from poseviz.inference.detect import MediaPipeDetector
    from poseviz.inference.video import detect_video, iter_frames

    images = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in iter_frames(video, frames)]
    det = MediaPipeDetector()
    det._video.process(images[0])  # graph start-up is not per-frame work
    t0 = time.perf_counter()
    for im in images:
        det._video.process(im)
    bare = (time.perf_counter() - t0) / len(images)
    det.close()
    det = MediaPipeDetector()
    det._video.process(images[0])
    t0 = time.perf_counter()
    detect_video(video, detector=det, max_frames=len(images), use_cache=False, progress=False)
    ours = (time.perf_counter() - t0) / len(images)
    det.close()
    print(
        f"timing on {len(images)} frames of {Path(video).name}: MediaPipe alone "
        f"{1000 * bare:.1f} ms/frame, detect_video {1000 * ours:.1f} ms/frame "
        f"(ratio {ours / bare:.2f}; wall clock on a shared machine)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "pose2sim_demo"))
    p.add_argument("--models", nargs="*", default=None, help="model folders or names")
    p.add_argument("--max-error-px", type=float, default=30.0)
    p.add_argument("--cache-dir", default=None, help="detection cache (default: user cache)")
    p.add_argument(
        "--timing", type=int, default=0, metavar="N",
        help="first time MediaPipe alone against detect_video (uncached) on N frames",
    )  # fmt: skip
    p.add_argument(
        "--flip-tta", choices=("off", "on", "both"), default="both",
        help="lift with flip test-time augmentation: off, on, or both rows (default)",
    )  # fmt: skip
    p.add_argument(
        "--level", choices=("off", "on", "both"), default="both",
        help="keypoint models: lift levelled views (with flip TTA when it is on): off, on, or "
        "both rows (default)",
    )  # fmt: skip
    p.add_argument(
        "--per-joint", action="store_true",
        help="also print each method's PA-MPJPE per joint (mean over the cameras)",
    )  # fmt: skip
    args = p.parse_args(argv)

    (rig,) = read_pose2sim(args.data)
    if args.timing:
        time_detection(rig.video[sorted(rig.video)[0]], args.timing)
    cam_ids = sorted(rig.video)
    cams = [rig.cameras[c] for c in cam_ids]
    tracked, seconds = {}, 0.0
    for cid in cam_ids:
        t0 = time.perf_counter()
        tracked[cid] = track_video(rig.video[cid], camera_id=cid, cache_dir=args.cache_dir)
        seconds += time.perf_counter() - t0
    T = min(tv.sequence.num_frames for tv in tracked.values())
    frames = sum(tv.sequence.num_frames for tv in tracked.values())
    print(f"2D detection: {len(cam_ids)} videos, {frames} frames, {1000 * seconds / frames:.1f} ms/frame "
          "(including cache reads on a second run)")  # fmt: skip
    for cid, tv in tracked.items():
        print(
            f"  {cid}: person detected in {tv.track.detected.sum()}/{tv.sequence.num_frames} frames"
        )

    x = np.stack([tracked[c].sequence.joints_2d[c][:T] for c in cam_ids])  # (V, T, 17, 2)
    conf = np.stack([tracked[c].sequence.confidence[c][:T] for c in cam_ids])  # 0 in gaps
    X, used, err = triangulate_consistent(
        x, cams, conf, max_error_px=args.max_error_px, min_weight=0.0
    )
    complete = np.isfinite(X).all((-1, -2))
    used_err = err[used]
    print(
        f"\nreference: {complete.sum()}/{T} frames with all 17 joints; "
        f"{np.isfinite(X).all(-1).mean():.1%} of joints triangulated; "
        f"views used per joint {used.sum(0)[np.isfinite(X).all(-1)].mean():.2f} of {len(cams)}"
    )
    print(
        f"reprojection error of the reference over used views: mean {used_err.mean():.1f} px, "
        f"median {np.median(used_err):.1f} px, 95th percentile {np.percentile(used_err, 95):.1f} px "
        f"(threshold {args.max_error_px:g} px)"
    )

    # Reference per camera: camera frame, root-relative.
    refs = {}
    for v, cid in enumerate(cam_ids):
        Xc = world_to_camera(np.nan_to_num(X), cams[v])
        ok = complete & tracked[cid].track.detected[:T]
        refs[cid] = (Xc - Xc[:, :1])[ok], ok

    rows = {}
    for cid in cam_ids:
        world = tracked[cid].world_3d[:T]
        ref, ok = refs[cid]
        rows.setdefault("MediaPipe world landmarks", {})[cid] = errors_mm(world[ok], ref)

    model_paths = args.models
    if model_paths is None:
        model_paths = sorted(
            str(d) for d in (REPO / "models").glob("*") if (d / "config.yaml").is_file()
        )
    if model_paths:
        import poseviz.inference as inference

        if not hasattr(inference, "load_model"):
            print("\n(models skipped: poseviz.inference.load_model is not in this installation)")
            model_paths = []
    flips = {"off": [False], "on": [True], "both": [False, True]}[args.flip_tta]
    variants = [(f, False) for f in flips] if args.level != "on" else []
    if args.level != "off":
        variants.append((flips[-1], True))
    for mp in model_paths:
        model = inference.load_model(mp)
        levels = supports_level(model)
        runs = [(f, lv, c) for f, lv in variants if levels or not lv for c in cam_ids]
        for flip, level, cid in runs:
            pred, _ = lift_tracked_video(
                tracked[cid], model, model_id=Path(mp).name, flip_tta=flip, level=level
            )
            full = np.full((tracked[cid].sequence.num_frames, 17, 3), np.nan)
            full[np.asarray(pred.frame_indices)] = pred.joints_3d
            ref, ok = refs[cid]
            have = np.isfinite(full[:T][ok]).all((-1, -2))
            name = Path(mp).name + (" + flip TTA" if flip else "") + (" + level" if level else "")
            rows.setdefault(name, {})[cid] = errors_mm(full[:T][ok][have], ref[have])
    if not model_paths:
        print("\n(no shipped models found: pass --models, or add models/*/config.yaml)")

    print(f"\nPA-MPJPE / MPJPE in mm against the triangulated reference ({len(cam_ids)} cameras)")
    head = f"{'method':32s}" + "".join(f"{c:>18s}" for c in cam_ids) + f"{'mean':>18s}"
    print(head)
    print("-" * len(head))
    for name, per_cam in rows.items():
        cells = [f"{per_cam[c][1]:7.1f} / {per_cam[c][0]:6.1f}  " for c in cam_ids]
        mean_pa = np.mean([per_cam[c][1] for c in cam_ids])
        mean_mp = np.mean([per_cam[c][0] for c in cam_ids])
        print(
            f"{name:32s}" + "".join(f"{c:>18s}" for c in cells) + f"{mean_pa:9.1f} / {mean_mp:6.1f}"
        )
    if args.per_joint:
        from poseviz.skeleton import get_skeleton

        names = list(rows)
        print("\nPA-MPJPE per joint in mm, mean over the cameras")
        print(f"{'joint':14s}" + "".join(f"{n[:12]:>14s}" for n in names))
        for j, joint in enumerate(get_skeleton("h36m17").names):
            cells = [np.mean([rows[n][c][2][j] for c in cam_ids]) for n in names]
            print(f"{joint:14s}" + "".join(f"{v:14.1f}" for v in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
