"""Submission latency of the rating server under concurrent raters.

    python benchmarks/rating_load.py [--raters 50] [--db sqlite|postgresql]

Serves apps/rate.py with the rating API on loopback, lets N simulated raters rate one
session each at the same time, and prints the p50/p95/max latency of a submission (HTTP
round trip including the committed write). As a reference measured in the same run, it
prints the latency of the same submissions made in-process through RatingService, so the
ratio shows what serving costs. Target: p95 <= 250 ms at 50 raters on 2 cores.
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


def served(url: str, tokens: list[str]) -> list[float]:
    lat: list[float] = []
    with rating_server(url) as (base, _):
        threads = [
            threading.Thread(
                target=Client(base, t).rate_session, args=(lambda i: 1 + i["position"] % 5, [], lat)
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
    args = ap.parse_args()
    if args.db == "postgresql":
        with postgres_server() as url:
            run(url, args.raters)
    else:
        run(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}", args.raters)


def run(url: str, raters: int) -> None:
    tokens = make_study(url, raters * 2)
    ref = summary("in-process RatingService.submit", in_process(url, tokens[raters:]))
    p95 = summary(f"served, {raters} concurrent raters", served(url, tokens[:raters]))
    print(
        f"ratio served/in-process p95: {p95 / ref:.1f}x; target p95 <= 250 ms: {'met' if p95 <= 250 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
