"""End-to-end: simulated raters over HTTP against a served rater app (slow)."""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

import numpy as np
import pytest
from sqlalchemy import select

from poseviz.rating.builder import StudyLayout, create_study, invite_raters
from poseviz.rating.schema import Rating
from poseviz.rating.store import Store
from tests.rating.servers import Client, kill_group, postgres_server, rating_server
from tests.rating.simulate import make_pairs

pytestmark = pytest.mark.slow


def _study(url: str, raters: int) -> list[str]:
    store = Store(url)
    sid = create_study(
        store,
        "load",
        make_pairs(np.random.default_rng(0), sequences=4),
        layout=StudyLayout(clips_per_cell=6),
        seed=0,
    )
    tokens = [t for _, t in invite_raters(store, sid, raters)]
    store.dispose()
    return tokens


def _stored(url: str) -> list[str]:
    store = Store(url)
    with store.session() as s:
        ids = list(s.scalars(select(Rating.submission_id)))
    store.dispose()
    return ids


def _run_concurrently(base: str, tokens: list[str]) -> tuple[list[str], list[BaseException]]:
    acknowledged: list[str] = []
    errors: list[BaseException] = []

    def rater(token: str) -> None:
        try:
            Client(base, token).rate_session(lambda item: 1 + item["stimulus_id"] % 5, acknowledged)
        except BaseException as err:  # noqa: BLE001 (collected and reported below)
            errors.append(err)

    threads = [threading.Thread(target=rater, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return acknowledged, errors


def _check_exactly_once(url: str, acknowledged: list[str]) -> None:
    stored = Counter(_stored(url))
    assert all(n == 1 for n in stored.values())
    missing = [a for a in acknowledged if stored[a] != 1]
    assert not missing, f"{len(missing)} acknowledged ratings are missing"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_fifty_concurrent_raters_lose_and_duplicate_nothing(backend, tmp_path):
    with postgres_server() if backend == "postgresql" else _sqlite(tmp_path) as url:
        tokens = _study(url, 50)
        with rating_server(url) as (base, _):
            acknowledged, errors = _run_concurrently(base, tokens)
        assert not errors, errors[:3]
        assert len(acknowledged) == 50 * 12
        _check_exactly_once(url, acknowledged)
        assert len(_stored(url)) == len(acknowledged)


def test_sigkill_mid_study_keeps_every_acknowledged_rating(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    tokens = _study(url, 20)
    acknowledged: list[str] = []
    with rating_server(url) as (base, proc):

        def rater(token: str) -> None:
            try:
                Client(base, token, timeout=10).rate_session(
                    lambda item: 3 + item["position"] % 2, acknowledged
                )
            except BaseException:  # noqa: BLE001 (the server dies under it)
                pass

        threads = [threading.Thread(target=rater, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        while len(acknowledged) < 60:
            time.sleep(0.01)
        kill_group(proc)  # SIGKILL the server and its workers mid-study
        for t in threads:
            t.join(timeout=60)
    assert 60 <= len(acknowledged) < 20 * 12
    _check_exactly_once(url, acknowledged)
    # A restarted server resumes every rater where they were.
    with rating_server(url) as (base, _):
        more, errors = _run_concurrently(base, tokens)
    assert not errors, errors[:3]
    _check_exactly_once(url, acknowledged + more)
    assert len(_stored(url)) == 20 * 12


class _sqlite:
    def __init__(self, tmp_path):
        self.url = f"sqlite:///{tmp_path / 'study.db'}"

    def __enter__(self):
        return self.url

    def __exit__(self, *exc):
        return False


def test_admin_view_refuses_unauthenticated_requests(tmp_path):
    """apps/rate_admin.py behind Panel's --basic-auth: no page without logging in, a wrong
    password is refused, the right one shows the study."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    _study(url, 2)
    creds = tmp_path / "admins.json"
    creds.write_text(json.dumps({"admin": "s3cret-pass"}))
    auth = ("--basic-auth", str(creds), "--cookie-secret", "x" * 32)
    with rating_server(url, "rate_admin.py", auth, ready_path="/login") as (base, _):
        no_redirect = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as refused:
            no_redirect.open(base + "/rate_admin", timeout=30)
        assert refused.value.code in (302, 401, 403)
        if refused.value.code == 302:
            assert "/login" in refused.value.headers["Location"]

        def login(password: str) -> urllib.request.OpenerDirector:
            opener = urllib.request.build_opener(
                urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect
            )
            form = urllib.parse.urlencode({"username": "admin", "password": password}).encode()
            with contextlib.suppress(urllib.error.HTTPError):  # 302 after the form
                opener.open(base + "/login", data=form, timeout=30)
            return opener

        with pytest.raises(urllib.error.HTTPError):
            login("wrong").open(base + "/rate_admin", timeout=30)
        with login("s3cret-pass").open(base + "/rate_admin", timeout=60) as page:
            assert page.status == 200
            assert b"Bokeh" in page.read()  # the app's page; its content follows over the websocket


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
