"""Servers the rating tests start on loopback: the Panel app with the rating API plugin,
and a throwaway PostgreSQL cluster. Both are stopped by the tests that start them."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

from poseviz.rating.api import clip_from_json
from tests.conftest import REPO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """A simulated rater's browser talking to the JSON API."""

    def __init__(self, base: str, token: str, timeout: float = 30.0) -> None:
        self.base, self.token, self.timeout = base, token, timeout

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps({**body, "token": self.token}).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"X-Invite-Token": self.token, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def rate_session(
        self,
        choose_score,
        acknowledged: list[str],
        latencies: list[float] | None = None,
        *,
        think_s: float = 0.0,
    ) -> None:
        """Consent, train, start a session and rate every item; every submission id the
        server acknowledged (HTTP 200) is appended to ``acknowledged``. ``think_s`` is how
        long the rater watches and thinks before each submission."""
        self.call("POST", "/api/rating/consent", {})
        self.call("POST", "/api/rating/training_done", {})
        status, out = self.call("POST", "/api/rating/session", {"device": "sim"})
        assert status == 200, out
        sid = out["session_id"]
        while True:
            status, out = self.call("GET", f"/api/rating/item?session_id={sid}")
            assert status == 200, out
            item = out["item"]
            if item is None:
                return
            assert clip_from_json(item["left"]).shape == clip_from_json(item["right"]).shape
            time.sleep(think_s)
            nonce = uuid.uuid4().hex
            t0 = time.perf_counter()
            body = {
                "session_id": sid,
                "stimulus_id": item["stimulus_id"],
                "score": choose_score(item),
                "submission_id": nonce,
                "completed_playback": True,
                "plays": 1,
            }
            status, out = self.call("POST", "/api/rating/submit", body)
            if latencies is not None:
                latencies.append(time.perf_counter() - t0)
            assert status == 200, out
            acknowledged.append(nonce)


@contextlib.contextmanager
def rating_server(
    db_url: str,
    app: str = "rate.py",
    extra_args: tuple[str, ...] = (),
    ready_path: str = "/api/rating/status",
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``panel serve apps/<app> --plugins poseviz.rating.api`` on a free loopback port; ready
    once ``ready_path`` answers with any HTTP status."""
    port = free_port()
    env = {**os.environ, "POSEVIZ_RATING_DB": db_url, "BOKEH_ALLOW_WS_ORIGIN": f"127.0.0.1:{port}"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(REPO / "apps" / app),
            "--plugins",
            "poseviz.rating.api",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            "--allow-websocket-origin",
            f"127.0.0.1:{port}",
            *extra_args,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(base + ready_path, timeout=2)
                break
            except urllib.error.HTTPError:
                break  # e.g. 400: up and refusing a token-less request
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(
                        f"panel serve did not start: {proc.stderr.read().decode()[-2000:]}"
                    ) from None
                time.sleep(0.3)
        yield base, proc
    finally:
        kill_group(proc)


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port; yields its SQLAlchemy URL.
    Raises RuntimeError when PostgreSQL is not installed (scripts/apt-packages.txt has it)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql")
    root = Path(tempfile.mkdtemp(prefix="poseviz-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True)  # noqa: E731
    run(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    run(
        pg_ctl,
        "-D",
        str(data),
        "-w",
        "-l",
        str(root / "log"),
        "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200",
        "start",
    )
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        yield url
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)
