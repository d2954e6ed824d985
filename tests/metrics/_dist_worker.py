"""Worker for the torch.distributed test: each rank feeds its shard to a suite and a PCK
metric, rank 0 saves the reduced results."""

from __future__ import annotations

import json
import pickle

import torch.distributed as dist


def run(rank: int, world: int, init_file: str, data_file: str, out_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        from poseviz.metrics import EvaluationSuite

        with open(data_file, "rb") as f:
            shards = pickle.load(f)
        suite = EvaluationSuite(label="dist")
        for pred, gt, meta in shards[rank]:
            suite.update(pred, gt, **meta)
        report = suite.compute().to_dict()  # every rank must take part in the reduction
        if rank == 0:
            with open(out_file, "w") as f:
                json.dump(report, f)
    finally:
        dist.destroy_process_group()
