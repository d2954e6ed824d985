"""``poseviz predict MODEL DATA -o preds.npz``: lift every view of DATA with a trained model
and write `Prediction` records (with aux outputs) for the compare app."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_model_arguments", "add_predict", "model_label", "run_predictions"]


def model_label(path: str | Path) -> str:
    """A readable id for a model path: the folder name (``models/gla_gcn`` -> ``gla_gcn``),
    ``<run>@step-000100`` for a checkpoint."""
    p = Path(path).resolve()
    if p.is_file():
        p = p.parent
    if p.parent.name == "checkpoints":
        return f"{p.parent.parent.name}@{p.name}"
    return p.name


def add_tta_arguments(p: argparse.ArgumentParser) -> None:
    """--flip-tta and --level, shared by predict, evaluate and lift."""
    p.add_argument(
        "--flip-tta", action="store_true", help="average with the mirrored input's prediction"
    )
    p.add_argument(
        "--level", action="store_true",
        help="lift each view turned about the optical axis so the trunk points up, then turn back",
    )  # fmt: skip


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """MODEL, DATA and the options predict and evaluate share."""
    p.add_argument(
        "model", help="model folder (models/<name>), training run folder or checkpoint folder"
    )
    p.add_argument(
        "data",
        help="'demo' (held-out demo clips), 'demo:train', 'demo:all', or a file/folder poseviz.data.load reads",
    )
    p.add_argument("--camera", action="append", help="only these camera ids (repeatable)")
    add_tta_arguments(p)
    p.add_argument(
        "--batch-size", type=int, default=256, help="windows per forward pass (default 256)"
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run_predictions(args: argparse.Namespace) -> tuple[list, list, str]:
    """``(predictions, sequences, model_id)`` for parsed MODEL/DATA arguments."""
    from poseviz.inference.data import load_sequences
    from poseviz.inference.predict import load_model, predict_sequences

    model = load_model(args.model, device=args.device)
    sequences = load_sequences(args.data, progress=not args.quiet)
    model_id = model_label(args.model)
    predictions = predict_sequences(
        model,
        sequences,
        cameras=args.camera,
        model_id=model_id,
        flip_tta=args.flip_tta,
        level=args.level,
        batch_size=args.batch_size,
        progress=not args.quiet,
    )
    return predictions, sequences, model_id


def _cmd_predict(args: argparse.Namespace) -> int:
    from poseviz.data.predictions import save_predictions

    predictions, _, model_id = run_predictions(args)
    path = save_predictions(args.output, predictions)
    frames = sum(p.num_frames for p in predictions)
    aux = sorted({k for p in predictions for k in p.aux})
    print(
        f"{model_id}: {len(predictions)} view(s), {frames} frames -> {path}"
        + (f" (aux: {', '.join(aux)})" if aux else "")
    )
    return 0


def add_predict(sub: argparse._SubParsersAction) -> None:
    """Add the ``predict`` command to the ``poseviz`` parser."""
    p = sub.add_parser(
        "predict",
        help="lift every view of a dataset with a trained model; write predictions (.npz)",
        description=(
            "Slide a trained model over whole sequences (edge-replicated padding; CUDA when "
            "available) and write Prediction records with auxiliary outputs (occlusion "
            "probabilities, attention maps) for the compare app."
        ),
    )
    add_model_arguments(p)
    p.add_argument("-o", "--output", required=True, help="predictions file to write (.npz)")
    p.set_defaults(handler=_cmd_predict)
