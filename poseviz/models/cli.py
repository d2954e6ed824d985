"""``poseviz models``: ``list`` (every registered model) and ``info NAME`` (parameters, MACs
at the default input, receptive field, inputs, what it predicts, config). The parser is in
`poseviz.cli` (so ``poseviz --help`` does not import torch); these are its handlers."""

from __future__ import annotations

import argparse
from typing import Any

import yaml

__all__ = ["cmd_info", "cmd_list", "format_info", "format_list"]


def _millions(n: int) -> str:
    return f"{n / 1e6:.2f}M"


def _macs(n: int) -> str:
    return f"{n / 1e9:.3f} G" if n >= 1e9 else f"{n / 1e6:.3f} M"


def format_list() -> str:
    """One line per registered model: name, parameters, receptive field, predicts, inputs,
    description."""
    import torch

    from poseviz.models.registry import create_model, get_model_spec, list_models
    from poseviz.models.summary import count_parameters

    rows = [("model", "params", "frames", "predicts", "inputs", "description")]
    for name in list_models():
        try:
            with torch.device("meta"):  # sizes only: no memory, no initialisation work
                model = create_model(name)
        except (NotImplementedError, RuntimeError):  # a model that cannot live on meta
            model = create_model(name)
        rows.append(
            (
                name,
                _millions(count_parameters(model)),
                str(model.receptive_field),
                str(model.predicts),
                ",".join(model.inputs),
                get_model_spec(name).description,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if i == 1 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row[:5], widths, strict=True))
        ]
        lines.append("  ".join(cells) + "  " + row[5])
    return "\n".join(lines)


def format_info(name: str, *, num_frames: int | None = None, **overrides: Any) -> str:
    """Text report of one model (see the module docstring)."""
    from poseviz.models.summary import summarize

    s = summarize(name, num_frames=num_frames, **overrides)
    shapes = ", ".join(f"{k} {v}" for k, v in s.input_shapes.items())
    lines = [
        f"{s.name}: {s.description}",
        f"  parameters:      {s.parameters:,} ({_millions(s.parameters)})",
        f"  MACs:            {_macs(s.macs)} per forward pass on {shapes}",
        f"  receptive field: {s.receptive_field} frame(s)",
        f"  inputs:          {', '.join(s.inputs)}",
        f"  predicts:        {s.predicts} (pose_3d {s.output_shape})",
        "  config:",
    ]
    for key, value in s.config.items():
        text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
        lines.append(f"    {key}: {text}")
    return "\n".join(lines)


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        parsed = yaml.safe_load(value)
        out[key] = tuple(parsed) if isinstance(parsed, list) else parsed
    return out


def cmd_list(args: argparse.Namespace) -> int:
    """``poseviz models list``."""
    print(format_list())
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """``poseviz models info NAME [--frames T] [--set KEY=VALUE ...]``."""
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"--frames must be >= 1, got {args.frames}")
    print(format_info(args.name, num_frames=args.frames, **_parse_overrides(args.set)))
    return 0
