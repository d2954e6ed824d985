"""JSON API of the rater protocol, served next to the rater app.

Serve it with the Panel server's plugin mechanism::

    POSEVIZ_RATING_DB=study.db panel serve apps/rate.py --plugins poseviz.rating.api

Every endpoint is a thin wrapper over `RatingService` (the Panel page calls the same
service in-process). The invite token travels in the JSON body or the ``X-Invite-Token``
header, never in a URL that would end up in logs. A refused request answers 400 with
``{"error": "..."}`` and changes nothing; a rating is committed before its 200 answer.

Routes (all under ``/api/rating``): ``POST consent``, ``POST training_done``,
``POST session`` -> ``{"session_id"}``, ``GET item?session_id=`` -> item or null,
``POST submit`` -> ``{"ok": true}`` (then ``GET item`` for the next one), ``GET status``.

An item's clips travel as ``{"shape": [T, J, 3], "mm_int16_b64": ...}``: millimetres as
little-endian int16, base64 encoded (0.1 s of JSON encoding per item otherwise).
"""

from __future__ import annotations

import base64
import json
import os
from functools import lru_cache
from typing import Any

import numpy as np
from tornado.ioloop import IOLoop
from tornado.web import RequestHandler

from poseviz.rating.protocol import ItemView, RatingError, RatingService
from poseviz.rating.store import Store

__all__ = ["ROUTES", "clip_from_json", "item_to_json", "service_from_env"]

DB_ENV = "POSEVIZ_RATING_DB"


@lru_cache(maxsize=4)
def _service(url: str) -> RatingService:
    return RatingService(Store(url, create=False))


def service_from_env() -> RatingService:
    """The process-wide service for the database named by ``$POSEVIZ_RATING_DB``."""
    url = os.environ.get(DB_ENV)
    if not url:
        raise RatingError(f"the server has no study database: set {DB_ENV} to a path or URL")
    return _service(url)


def _clip_json(pose: np.ndarray) -> dict[str, Any]:
    mm = np.clip(np.rint(pose * 1000), -32768, 32767).astype("<i2")
    return {"shape": list(pose.shape), "mm_int16_b64": base64.b64encode(mm.tobytes()).decode()}


def clip_from_json(data: dict[str, Any]) -> np.ndarray:
    """Inverse of the clip encoding: ``(T, J, 3)`` metres."""
    raw = np.frombuffer(base64.b64decode(data["mm_int16_b64"]), "<i2")
    return raw.reshape(data["shape"]).astype(np.float64) / 1000


def item_to_json(item: ItemView | None) -> dict[str, Any] | None:
    """An item as JSON; ``left``/``right`` clips encoded as `clip_from_json` reads them."""
    if item is None:
        return None
    return {
        "session_id": item.session_id,
        "position": item.position,
        "total": item.total,
        "stimulus_id": item.stimulus_id,
        "fps": item.fps,
        "instruction": item.instruction,
        "suggest_break": item.suggest_break,
        "left": _clip_json(item.left),
        "right": _clip_json(item.right),
    }


class _Handler(RequestHandler):
    def check_xsrf_cookie(self) -> None:  # JSON API authenticated by the invite token
        pass

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as err:
            raise RatingError(f"request body is not JSON: {err}") from None
        if not isinstance(data, dict):
            raise RatingError("request body must be a JSON object")
        return data

    def token(self, data: dict[str, Any] | None = None) -> str:
        return str((data or {}).get("token") or self.request.headers.get("X-Invite-Token", ""))

    async def run(self, fn, *args, **kwargs) -> None:
        try:
            result = await IOLoop.current().run_in_executor(None, lambda: fn(*args, **kwargs))
        except RatingError as err:
            self.set_status(400)
            self.finish({"error": str(err)})
            return
        except (TypeError, KeyError) as err:
            self.set_status(400)
            self.finish({"error": f"malformed request: {err}"})
            return
        self.finish(result)


class ConsentHandler(_Handler):
    async def post(self) -> None:
        def do() -> dict:
            data = self.body()
            service_from_env().consent(self.token(data))
            return {"ok": True}

        await self.run(do)


class TrainingDoneHandler(_Handler):
    async def post(self) -> None:
        def do() -> dict:
            data = self.body()
            service_from_env().finish_training(self.token(data))
            return {"ok": True}

        await self.run(do)


class StatusHandler(_Handler):
    async def get(self) -> None:
        await self.run(lambda: service_from_env().rater_status(self.token()))


class SessionHandler(_Handler):
    async def post(self) -> None:
        def do() -> dict:
            data = self.body()
            device = str(data.get("device") or self.request.headers.get("User-Agent", ""))
            return {"session_id": service_from_env().start_session(self.token(data), device)}

        await self.run(do)


class ItemHandler(_Handler):
    async def get(self) -> None:
        def do() -> dict:
            try:
                session_id = int(self.get_query_argument("session_id"))
            except ValueError:
                raise RatingError("session_id must be an integer") from None
            return {"item": item_to_json(service_from_env().current_item(self.token(), session_id))}

        await self.run(do)


class SubmitHandler(_Handler):
    async def post(self) -> None:
        def do() -> dict:
            d = self.body()
            service_from_env().submit(
                self.token(d),
                int(d["session_id"]),
                int(d["stimulus_id"]),
                d["score"],
                d["submission_id"],
                plays=int(d.get("plays", 1)),
                completed_playback=bool(d.get("completed_playback", False)),
                watch_time_s=float(d.get("watch_time_s", 0.0)),
                response_time_s=float(d.get("response_time_s", 0.0)),
                return_next=False,
            )
            return {"ok": True}

        await self.run(do)


ROUTES = [
    ("/api/rating/consent", ConsentHandler, {}),
    ("/api/rating/training_done", TrainingDoneHandler, {}),
    ("/api/rating/status", StatusHandler, {}),
    ("/api/rating/session", SessionHandler, {}),
    ("/api/rating/item", ItemHandler, {}),
    ("/api/rating/submit", SubmitHandler, {}),
]
