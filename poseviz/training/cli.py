"""``poseviz train CONFIG [--set KEY=VALUE ...] [--resume]``.

Runs unchanged under ``torchrun --nproc_per_node N -m poseviz.cli train CONFIG``
(DistributedDataParallel; rank 0 prints and writes).
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_train"]


def _cmd_train(args: argparse.Namespace) -> int:
    from poseviz.training.config import load_config
    from poseviz.training.trainer import Trainer, TrainingDiverged

    config = load_config(args.config, args.set)
    main = int(os.environ.get("RANK", "0")) == 0
    try:
        result = Trainer(config, overrides=args.set).fit(resume=args.resume)
    except TrainingDiverged as err:
        print(f"poseviz: training stopped: {err}", file=sys.stderr)
        return 3
    if not main:
        return 0
    if result.interrupted:
        print(
            f"interrupted at step {result.step}; checkpoint {result.checkpoint}. "
            f"Continue with: poseviz train {args.config} --resume",
            file=sys.stderr,
        )
        return 130
    val = ", ".join(f"val {k} {v:.4g}" for k, v in result.val.items() if k in ("loss", "mpjpe_mm"))
    if result.time_limited:
        print(f"stopped at the time limit ({config.trainer.time_limit_min:g} min)")
    print(
        f"trained {config.model.name} for {result.step} steps ({result.epoch} epochs, "
        f"{result.seconds / 60:.1f} min): "
        f"train loss {result.train_loss:.4g}{', ' + val if val else ''}"
    )
    print(f"run folder {result.run_dir} (model folder: config.yaml + model.safetensors)")
    return 0


def add_train(sub: argparse._SubParsersAction) -> None:
    """Add the ``train`` command to the ``poseviz`` parser."""
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (also under torchrun for several processes)",
        description=(
            "Train a lifting model from a YAML config (see poseviz.training.config). "
            "The run folder (trainer.out, default runs/<name>) gets config.yaml, run.json "
            "(command line and --set overrides), train.csv / val.csv, TensorBoard events "
            "when installed, checkpoints/ and finally model.safetensors."
        ),
    )
    p.add_argument("config", help="YAML training config, e.g. models/gla_gcn/config.yaml")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value (dotted key, YAML value), e.g. --set optim.lr=5e-4",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run folder's latest checkpoint exactly where it stopped",
    )
    p.set_defaults(handler=_cmd_train)
