"""Submission latency of the rating server under concurrent raters.

    python benchmarks/rating_load.py [--raters 50] [--db sqlite|postgresql] [--think-s 0 2]

Serves apps/rate.py with the rating API on loopback, lets N simulated raters rate one
session each at the same time, and prints the p50/p95/max latency of a submission (HTTP
round trip including the committed write). As a reference measured in the same run, it
prints the latency of the same submissions made in-process through RatingService, so the
ratio shows what serving costs. Target: p95 <= 250 ms at 50 raters on 2 cores.

One served run per ``--think-s`` value, the time each rater waits between receiving an item
and submitting its score. 0 s is a saturation test: 50 closed-loop clients (threads of
this process, sharing its 2 cores with the server) submit the moment the previous answer
arrives, so a submission waits behind the others' and the latency is about 50 service
times. 2 s is still faster than a person: every item is a pair of clips of a few seconds
that the rater watches before scoring.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from poseviz.rating.builder import StudyLayout, create_study, invite_raters  # noqa: E402
from poseviz.rating.protocol import RatingService  # noqa: E402
from poseviz.rating.store import Store  # noqa: E402
from tests.rating.servers import Client, postgres_server, rating_server  # noqa: E402
from tests.rating.simulate import make_pairs  # noqa: E402


def make_study(url: str, raters: int) -> list[str]:
    store = Store(url)
    sid = create_study(
        store,
        "bench",
        make_pairs(np.random.default_rng(0), sequences=4),
        layout=StudyLayout(clips_per_cell=6),
        seed=0,
    )
    tokens = [t for _, t in invite_raters(store, sid, raters)]
    store.dispose()
    return tokens


def in_process(url: str, tokens: list[str]) -> list[float]:
    service = RatingService(Store(url))
    lat = []
    for token in tokens:
        service.consent(token)
        service.finish_training(token)
        sid = service.start_session(token)
        item = service.current_item(token, sid)
        while item is not None:
            t0 = time.perf_counter()
            item = service.submit(
                token, sid, item.stimulus_id, 3 + item.position % 2, uuid.uuid4().hex
            )
            lat.append(time.perf_counter() - t0)
    return lat


def served(url: str, tokens: list[str], think_s: float) -> list[float]:
    lat: list[float] = []
    with rating_server(url) as (base, _):
        threads = [
            threading.Thread(
                target=Client(base, t).rate_session,
                args=(lambda i: 1 + i["position"] % 5, [], lat),
                kwargs={"think_s": think_s},
            )
            for t in tokens
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return lat


def summary(name: str, lat: list[float]) -> float:
    a = np.array(lat) * 1000
    p95 = float(np.percentile(a, 95))
    print(
        f"{name:32s} n={len(a):4d}  p50 {np.percentile(a, 50):7.1f} ms  p95 {p95:7.1f} ms  max {a.max():7.1f} ms"
    )
    return p95


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument(
        "--think-s",
        type=float,
        nargs="+",
        default=[0.0, 2.0],
        help="seconds each rater waits before each submission, one served run per value",
    )
    args = ap.parse_args()
    if args.db == "postgresql":
        with postgres_server() as url:
            run(url, args.raters, args.think_s)
    else:
        run(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}", args.raters, args.think_s)


def run(url: str, raters: int, think: list[float]) -> None:
    tokens = make_study(url, raters * (1 + len(think)))
    ref = summary("in-process RatingService.submit", in_process(url, tokens[:raters]))
    for k, think_s in enumerate(think, start=1):
        batch = tokens[k * raters : (k + 1) * raters]
        name = f"served, {raters} raters, think {think_s:g} s"
        p95 = summary(name, served(url, batch, think_s))
        verdict = "met" if p95 <= 250 else "NOT met"
        print(f"  p95 {p95 / ref:.1f}x in-process; target p95 <= 250 ms: {verdict}")


if __name__ == "__main__":
    main()
