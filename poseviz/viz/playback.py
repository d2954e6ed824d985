"""Playback controls that drive a group of skeleton views in the browser.

`PlaybackControls` plays, pauses, steps (buttons and keyboard), scrubs and loops at a chosen
speed. Frames reach the views of its ``group`` in the browser directly (``_playback.js``):
O(1) per frame and no server round trip. ``frame`` follows on the server at most every
``sync_ms`` while playing, and at once when paused, stepped or scrubbed; setting ``frame``
from Python moves the views too.
"""

from __future__ import annotations

from pathlib import Path

import param
from panel.custom import JSComponent

__all__ = ["PlaybackControls"]


class PlaybackControls(JSComponent):
    """Play/pause/step/scrub/speed/loop for the views whose ``group`` equals ``group``.

    Params:
        frame: current frame (0-based).
        num_frames: frames in the sequence.
        fps: frames per second at speed 1.
        speed: playback speed factor (0.25, 0.5, 1, 2 or 4).
        loop: wrap around at the end instead of stopping.
        playing: True while playing; set it to start or stop playback.
        group: the views' group name.
        sync_ms: the most often (milliseconds) the browser reports ``frame`` while playing.
    """

    frame = param.Integer(default=0, bounds=(0, None))
    num_frames = param.Integer(default=1, bounds=(1, None))
    fps = param.Number(default=25.0, bounds=(0.1, None))
    speed = param.Selector(default=1.0, objects=[0.25, 0.5, 1.0, 2.0, 4.0])
    loop = param.Boolean(default=True)
    playing = param.Boolean(default=False)
    group = param.String(default="")
    sync_ms = param.Integer(default=100, bounds=(0, None))

    _esm = Path(__file__).parent / "_playback.js"

    @param.depends("num_frames", watch=True, on_init=True)
    def _clamp(self) -> None:
        self.param.frame.bounds = (0, self.num_frames - 1)
        if self.frame > self.num_frames - 1:
            self.frame = self.num_frames - 1

    def step(self, delta: int) -> None:
        """Move ``delta`` frames, clamped to the sequence (no wrap-around)."""
        self.frame = max(0, min(self.num_frames - 1, self.frame + int(delta)))
