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


# Command groups; later subsystems append their own `_add_*` here.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_skeleton, _add_data]
COMMANDS.append(_add_models)
COMMANDS += [_add_train, _add_evaluate, _add_predict]


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
