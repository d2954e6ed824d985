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


def _add_train(sub: argparse._SubParsersAction) -> None:
    from poseviz.training.cli import add_train

    add_train(sub)


# Command groups; later subsystems append their own `_add_*` here.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_skeleton, _add_data]
COMMANDS.append(_add_train)


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
