"""Compare app speed in headless Chromium: first skeleton, frame-change latency, playback.

    python3 benchmarks/app.py [--frames 243 10000] [--steps 100] [--source PATH]
                              [--renderers canvas vtk]

For each sequence length it serves ``apps/compare.py`` on that many frames with ground truth
plus three stand-in models (4 views), warms the server, then in a fresh page measures:

- first skeleton: navigation start -> all 4 views have drawn (ms; target <= 3000);
- frame-change latency over ``--steps`` consecutive steps of the playback controls (the
  path keys, slider and playback take): ``work`` = the synchronous update of all views,
  ``shown`` = until the next animation frame after it, when the browser presents the new
  picture (p50/p95 ms; target p95 <= 100, no growth: last 20 steps vs first 20);
- playback: frames drawn per second by one view while playing at the sequence's rate and
  at 4x (target >= 24).

References measured in the same run: the ``vtk`` renderer (Panel's vtk.js on WebGL, the
same component with the other backend) against the default ``canvas`` one; ``floor`` = two
empty animation frames (what any visible update costs at the display's rate); and ``server
path`` = a click on a timeline plot, which reaches the views through the server (Python
sets the frame) instead of in the browser. Wall-clock numbers depend on the machine's load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from poseviz.data.keypoints import write_keypoints  # noqa: E402
from tests.viz.browser import (  # noqa: E402
    JS_DRAWN_VIEWS,
    browser_missing,
    chromium,
    served_app,
    wait_for_views,
    warm,
)

STEP_JS = """async (steps) => {
  const c = Object.values(window.__poseviz.controls)[0];
  const raf = () => new Promise((r) => requestAnimationFrame(r));
  await raf();
  const work = [], shown = [], floor = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    c.step(1);
    const t1 = performance.now();
    await raf(); await raf();
    shown.push(performance.now() - t0);
    work.push(t1 - t0);
  }
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await raf(); await raf();
    floor.push(performance.now() - t0);
  }
  return { work, shown, floor, frame: c.frame };
}"""

PLAY_JS = """async ([seconds, speed]) => {
  const c = Object.values(window.__poseviz.controls)[0];
  const key = Object.keys(window.__poseviz.draws).sort().slice(-1)[0];
  const n0 = window.__poseviz.draws[key];
  c.play();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const n1 = window.__poseviz.draws[key];
  const t1 = performance.now();
  c.pause();
  return (n1 - n0) / ((t1 - t0) / 1000);
}"""


def motion(frames: int, source: str | None) -> tuple[np.ndarray, float]:
    """``(frames, 17, 3)`` world metres: a real motion tiled back and forth to length."""
    from poseviz.data import load

    seqs = []
    if source:
        seqs = load(source)
    else:
        try:
            from poseviz.data import load_demo

            seqs = load_demo(progress=False)
        except (ImportError, AttributeError):
            candidate = REPO.parent / "shared" / "data" / "ktk_tennis_serve"
            if candidate.is_dir():
                seqs = load(candidate)
    seqs = [s for s in seqs if s.joints_3d is not None and np.isfinite(s.joints_3d).all()]
    if not seqs:
        sys.path.insert(0, str(REPO))
        from tests.viz.conftest import synthetic_motion

        return synthetic_motion(frames, z_up=True), 25.0
    base = max(seqs, key=lambda s: s.num_frames)
    j = base.joints_3d
    loop = np.concatenate([j, j[::-1]])
    reps = -(-frames // len(loop))
    return np.concatenate([loop] * reps)[:frames], base.fps


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def run(frames: int, steps: int, source: str | None, play_seconds: float, renderer: str) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="poseviz-bench-"))
    joints, fps = motion(frames, source)
    data = write_keypoints(tmp / f"motion_{frames}.npz", joints, "h36m17", fps=fps)
    (tmp / "models").mkdir()
    out = {"frames": frames, "fps": fps, "renderer": renderer}
    args = ["--source", str(data), "--models", str(tmp / "models"), "--renderer", renderer]
    with served_app(REPO / "apps" / "compare.py", args, log=tmp / "serve.log") as url:
        t = time.perf_counter()
        warm(url)
        out["server_warmup_s"] = time.perf_counter() - t
        with chromium() as page:
            page.goto(url)
            wait_for_views(page, 4, timeout_ms=180000)
            out["first_skeleton_ms"] = page.evaluate(
                "() => Math.max(...Object.values(window.__poseviz.firstDraw))"
            )
            out["html_ms"] = page.evaluate(
                "() => performance.timing.responseEnd - performance.timing.navigationStart"
            )
            # steady state: the timelines (built once the page is up) have drawn too
            page.locator(".bk-Figure").nth(3).wait_for(timeout=180000)
            page.wait_for_timeout(1500)
            r = page.evaluate(STEP_JS, steps)
            assert r["frame"] == steps, r["frame"]
            assert page.evaluate(JS_DRAWN_VIEWS) == 4
            out.update(
                work_p50=percentile(r["work"], 50),
                work_p95=percentile(r["work"], 95),
                shown_p50=percentile(r["shown"], 50),
                shown_p95=percentile(r["shown"], 95),
                growth=statistics.mean(r["shown"][-20:]) / statistics.mean(r["shown"][:20]),
                floor_p50=percentile(r["floor"], 50),
            )
            out["play_fps_native"] = page.evaluate(PLAY_JS, [play_seconds, 1])
            page.locator("select").filter(has_text="1x").select_option("4")
            out["play_fps_4x"] = page.evaluate(PLAY_JS, [play_seconds, 4])
            out["server_path_ms"] = server_path(page)
            out["errors"] = list(page.errors)
    return out


def server_path(page, clicks: int = 10) -> float:
    """Median ms from a click on the first timeline plot to the views showing the frame the
    server chose (Tap -> Python -> controls -> views); NaN if no click got through."""
    plot = page.locator(".bk-Figure").first
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    times = []
    for i in range(clicks):
        before = page.evaluate("() => Object.values(window.__poseviz.frames)[0]")
        x = box["x"] + box["width"] * (0.15 + 0.06 * i)
        t0 = time.perf_counter()
        page.mouse.click(x, box["y"] + box["height"] / 2)
        try:
            page.wait_for_function(
                f"() => Object.values(window.__poseviz.frames)[0] !== {before}", timeout=20000
            )
        except Exception:  # a click the plot did not take (e.g. on its legend)
            continue
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.median(times)) if times else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[243, 10000])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--play-seconds", type=float, default=3.0)
    parser.add_argument("--source", default=None, help="motion to tile (default: demo data)")
    parser.add_argument(
        "--renderers", nargs="+", default=["canvas", "vtk"], help="view backends to measure"
    )
    args = parser.parse_args()
    if (why := browser_missing()) is not None:
        sys.exit(f"benchmarks/app.py: {why}")
    rows = [
        run(n, args.steps, args.source, args.play_seconds, renderer)
        for n in args.frames
        for renderer in args.renderers
    ]
    print(
        f"{'frames':>7} {'renderer':>8} {'first ms':>9} {'work p95':>9} {'shown p50':>10} "
        f"{'shown p95':>10} {'growth':>7} {'floor':>6} {'server':>7} {'p95/floor':>9} "
        f"{'p95/server':>10} {'fps 1x':>7} {'fps 4x':>7}"
    )
    for r in rows:
        print(
            f"{r['frames']:>7} {r['renderer']:>8} {r['first_skeleton_ms']:>9.0f} {r['work_p95']:>9.1f} "
            f"{r['shown_p50']:>10.1f} {r['shown_p95']:>10.1f} {r['growth']:>7.2f} "
            f"{r['floor_p50']:>6.1f} {r['server_path_ms']:>7.0f} "
            f"{r['shown_p95'] / r['floor_p50']:>9.2f} {r['shown_p95'] / r['server_path_ms']:>10.3f} "
            f"{r['play_fps_native']:>7.1f} {r['play_fps_4x']:>7.1f}"
        )
    by_key = {(r["frames"], r["renderer"]): r for r in rows}
    for n in args.frames:
        a, b = by_key.get((n, "canvas")), by_key.get((n, "vtk"))
        if a and b:
            print(
                f"# {n} frames, canvas vs vtk.js (same run): p95 latency x"
                f"{a['shown_p95'] / b['shown_p95']:.2f}, playback fps x"
                f"{a['play_fps_4x'] / max(b['play_fps_4x'], 1e-9):.1f}, first skeleton x"
                f"{a['first_skeleton_ms'] / b['first_skeleton_ms']:.2f}"
            )
    for r in rows:
        print(
            f"# {r['frames']} frames ({r['renderer']}) at {r['fps']:g} fps: server warm-up "
            f"{r['server_warmup_s']:.1f} s, page HTML after {r['html_ms']:.0f} ms; "
            f"targets: first <= 3000 ms {'ok' if r['first_skeleton_ms'] <= 3000 else 'MISSED'}, "
            f"p95 <= 100 ms {'ok' if r['shown_p95'] <= 100 else 'MISSED'}, "
            f"growth <= 1.2 {'ok' if r['growth'] <= 1.2 else 'MISSED'}, "
            f"playback >= 24 fps {'ok' if r['play_fps_4x'] >= 24 else 'MISSED'}; "
            f"console errors: {len(r['errors'])}"
        )


if __name__ == "__main__":
    main()
