"""Peak CPU memory of RePOSE's temporal depth loss (eq. 3), forward + backward, at B x T x J:
the chunked form, the direct O(T^2) autograd form, the paper's Algorithm 2 as printed, and
the whole eq. 4 objective (chunked).

Each implementation runs in a fresh subprocess; after a small warm-up call the peak-RSS mark
is reset (``echo 5 > /proc/self/clear_refs``) and the number is the peak resident set
(``VmHWM``) minus the resident set before the call, so it counts every allocation torch makes
(tracemalloc does not see them). ``ru_maxrss`` is not used on Linux: it survives ``execve``
and would report the parent's peak.

    python3 tests/losses/measure_depth_memory.py [--batch 16 --frames 243 --joints 17]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, sys, time
import torch
from poseviz.losses import repose_loss, temporal_depth_loss
from tests.losses.loops import algorithm2_temporal

impl, B, T, J = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(int(sys.argv[5]))
torch.manual_seed(0)
if impl == "algorithm2":
    fn = algorithm2_temporal
elif impl == "repose_eq4":
    fn = repose_loss  # MPJPE + 20 spatial + 20 temporal, chunked
else:
    fn = lambda p, g: temporal_depth_loss(p, g, implementation=impl)
pred = torch.randn(B, T, J, 3, requires_grad=True)
gt = torch.randn(B, T, J, 3)
fn(pred[:1, :8], gt[:1, :8]).backward()  # warm up kernels and allocator
pred.grad = None
def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    raise KeyError(key)

try:  # Linux: reset the peak-RSS mark (VmHWM) to the current RSS, then read both
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base, peak = status_mib("VmRSS"), lambda: status_mib("VmHWM")
except OSError:  # elsewhere: the process's max RSS so far (may include the parent's on exec)
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base = peak()
t0 = time.perf_counter()
loss = fn(pred, gt)
loss.backward()
dt = time.perf_counter() - t0
print(json.dumps({"impl": impl, "peak_mib": peak() - base, "seconds": dt,
                  "loss": loss.item(), "grad_norm": pred.grad.norm().item()}))
"""


def measure(impl: str, batch: int, frames: int, joints: int, threads: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, impl, str(batch), str(frames), str(joints), str(threads)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=243)
    parser.add_argument("--joints", type=int, default=17)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--impl", nargs="+", default=["chunked", "direct", "algorithm2", "repose_eq4"]
    )
    args = parser.parse_args(argv)
    rows = [measure(i, args.batch, args.frames, args.joints, args.threads) for i in args.impl]
    print(
        f"temporal depth loss, B x T x J = {args.batch} x {args.frames} x {args.joints}, "
        f"forward + backward, float32, CPU, {args.threads} thread(s)"
    )
    print(f"{'implementation':<16}{'peak MiB':>10}{'seconds':>10}{'loss':>14}{'|grad|':>14}")
    for r in rows:
        print(
            f"{r['impl']:<16}{r['peak_mib']:>10.1f}{r['seconds']:>10.3f}"
            f"{r['loss']:>14.8f}{r['grad_norm']:>14.8f}"
        )
    return rows


if __name__ == "__main__":
    main()
