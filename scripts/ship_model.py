"""Turn a finished training run into a shipped model folder ``models/<name>/``.

    poseviz train models/gla_gcn/config.yaml                  # -> runs/gla_gcn
    python3 scripts/ship_model.py runs/gla_gcn models/gla_gcn
    python3 scripts/ship_model.py --table                     # only rebuild models/README.md

It copies the run's ``model.safetensors`` next to the folder's ``config.yaml`` (the config it
was trained from), checks that the folder loads through ``create_model``, runs the same
evaluation as ``poseviz evaluate models/<name> demo -o models/<name>`` (``metrics.json``,
``report.md``, ``tables/``), adds the "predict the mean training pose" baseline on the same
frames (``baseline``: its MPJPE and the model's improvement over it), writes the card
(``README.md``: data, steps, time, hardware, command) and rebuilds the comparison table in
``models/README.md`` from every ``models/*/metrics.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TABLE_START = "<!-- models-table:start -->"
TABLE_END = "<!-- models-table:end -->"
COLUMNS = ("MPJPE", "P-MPJPE", "N-MPJPE", "MPJVE", "PCK", "AUC", "PSIM+", "BSLE", "LSE")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ship(run: Path, folder: Path, *, quiet: bool) -> dict:
    import torch
    import yaml

    from poseviz.inference.data import load_sequences
    from poseviz.inference.predict import load_model, predict_sequences
    from poseviz.models.pretrained import WEIGHTS_FILE
    from poseviz.training.config import load_config
    from poseviz.training.data import build_datasets
    from poseviz.training.evaluate import (
        mean_pose_mpjpe,
        mean_training_pose,
        score_predictions,
        write_report,
    )

    if not (run / WEIGHTS_FILE).is_file():
        raise SystemExit(f"{run}: no {WEIGHTS_FILE} (has the run finished?)")
    if not (folder / "config.yaml").is_file():
        raise SystemExit(f"{folder}: no config.yaml to ship the weights with")
    trained = yaml.safe_load((run / "config.yaml").read_text())
    shipped = yaml.safe_load((folder / "config.yaml").read_text())
    if trained["model"] != shipped["model"]:
        raise SystemExit(
            f"{run} trained model {trained['model']}, but {folder}/config.yaml declares "
            f"{shipped['model']}"
        )
    shutil.copyfile(run / WEIGHTS_FILE, folder / WEIGHTS_FILE)
    model = load_model(folder)
    name = folder.name
    sequences = load_sequences("demo", progress=not quiet)
    preds = predict_sequences(model, sequences, model_id=name, progress=not quiet)
    report = score_predictions(preds, sequences, label=name, progress=not quiet)
    config = load_config(run / "config.yaml")  # as trained (with any --set overrides)
    train_ds, _ = build_datasets(config.data, model=model, seed=config.trainer.seed)
    baseline = mean_pose_mpjpe(mean_training_pose(train_ds), preds, sequences)
    record = json.loads((run / "run.json").read_text())
    with open(run / "train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    steps = int(rows[-1]["step"]) if rows else 0
    epochs = int(rows[-1]["epoch"]) + 1 if rows else 0
    minutes = sum(float(r.get("seconds", 0) or 0) for r in record["runs"]) / 60
    info = {
        "model": name,
        "data": "demo (held-out clips dance_b, getup_faceup, run; 4 cameras each)",
        "flip_tta": False,
        "views": len(preds),
        "frames": sum(p.num_frames for p in preds),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "baseline": {
            "mean_training_pose_MPJPE": baseline,
            "improvement": 1 - report.overall["MPJPE"] / baseline,
        },
    }
    write_report(report, folder, info=info)
    overrides = _reproducing_overrides(record, folder / "config.yaml")
    inputs = tuple(getattr(model, "inputs", ()))
    card = [
        f"# {name}",
        "",
        f"`{config.model.name}` ({_overrides_text(config.model.overrides)}"
        f"{info['parameters'] / 1e6:.2f}M parameters), trained with "
        f"`poseviz train models/{name}/config.yaml`"
        + (f" with `--set {' --set '.join(overrides)}`" if overrides else "")
        + ".",
        "",
        f"- Data: {_data_sentence(config.data, image='image' in inputs, occlusion='occlusion' in inputs)}",
        f"- Training: {steps} steps ({epochs} epochs), {minutes:.1f} min, {record['runs'][-1]['world_size']} "
        f"process(es) on {record['runs'][-1]['device']} ({cpu_name()}, {config.trainer.threads or torch.get_num_threads()} thread(s)), "
        f"poseviz {record['runs'][-1]['poseviz']}, torch {record['runs'][-1]['torch']}.",
        f"- Held-out demo clips: MPJPE {report.overall['MPJPE']:.1f} mm, P-MPJPE "
        f"{report.overall['P-MPJPE']:.1f} mm, PSIM+ {report.overall['PSIM+']:.4f}; predicting the mean "
        f"training pose gives {baseline:.1f} mm ({100 * info['baseline']['improvement']:.1f} % better).",
        f"- Reproduce the numbers: `poseviz evaluate models/{name} demo -o models/{name}`.",
        "",
    ]
    (folder / "README.md").write_text("\n".join(card))
    return info


def _overrides_text(overrides: dict) -> str:
    """The shipped config's changes to the registered model, as ``"dim 96, depth 2; "``
    (empty when it trains the registry's configuration)."""
    return ", ".join(f"{k} {v}" for k, v in overrides.items()) + "; " if overrides else ""


def _reproducing_overrides(record: dict, shipped: Path) -> list[str]:
    """The run's ``--set`` overrides that ``poseviz train <shipped config>`` still needs:
    not ``trainer.out`` (where the run was written) nor those the shipped config already
    holds (a setting tried with ``--set`` and then written into the config)."""
    from poseviz.training.config import config_to_mapping, load_config

    base = config_to_mapping(load_config(shipped))
    out = []
    for o in (o for r in record["runs"] for o in r.get("overrides", [])):
        if o.split("=", 1)[0] == "trainer.out":
            continue
        if config_to_mapping(load_config(shipped, [o])) != base:
            out.append(o)
    return out


def _data_sentence(data, *, image: bool, occlusion: bool = False) -> str:
    """What the run trained on, in words, from its data config."""
    from poseviz.training.sources import clip_options

    options = clip_options(data)
    if image:
        seen = (
            "synthetic person crops (capsule body, random backgrounds) of one frame in "
            f"{options.image_stride}, through each clip's own cameras "
            "(a Human3.6M-like rig for mocap without cameras)"
        )
    else:
        seen = "2D projections under random virtual cameras with random bone lengths"
        if options.noise:
            seen += " and detector-like 2D noise"
        if occlusion:
            seen += ", with each view's self-occlusion labels"
        if tuple(options.roll) != (0.0, 0.0):
            lo, hi = options.roll
            seen += (
                f", the cameras turned by {lo:g} to {hi:g} degrees about their viewing "
                "direction (`data.options.roll`)"
            )
        if options.zoom > 1:
            seen += (
                f", each window zoomed in by up to {options.zoom:g}x about the principal point "
                "(a longer focal length; `data.options.zoom`)"
            )
    demo = "the demo training clips"
    if options.demo_repeat > 1:
        demo += f" (counted {options.demo_repeat} times per epoch)"
    if not data.paths:
        return f"{demo} as {seen}; source `{data.source}`."
    motion = ", ".join(data.paths)
    if options.bvh_mapping:
        motion += f" (BVH joint map `{options.bvh_mapping}`; `data.options.bvh_mapping`)"
    return (
        f"{demo} and the motion in {motion}, as {seen}; source "
        f"`{data.source}`. The CMU clips are the public CMU Graphics Lab motions "
        "(mocap.cs.cmu.edu) as BVH from `papagina/Auto_Conditioned_RNN_motion` (see "
        "`../shared/data/cmu_bvh_acrnn/README.md`); without them, drop `data.paths`."
    )


def rebuild_table(models: Path) -> None:
    rows = []
    for m in sorted(models.glob("*/metrics.json")):
        data = json.loads(m.read_text())
        o = data.get("overall", {})
        b = data.get("baseline", {})
        cells = [f"[{m.parent.name}]({m.parent.name}/README.md)"]
        cells += [f"{o[c]:.4g}" if o.get(c) is not None else "-" for c in COLUMNS]
        cells.append(f"{b['mean_training_pose_MPJPE']:.1f}" if b else "-")
        rows.append("| " + " | ".join(cells) + " |")
    header = "| model | " + " | ".join(COLUMNS) + " | mean-pose MPJPE |"
    sep = "|" + "---|" * (len(COLUMNS) + 2)
    table = "\n".join([TABLE_START, header, sep, *rows, TABLE_END])
    readme = models / "README.md"
    text = readme.read_text()
    if TABLE_START in text and TABLE_END in text:
        before = text.split(TABLE_START)[0]
        after = text.split(TABLE_END)[1]
        text = before + table + after
    else:
        text = text.rstrip() + "\n\n" + table + "\n"
    readme.write_text(text)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run", nargs="?", type=Path, help="finished run folder (runs/<name>)")
    p.add_argument("folder", nargs="?", type=Path, help="model folder models/<name>")
    p.add_argument("--table", action="store_true", help="only rebuild models/README.md's table")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    if not args.table:
        if args.run is None or args.folder is None:
            p.error("give RUN and FOLDER (or --table)")
        info = ship(args.run, args.folder, quiet=args.quiet)
        print(json.dumps(info, indent=1))
    rebuild_table(REPO / "models")


if __name__ == "__main__":
    main()
