"""Speed of the training data pipeline (`poseviz.data.clips.ClipDataset`) and of the demo
dataset (`poseviz.data.load_demo`).

Prints, for several window lengths and sources, the frames/s (input frames B x T per
second) of building batches with `ClipDataset.batches` on one thread, and the ratio to a
reference measured in the same run: one training step (forward + backward + Adam) of a
2-layer graph convolution network (hidden 128) on batches of the same shape, the model
DESIGN.md measures at ~37k frames/s. The training engine needs ratio >= 5.
Also prints the demo dataset's build time (first use) and its cached load time.

    PYTHONPATH=. python3 benchmarks/data_pipeline.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from poseviz.data.cameras import DetectorNoise
from poseviz.data.clips import ClipDataset, VirtualViews
from poseviz.data.demo import load_demo
from poseviz.skeleton import get_skeleton


class TwoLayerGCN(torch.nn.Module):
    """Reference model: two graph convolutions over the h36m17 bones, per frame."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        sk = get_skeleton("h36m17")
        A = torch.eye(17)
        for p, c in sk.bones:
            A[p, c] = A[c, p] = 1.0
        self.register_buffer("A", A / A.sum(1, keepdim=True))
        self.l1, self.l2 = torch.nn.Linear(2, hidden), torch.nn.Linear(hidden, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(torch.einsum("jk,btkc->btjc", self.A, self.l1(x)))
        return torch.einsum("jk,btkc->btjc", self.A, self.l2(h))


def model_frames_per_second(B: int, T: int, seconds: float) -> tuple[float, float]:
    model = TwoLayerGCN()
    opt = torch.optim.Adam(model.parameters())
    x, y = torch.randn(B, T, 17, 2), torch.randn(B, T, 17, 3)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds or n < 3:
        loss = (model(x) - y).norm(dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += 1
    return n * B * T / (time.perf_counter() - t0), n * B * T / (time.process_time() - c0)


def data_frames_per_second(ds: ClipDataset, B: int, seconds: float) -> tuple[float, float]:
    ds.__getitems__([0])  # warm-up: the random tables are drawn once per process
    frames, t0, c0, epoch = 0, time.perf_counter(), time.process_time(), 0
    while time.perf_counter() - t0 < seconds or frames == 0:
        ds.set_epoch(epoch)
        for batch in ds.batches(B, drop_last=True):
            frames += batch["keypoints_2d"].shape[0] * ds.length
            if time.perf_counter() - t0 > seconds:
                break
        epoch += 1
    return frames / (time.perf_counter() - t0), frames / (time.process_time() - c0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        seqs = load_demo(cache_dir=tmp, progress=False)
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_demo(cache_dir=tmp, progress=False)
        load = time.perf_counter() - t0
    print(f"demo dataset: build {build:.2f} s (first use), cached load {load:.3f} s")

    train = [s for s in seqs if s.subject == "train"]
    mocap = [
        s.__class__(s.name, s.subject, s.action, s.fps, s.skeleton, s.joints_3d) for s in train
    ]
    noise = DetectorNoise()
    cases = [
        ("virtual+bones+noise+flip", 243, 64, dict(views="virtual", noise=noise, flip=True)),
        ("virtual+bones+noise+flip", 81, 128, dict(views="virtual", noise=noise, flip=True)),
        ("virtual+bones+noise+flip", 27, 256, dict(views="virtual", noise=noise, flip=True)),
        ("virtual+bones+noise+flip", 1, 1024, dict(views="virtual", noise=noise, flip=True)),
        (
            "virtual+...+occlusion",
            243,
            64,
            dict(views="virtual", noise=noise, flip=True, occlusion=True),
        ),
        ("own views (demo rig)", 243, 64, dict(views="own", flip=True)),
        (
            "own views+noise+occlusion",
            27,
            256,
            dict(views="own", noise=noise, flip=True, occlusion=True),
        ),
    ]
    print(
        f"{'source':26s} {'T':>4s} {'B':>5s} {'data fr/s':>10s} {'fr/CPU-s':>10s} "
        f"{'model fr/s':>10s} {'fr/CPU-s':>10s} {'ratio':>6s}"
    )
    for name, T, B, kw in cases:
        model, model_cpu = model_frames_per_second(B, T, args.seconds)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        ds = ClipDataset(
            train if kw["views"] == "own" else mocap, length=T, virtual=VirtualViews(), **kw
        )
        if kw.get("occlusion") and kw["views"] == "virtual":
            ds.precompute_occlusion(progress=False)
        data, data_cpu = data_frames_per_second(ds, B, args.seconds)
        torch.set_num_threads(threads)
        print(
            f"{name:26s} {T:4d} {B:5d} {data:10,.0f} {data_cpu:10,.0f} "
            f"{model:10,.0f} {model_cpu:10,.0f} {data / model:6.1f}"
        )
    print(
        "fr/s: frames per wall-clock second; fr/CPU-s: per second of this process's CPU time\n"
        "(what one quiet core would do; the model's counts all its threads); data: one\n"
        "thread; model: torch's default threads; ratio = data fr/s / model fr/s (goal >= 5)"
    )


if __name__ == "__main__":
    main()
