"""The ``poseviz`` command.

Each command group is a small function that adds its sub-parser; the heavy imports happen
inside the handlers so ``poseviz --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import poseviz

Handler = Callable[[argparse.Namespace], int]


def _cmd_skeleton(args: argparse.Namespace) -> int:
    from poseviz.skeleton import CONVERSIONS, get_skeleton, list_skeletons

    if args.name is None:
        for name in list_skeletons():
            sk = get_skeleton(name)
            note = "canonical" if name == "h36m17" else ("-> h36m17" if name in CONVERSIONS else "")
            print(f"{name:18s} {sk.num_joints:3d} joints  {note}")
        return 0
    sk = get_skeleton(args.name)
    recipe = CONVERSIONS.get(args.name, {})
    print(f"{sk.name}: {sk.num_joints} joints, root {sk.names[sk.root]!r}")
    for j, (n, p) in enumerate(zip(sk.names, sk.parents, strict=True)):
        side = "L" if j in sk.left else "R" if j in sk.right else " "
        parent = sk.names[p] if p >= 0 else "-"
        print(f"  {j:2d} {side} {n:18s} parent {parent}")
    if recipe and args.name != "h36m17":
        print("conversion to h36m17 (mean of the listed joints):")
        for target, src in recipe.items():
            print(f"  {target:12s} <- {' + '.join(src)}")
    return 0


def _add_skeleton(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("skeleton", help="list joint layouts, or show one and its map to h36m17")
    p.add_argument("name", nargs="?", help="layout name, e.g. coco17")
    p.set_defaults(handler=_cmd_skeleton)


def _add_data(sub: argparse._SubParsersAction) -> None:
    from poseviz.data.cli import add_data

    add_data(sub)


def _cmd_lift(args: argparse.Namespace) -> int:
    """Video -> tracked 2D -> 3D with a model; writes predictions and an overlay MP4."""
    from pathlib import Path

    from poseviz.inference.detect import MissingExtraError

    video, outdir = Path(args.video), Path(args.output)
    created = not outdir.exists()
    try:
        return _lift(args, video, outdir)
    except MissingExtraError as err:
        print(f"poseviz: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("poseviz lift: interrupted; no output written", file=sys.stderr)
        return 130
    finally:
        if created and outdir.is_dir() and not any(outdir.iterdir()):
            outdir.rmdir()  # a failed or interrupted run leaves nothing behind


def _lift(args: argparse.Namespace, video, outdir) -> int:
    import os
    import tempfile
    from pathlib import Path

    import numpy as np

    import poseviz.inference as inference
    from poseviz.data.predictions import save_predictions
    from poseviz.data.tracking import fill_gaps
    from poseviz.inference.video import lift_tracked_video, read_video_info, track_video
    from poseviz.viz.render import write_overlay_video

    read_video_info(video)  # a missing or corrupt video fails first, with its own message
    tracked = track_video(  # then one with no person, before a model is loaded
        video,
        smooth=args.smooth,
        max_frames=args.max_frames,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        progress=not args.quiet,
    )
    if not hasattr(inference, "load_model"):
        raise ValueError(
            "lifting needs poseviz.inference.load_model (the training engine), which this "
            "installation lacks"
        )
    model = inference.load_model(args.model)
    seq, cam, track = tracked.sequence, tracked.camera_id, tracked.track
    pred, mediapipe = lift_tracked_video(
        tracked,
        model,
        model_id=Path(args.model).name or str(args.model),
        flip_tta=args.flip_tta,
        level=args.level,
        progress=not args.quiet,
    )
    idx = np.asarray(pred.frame_indices)
    stem = video.stem
    final = {
        "predictions": outdir / f"{stem}.predictions.npz",
        "overlay": outdir / f"{stem}.overlay.mp4",
    }
    outdir.mkdir(parents=True, exist_ok=True)
    tmp_pred = Path(tempfile.mkstemp(prefix=f".{stem}.", suffix=".npz", dir=outdir)[1])
    tmp_mp4 = outdir / f".{tmp_pred.stem}.mp4"
    try:
        save_predictions(tmp_pred, [pred, mediapipe])
        joints_3d = np.full((seq.num_frames, 17, 3), np.nan)
        joints_3d[idx] = pred.joints_3d
        joints_3d = fill_gaps(joints_3d, np.isfinite(joints_3d).all(-1))
        write_overlay_video(
            tmp_mp4,
            video,
            seq.joints_2d[cam],
            joints_3d,
            confidence=seq.confidence[cam],
            fps=seq.fps,
            progress=not args.quiet,
            label=final["overlay"].name,
        )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_pred, 0o666 & ~umask)
        os.replace(tmp_pred, final["predictions"])
        os.replace(tmp_mp4, final["overlay"])
    finally:
        tmp_pred.unlink(missing_ok=True)
        tmp_mp4.unlink(missing_ok=True)
    print(
        f"{video.name}: {seq.num_frames} frames, person detected in {track.detected.sum()} "
        f"({100 * track.coverage:.0f}%), lifted with {pred.model_id}"
    )
    for path in final.values():
        print(f"  wrote {path}")
    return 0


def _add_lift(sub: argparse._SubParsersAction) -> None:
    from poseviz.inference.cli import add_tta_arguments

    p = sub.add_parser(
        "lift",
        help="video -> 2D (MediaPipe, cached) -> 3D; writes predictions and an overlay MP4",
    )
    p.add_argument("video", help="video file (anything OpenCV decodes)")
    p.add_argument("--model", required=True, help="model folder (models/NAME) or checkpoint")
    p.add_argument("-o", "--output", required=True, help="output folder")
    p.add_argument("--max-frames", type=int, default=None, help="only the first N frames")
    add_tta_arguments(p)
    p.add_argument(
        "--smooth",
        choices=("none", "one_euro", "savgol"),
        default="none",
        help="temporal smoothing of the 2D keypoints before lifting",
    )
    p.add_argument("--cache-dir", default=None, help="detection cache folder")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_lift)


def _add_models(sub: argparse._SubParsersAction) -> None:
    # The parser is built here so that `poseviz --help` does not import torch; the handlers
    # live in poseviz.models.cli.
    def run(name: str) -> Handler:
        def handler(args: argparse.Namespace) -> int:
            from poseviz.models import cli

            return getattr(cli, name)(args)

        return handler

    p = sub.add_parser("models", help="list the registered lifting models or describe one")
    group = p.add_subparsers(title="models commands", metavar="SUBCOMMAND")
    group.add_parser("list", help="every registered model with its size").set_defaults(
        handler=run("cmd_list")
    )
    info = group.add_parser(
        "info", help="parameters, MACs at the default input, receptive field, inputs, config"
    )
    info.add_argument("name", help="registered model name (see `poseviz models list`)")
    info.add_argument(
        "--frames", type=int, help="input frames for the MAC count (default: receptive field)"
    )
    info.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field (YAML value), e.g. --set channels=256",
    )
    info.set_defaults(handler=run("cmd_info"))
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])


def _add_train(sub: argparse._SubParsersAction) -> None:
    from poseviz.training.cli import add_train

    add_train(sub)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    from poseviz.inference.cli import add_predict

    add_predict(sub)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    # evaluation = inference (predict every view) + training's report (score and write)
    from pathlib import Path

    from poseviz.inference.cli import run_predictions
    from poseviz.training.evaluate import HEADLINE, score_predictions, write_report

    predictions, sequences, model_id = run_predictions(args)
    report = score_predictions(predictions, sequences, label=model_id, progress=not args.quiet)
    out = Path(args.output or Path("eval") / model_id)
    info = {
        "model": str(args.model),
        "data": str(args.data),
        "flip_tta": bool(args.flip_tta),
        "level": bool(args.level),
        "views": len(predictions),
        "frames": sum(p.num_frames for p in predictions),
    }
    paths = write_report(report, out, info=info)
    shown = [f"{k} {report.overall[k]:.4g}" for k in HEADLINE if k in report.overall]
    print(f"{model_id} on {args.data}: " + ", ".join(shown))
    print(f"wrote {paths['metrics']}, {paths['markdown']} and tables in {out / 'tables'}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    from poseviz.inference.cli import add_model_arguments

    p = sub.add_parser(
        "evaluate",
        help="score a trained model on a dataset: metrics.json and per-action/joint/severity tables",
        description=(
            "Predict every view of DATA with MODEL and score it: MPJPE, P-MPJPE, N-MPJPE, "
            "MPJVE, PCK/AUC, PSIM+ (spatial, temporal), LSE, BSLE, depth-order accuracy; "
            "overall, per joint, per action, camera, sequence and occlusion severity."
        ),
    )
    add_model_arguments(p)
    p.add_argument("-o", "--output", help="report folder (default eval/<model>)")
    p.set_defaults(handler=_cmd_evaluate)


def _add_rating(sub: argparse._SubParsersAction) -> None:
    from poseviz.rating.cli import add_rating

    add_rating(sub)


# Command groups, in the order `poseviz --help` lists them.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_skeleton,
    _add_data,
    _add_models,
    _add_train,
    _add_evaluate,
    _add_predict,
    _add_lift,
    _add_rating,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="poseviz",
        description="Train, evaluate, run and compare 2D-to-3D human pose lifting models.",
    )
    parser.add_argument("--version", action="version", version=f"poseviz {poseviz.__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"poseviz: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
