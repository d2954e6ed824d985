"""``poseviz data``: ``info PATH`` (what a file holds) and ``demo`` (build the demo set)."""

from __future__ import annotations

import argparse
from collections import Counter

__all__ = ["add_data", "describe"]


def _joint_count(seq) -> int:
    from poseviz.skeleton import get_skeleton

    try:
        return get_skeleton(seq.skeleton).num_joints
    except ValueError:
        return seq.num_joints


def _video_frames(path: str) -> int | None:
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv is a dependency
        return None
    cap = cv2.VideoCapture(path)
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    finally:
        cap.release()
    return n or None


def describe(sequences: list, path: str, fmt: str) -> str:
    """A short text report of sequences: subjects, actions, frames, cameras, layouts."""
    lines = [f"{path}: format {fmt}, {len(sequences)} sequence(s)"]
    subjects = Counter(s.subject for s in sequences)
    actions = sorted({s.action for s in sequences})
    layouts = Counter(f"{s.skeleton} ({_joint_count(s)} joints)" for s in sequences)
    frames = sum(s.num_frames for s in sequences)
    seconds = sum(s.duration for s in sequences)
    cams = sorted({c for s in sequences for c in s.camera_ids})
    fps = sorted({s.fps for s in sequences})
    lines.append(f"  subjects: {', '.join(f'{k} ({v})' for k, v in sorted(subjects.items()))}")
    shown = ", ".join(actions[:20]) + (
        f", ... ({len(actions)} in all)" if len(actions) > 20 else ""
    )
    lines.append(f"  actions:  {shown}")
    lines.append(
        f"  frames:   {frames} ({seconds:.1f} s at {', '.join(f'{f:g}' for f in fps)} fps)"
    )
    with_3d = sum(s.joints_3d is not None for s in sequences)
    with_2d = sum(bool(s.joints_2d) for s in sequences)
    lines.append(f"  data:     3D in {with_3d}, 2D in {with_2d} sequence(s)")
    lines.append(f"  cameras:  {', '.join(cams) if cams else 'none'}")
    for s in sequences:
        for cid, cam in sorted(s.cameras.items()):
            lines.append(
                f"    {cid}: {cam.width}x{cam.height} px, f=({cam.fx:.1f}, {cam.fy:.1f}), "
                f"c=({cam.cx:.1f}, {cam.cy:.1f}), centre ({', '.join(f'{v:.3f}' for v in cam.center)}) m"
            )
        if s.cameras:
            break
    lines.append(f"  layout:   {', '.join(layouts)}")
    videos = [v for s in sequences for v in s.video.values()]
    if videos:
        counts = sorted({_video_frames(v) for v in videos[:50]} - {None})
        note = f" ({'/'.join(map(str, counts))} frames each)" if counts else ""
        lines.append(f"  videos:   {len(videos)}{note}")
    return "\n".join(lines)


def _cmd_info(args: argparse.Namespace) -> int:
    from poseviz.data.io import detect_format, load

    options = {}
    for item in args.option or []:
        key, _, value = item.partition("=")
        options[key] = {"true": True, "false": False}.get(value.lower(), value)
    fmt = args.format or detect_format(args.path)
    print(describe(load(args.path, format=fmt, **options), args.path, fmt))
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import sys

    try:
        from poseviz.data.demo import load_demo
    except ImportError as err:
        print(
            f"poseviz: the demo dataset builder (poseviz.data.demo) is not available in this "
            f"installation: {err}",
            file=sys.stderr,
        )
        return 1
    sequences = load_demo(rebuild=args.rebuild, progress=not args.quiet)
    print(describe(sequences, "demo dataset", "demo"))
    return 0


def add_data(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group to the ``poseviz`` parser."""
    p = sub.add_parser("data", help="inspect data files, build the demo dataset")
    group = p.add_subparsers(title="data commands", metavar="SUBCOMMAND")
    info = group.add_parser(
        "info", help="what a file holds: subjects, actions, frames, cameras, layout"
    )
    info.add_argument("path", help="a data file or dataset folder")
    info.add_argument("--format", help="format name (default: detected)")
    info.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="reader option, e.g. raw=true, unit=cm",
    )
    info.set_defaults(handler=_cmd_info)
    demo = group.add_parser("demo", help="build (first run) or load the demo dataset")
    demo.add_argument("--rebuild", action="store_true", help="rebuild even if cached")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_cmd_demo)
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])
