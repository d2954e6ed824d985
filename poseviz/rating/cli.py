"""``poseviz rating``: create a MOS study from prediction files, invite raters, screen the
votes, export the validation set and report how well each metric agrees with people.

    poseviz rating create-study preds.npz ... --db study.db [--data demo] [--invite 50]
    poseviz rating invite STUDY --db study.db -n 10 --base-url https://host/rate
    poseviz rating screen STUDY --db study.db [--zscore]
    poseviz rating export STUDY --db study.db -o validation/
    poseviz rating report STUDY --db study.db -o report/

``--db`` is a SQLite file or an SQLAlchemy URL (``postgresql+psycopg://...``). The ground
truth of each prediction comes from the dataset it was predicted on (``--data``: ``demo``
or any path `poseviz.data.load` reads), matched by sequence name and camera id. This module
reads prediction and dataset files, the one place in `poseviz.rating` that imports
`poseviz.data` (an import-linter exception in pyproject.toml).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_rating", "pairs_from_predictions"]


def pairs_from_predictions(predictions: Sequence, sequences: Sequence) -> list:
    """Match each `Prediction` with its ground truth and return `PosePair` records.

    The reference is the sequence's world 3D at the prediction's frames, moved into the
    prediction's camera and made root-relative (pelvis at the origin), in metres. Per-frame
    occlusion severity comes from the sequence's occlusion labels for that camera, or is
    computed from the body's capsules (`poseviz.data.occlusion`) when it has none.

    Raises ``ValueError`` naming the prediction when its sequence, camera or frames are not
    in the data.
    """
    from poseviz.data.batch import SEVERITIES
    from poseviz.data.occlusion import occlusion_labels, occlusion_severity
    from poseviz.geometry import world_to_camera
    from poseviz.rating.builder import PosePair

    by_name = {s.name: s for s in sequences}
    pairs = []
    for p in predictions:
        where = f"prediction {p.model_id}/{p.sequence_id}/{p.camera_id}"
        seq = by_name.get(p.sequence_id)
        if seq is None:
            raise ValueError(
                f"{where}: sequence {p.sequence_id!r} is not in the data; it has "
                f"{sorted(by_name)[:8]}{' ...' if len(by_name) > 8 else ''}"
            )
        if seq.joints_3d is None:
            raise ValueError(f"{where}: sequence {seq.name!r} has no 3D ground truth")
        camera = seq.cameras.get(p.camera_id)
        if camera is None:
            raise ValueError(f"{where}: sequence {seq.name!r} has no camera {p.camera_id!r}")
        frames = p.frame_indices
        if frames.min() < 0 or frames.max() >= seq.num_frames:
            raise ValueError(
                f"{where}: frame indices {frames.min()}..{frames.max()} are outside the "
                f"sequence's {seq.num_frames} frames"
            )
        if p.joints_3d.shape[1] != seq.num_joints:
            raise ValueError(
                f"{where}: {p.joints_3d.shape[1]} joints, the ground truth has {seq.num_joints}"
            )
        world = seq.joints_3d[frames]
        if not np.isfinite(world).all():
            raise ValueError(f"{where}: the ground truth has gaps (NaN) in the predicted frames")
        cam = world_to_camera(world, camera)
        occluded = seq.occluded.get(p.camera_id)
        occluded = occlusion_labels(cam, camera) if occluded is None else occluded[frames]
        severity = [SEVERITIES[i] for i in occlusion_severity(occluded)]
        pairs.append(
            PosePair(
                reference=cam - cam[:, :1],
                predicted=p.joints_3d - p.joints_3d[:, :1],
                source_model=p.model_id,
                sequence_id=p.sequence_id,
                camera_id=p.camera_id,
                severity=severity,
                frame_offset=int(frames[0]),
            )
        )
    return pairs


@contextmanager
def _store(args: argparse.Namespace, *, create: bool = False) -> Iterator[Any]:
    """The study database of ``--db``, disposed of when the command is done with it."""
    from poseviz.rating.store import Store

    store = Store(args.db, create=create)
    try:
        yield store
    finally:
        store.dispose()


def _load_sequences(data: str) -> list:
    if data == "demo":
        from poseviz.data import load_demo

        return load_demo()
    from poseviz.data import load

    return load(data)


def _print_invites(invites: list[tuple[str, str]], out: str | None) -> None:
    rows = [("rater", "invite")] + list(invites)
    if out:
        with open(out, "w", newline="") as f:
            csv.writer(f).writerows(rows)
        print(f"wrote {len(invites)} invite links to {out} (only hashes are stored: keep it)")
    else:
        csv.writer(sys.stdout).writerows(rows)


def _cmd_create(args: argparse.Namespace) -> int:
    from poseviz.data.predictions import load_predictions
    from poseviz.rating.builder import StudyLayout, create_study, invite_raters

    predictions = [p for path in args.predictions for p in load_predictions(path)]
    pairs = pairs_from_predictions(predictions, _load_sequences(args.data))
    layout = StudyLayout(clip_frames=args.clip_frames, clips_per_cell=args.clips_per_cell)
    name = args.name or Path(args.predictions[0]).stem
    with _store(args, create=True) as store:
        sid = create_study(store, name, pairs, layout=layout, seed=args.seed, fps=args.fps)
        print(f"created study {name!r} (id {sid}) in {store.url} from {len(pairs)} predictions")
        if args.invite:
            _print_invites(invite_raters(store, sid, args.invite, base_url=args.base_url), args.out)
    return 0


def _cmd_invite(args: argparse.Namespace) -> int:
    from poseviz.rating.admin import study_id
    from poseviz.rating.builder import invite_raters

    with _store(args) as store:
        sid = study_id(store, args.study)
        _print_invites(invite_raters(store, sid, args.count, base_url=args.base_url), args.out)
    return 0


def _cmd_screen(args: argparse.Namespace) -> int:
    from poseviz.rating.admin import run_screening, study_id
    from poseviz.rating.screening import ScreeningConfig

    with _store(args) as store:
        result = run_screening(
            store, study_id(store, args.study), ScreeningConfig(zscore=args.zscore)
        )
    print(
        f"kept {len(result.kept_raters)} raters, rejected {len(result.rejected_raters)} raters "
        f"and {len(result.rejected_sessions)} sessions; MOS for {len(result.mos)} stimuli"
    )
    for rater, reason in sorted(result.rejected_raters.items()):
        print(f"  rater {rater}: {reason}")
    for session, reason in sorted(result.rejected_sessions.items()):
        print(f"  session {session}: {reason}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from poseviz.rating.admin import export_validation_set, study_id

    with _store(args) as store:
        npz, table = export_validation_set(store, study_id(store, args.study), args.out)
    print(f"wrote {npz} and {table}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from poseviz.rating.admin import study_id
    from poseviz.rating.report import validation_report, write_report

    with _store(args) as store:
        report = validation_report(
            store, study_id(store, args.study), bootstrap=args.bootstrap, seed=args.seed
        )
    files = write_report(report, args.out)
    print(report.markdown())
    print("\nwrote " + ", ".join(str(f) for f in files))
    return 0


def add_rating(sub: argparse._SubParsersAction) -> None:
    """Add the ``rating`` command group to the ``poseviz`` parser."""
    p = sub.add_parser("rating", help="MOS studies: create, invite, screen, export, report")
    group = p.add_subparsers(title="rating commands", metavar="SUBCOMMAND")

    def command(name: str, handler, help: str, *, study: bool = True) -> argparse.ArgumentParser:
        c = group.add_parser(name, help=help)
        if study:
            c.add_argument("study", help="study name or id")
        c.add_argument("--db", required=True, help="SQLite file or SQLAlchemy URL")
        c.set_defaults(handler=handler)
        return c

    c = command("create-study", _cmd_create, "build a study from prediction files", study=False)
    c.add_argument("predictions", nargs="+", help="prediction .npz files (poseviz predict)")
    c.add_argument(
        "--data", default="demo", help="dataset the predictions came from (default: demo)"
    )
    c.add_argument("--name", help="study name (default: the first file's stem)")
    c.add_argument("--clip-frames", type=int, default=120, help="frames per clip (default 120)")
    c.add_argument("--clips-per-cell", type=int, default=4, help="rated clips per model x severity")
    c.add_argument("--fps", type=float, default=25.0, help="playback rate of the clips")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--invite", type=int, default=0, metavar="N", help="also invite N raters")
    c.add_argument("--base-url", default="", help="rater app URL for the invite links")
    c.add_argument("-o", "--out", help="write the invite links to this CSV (default: stdout)")

    c = command("invite", _cmd_invite, "invite raters: prints one link per rater")
    c.add_argument("-n", "--count", type=int, required=True)
    c.add_argument("--base-url", default="", help="rater app URL, e.g. https://host/rate")
    c.add_argument("-o", "--out", help="write the links to this CSV (default: stdout)")

    c = command("screen", _cmd_screen, "screen raters and sessions, aggregate MOS")
    c.add_argument("--zscore", action="store_true", help="per-rater z-score normalisation")

    c = command("export", _cmd_export, "write the validation set (npz + CSV)")
    c.add_argument("-o", "--out", required=True, help="output folder")

    c = command("report", _cmd_report, "metric-vs-MOS agreement (table, HTML and PNG plots)")
    c.add_argument("-o", "--out", default="rating_report", help="output folder")
    c.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs")
    c.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=lambda args: (p.print_help(), 0)[1])
