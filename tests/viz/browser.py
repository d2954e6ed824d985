"""A live ``panel serve`` of an app and headless Debian Chromium through Playwright, for the
browser tests and ``benchmarks/app.py``.

Chromium is the Debian package (``/usr/bin/chromium``, in ``scripts/apt-packages.txt``):
``playwright install`` cannot download browsers here. The server runs in its own process
group, which is killed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("POSEVIZ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served_app(
    app: str | Path, args: Sequence[str] = (), *, timeout: float = 180.0, log: Path | None = None
) -> Iterator[str]:
    """Serve ``app`` (a script path) with ``panel serve`` on a free port; yields its URL.
    Arguments after ``--args`` are ``args``. The process group is killed on exit."""
    app = Path(app)
    port = free_port()
    cmd = [sys.executable, "-m", "panel", "serve", str(app), "--port", str(port)]
    cmd += ["--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}"]
    if args:
        cmd += ["--args", *args]
    env = dict(os.environ, VTK_DEFAULT_OPENGL_WINDOW="vtkEGLRenderWindow", PYTHONPATH=str(REPO))
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/{app.stem}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"panel serve exited with {proc.returncode}: {' '.join(cmd)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"panel serve did not start within {timeout} s") from None
                time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if log:
            out.close()


def warm(url: str, timeout: float = 300.0) -> None:
    """Fetch ``url`` once so the server has imported everything before timing starts."""
    urllib.request.urlopen(url, timeout=timeout).read()


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000):
    """A Playwright browser page in headless Debian Chromium. Console errors and page
    errors are collected in ``page.errors`` (a list of strings)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_FLAGS,
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []
            page.on(
                "console",
                lambda m: page.errors.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: page.errors.append(f"pageerror: {e}"))
            yield page
        finally:
            browser.close()


JS_DRAWN_VIEWS = """() => {
  let n = 0;
  const walk = (root) => {
    for (const e of root.querySelectorAll('*')) {
      if (e.classList.contains('poseviz-skeleton') && e.dataset.frame != null) n += 1;
      if (e.shadowRoot) walk(e.shadowRoot);
    }
  };
  walk(document);
  return n;
}"""


def wait_for_views(page, count: int, timeout_ms: float = 60000) -> None:
    """Wait until ``count`` skeleton views have drawn a frame."""
    page.wait_for_function(
        f"() => window.__poseviz && ({JS_DRAWN_VIEWS})() >= {count}", timeout=timeout_ms
    )


def view_locator(page):
    """All skeleton views on the page (Playwright pierces the shadow roots)."""
    return page.locator(".poseviz-skeleton")


def drawn_fraction(png: bytes, background=(28, 30, 36), tolerance: int = 40) -> float:
    """Share of pixels of a screenshot that differ from the view background."""
    import cv2
    import numpy as np

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].astype(int)
    return float((np.abs(img - background).sum(-1) > tolerance).mean())
