"""The rater's page of a MOS study: consent -> instructions -> training -> rated items.

All state changes go through `poseviz.rating.protocol.RatingService`, which commits each
rating before the next item is shown; this module only lays the steps out. The two clips
of an item play side by side in sync (two `SkeletonView`s driven by one player). The
score buttons unlock once the clip has played to its last frame.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import panel as pn
import param

from poseviz.rating.protocol import SCALE, ItemView, RatingError, RatingService
from poseviz.viz.skeleton_view import SkeletonView

__all__ = ["RaterApp", "SyncedPair"]

INSTRUCTIONS = """
### How to rate

Each item shows **two animated 3D skeletons side by side**. Watch the clip to the end (you
may replay it), then rate **how similar the two motions look** on a 5-point scale:

| score | meaning |
|---|---|
| 5 | identical |
| 4 | very similar |
| 3 | somewhat similar |
| 2 | different |
| 1 | very different |

Look at the whole body and at every moment: a joint that jumps or a limb that points the
wrong way matters even if the rest matches. Some items check your attention and tell you
which score to give. A session has 12 items; take a break after about 45 minutes.
"""


def _to_display(pose: np.ndarray) -> np.ndarray:
    """Root-relative camera-frame poses (y down) drawn upright: flip y and z."""
    return pose * np.array([1.0, -1.0, -1.0])


class SyncedPair(pn.viewable.Viewer):
    """Two ``(T, J, 3)`` sequences side by side driven by one player.

    ``played_through`` turns True once the player has shown the last frame.
    """

    frame = param.Integer(default=0, bounds=(0, None))
    played_through = param.Boolean(default=False)
    plays = param.Integer(default=0)

    def __init__(self, left: np.ndarray, right: np.ndarray, fps: float, **params: Any) -> None:
        super().__init__(**params)
        T = len(left)
        self.num_frames = T
        self.param.frame.bounds = (0, T - 1)
        self.left = SkeletonView(joints=_to_display(left), title="A", height=340)
        self.right = SkeletonView(joints=_to_display(right), title="B", height=340)
        self.right.view_camera = self.left.view_camera
        self.player = pn.widgets.Player(
            start=0,
            end=T - 1,
            value=0,
            interval=int(1000 / fps),
            loop_policy="once",
            show_loop_controls=False,
            sizing_mode="stretch_width",
            label="Play",
        )
        self.player.param.watch(self._on_frame, "value")

    def _on_frame(self, event: param.parameterized.Event) -> None:
        self.frame = event.new
        self.left.frame = self.right.frame = event.new
        if event.new == self.num_frames - 1:
            self.plays += 1
            self.played_through = True

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.left, self.right, sizing_mode="stretch_width"),
            self.player,
            sizing_mode="stretch_width",
        )


class RaterApp(pn.viewable.Viewer):
    """The whole rater flow for the invite ``token`` (read from ``?token=`` when served)."""

    step = param.Selector(
        default="welcome", objects=["welcome", "training", "rating", "done", "error"]
    )
    message = param.String(default="")

    def __init__(self, service: RatingService, token: str, **params: Any) -> None:
        super().__init__(**params)
        self.service = service
        self.token = token
        self.session_id: int | None = None
        self.item: ItemView | None = None
        self._shown_at = 0.0
        self._submission_id = ""
        self._training: list = []
        self._training_index = 0
        self.body = pn.Column(sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(
            value=0, max=1, sizing_mode="stretch_width", visible=False
        )
        self.status = pn.pane.Markdown("", sizing_mode="stretch_width")
        try:
            state = service.rater_status(token)
        except RatingError as err:
            self._fail(str(err))
            return
        if not state["consented"]:
            self._show_welcome()
        elif not state["trained"]:
            self._start_training()
        else:
            self._start_session()

    # -- steps ----------------------------------------------------------------------------
    def _fail(self, text: str) -> None:
        self.step, self.message = "error", text
        self.body[:] = [pn.pane.Alert(text, alert_type="danger")]

    def _show_welcome(self) -> None:
        self.step = "welcome"
        agree = pn.widgets.Button(name="I agree and want to take part", button_type="primary")
        agree.on_click(lambda _: self._consent())
        consent = (
            "### Pose similarity study\n\nYou will watch short animations of 3D human skeletons "
            "and rate how similar they look. We store your ratings, the time you take and your "
            "browser name under a pseudonym; nothing else about you. You may stop at any time."
        )
        self.body[:] = [pn.pane.Markdown(consent), pn.pane.Markdown(INSTRUCTIONS), agree]

    def _consent(self) -> None:
        try:
            self.service.consent(self.token)
        except RatingError as err:
            return self._fail(str(err))
        self._start_training()

    def _start_training(self) -> None:
        self.step = "training"
        self._training = self.service.training_items(self.token)
        self._training_index = 0
        self._show_training()

    def _show_training(self) -> None:
        if self._training_index >= len(self._training):
            try:
                self.service.finish_training(self.token)
            except RatingError as err:
                return self._fail(str(err))
            return self._start_session()
        score, ref, degraded = self._training[self._training_index]
        pair = SyncedPair(ref, degraded, fps=25.0)
        nxt = pn.widgets.Button(name="Next example", button_type="primary")
        nxt.on_click(lambda _: self._next_training())
        label = f"**Training {self._training_index + 1} of {len(self._training)}**: this pair would be rated **{score:g} ({SCALE[int(score)]})**."
        self.body[:] = [pn.pane.Markdown(label), pair, nxt]

    def _next_training(self) -> None:
        self._training_index += 1
        self._show_training()

    def _start_session(self) -> None:
        try:
            self.session_id = self.service.start_session(self.token, device=_user_agent())
            self._show(self.service.current_item(self.token, self.session_id))
        except RatingError as err:
            if "every item" in str(err):
                self.step = "done"
                self.body[:] = [pn.pane.Markdown(f"### {err}")]
                return
            self._fail(str(err))

    def _show(self, item: ItemView | None) -> None:
        self.item = item
        if item is None:
            self.step = "done"
            self.progress.visible = False
            more = pn.widgets.Button(name="Rate another session", button_type="primary")
            more.on_click(lambda _: self._start_session())
            self.body[:] = [pn.pane.Markdown("### Session complete: thank you!"), more]
            return
        self.step = "rating"
        self.progress.param.update(value=item.position, max=item.total, visible=True)
        pair = SyncedPair(item.left, item.right, item.fps)
        buttons = pn.widgets.RadioButtonGroup(
            options={f"{k} {v}": k for k, v in sorted(SCALE.items())},
            value=None,
            disabled=True,
            button_type="primary",
            button_style="outline",
        )
        submit = pn.widgets.Button(name="Submit rating", button_type="success", disabled=True)
        pair.param.watch(lambda e: setattr(buttons, "disabled", not e.new), "played_through")
        buttons.param.watch(lambda e: setattr(submit, "disabled", e.new is None), "value")
        submit.on_click(lambda _: self._submit(pair, buttons.value))
        notes = [pn.pane.Markdown(f"**Item {item.position + 1} of {item.total}**")]
        if item.instruction:
            notes.append(pn.pane.Alert(item.instruction, alert_type="warning"))
        if item.suggest_break:
            notes.append(
                pn.pane.Alert(
                    "You have been rating for 45 minutes: consider a short break.",
                    alert_type="info",
                )
            )
        self._shown_at = time.monotonic()
        self._submission_id = uuid.uuid4().hex
        self.body[:] = [
            *notes,
            pair,
            pn.pane.Markdown("How similar are the two motions?"),
            buttons,
            submit,
        ]

    def _submit(self, pair: SyncedPair, score: int | None) -> None:
        if self.item is None or score is None:
            return
        try:
            nxt = self.service.submit(
                self.token,
                self.session_id,
                self.item.stimulus_id,
                int(score),
                self._submission_id,
                plays=max(pair.plays, 1),
                completed_playback=pair.played_through,
                watch_time_s=pair.plays * pair.num_frames / max(self.item.fps, 1e-6),
                response_time_s=time.monotonic() - self._shown_at,
            )
        except RatingError as err:
            if pn.state.notifications is not None:
                pn.state.notifications.error(str(err))
            self.status.object = f"**Not recorded:** {err}"
            return
        self.status.object = ""
        self._show(nxt)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.progress, self.status, self.body, sizing_mode="stretch_width", max_width=1100
        )


def _user_agent() -> str:
    try:
        return str(pn.state.headers.get("User-Agent", ""))[:300]
    except Exception:  # not served (notebook, tests)
        return ""
