"""The image panel: the analysed camera's picture at the current frame (a video frame, a
synthetic image, or a blank canvas) with the 2D keypoints, skeleton lines, and occluded
joints marked (hollow red circle with a cross)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import panel as pn
import param

from poseviz.skeleton import get_skeleton
from poseviz.viz.analysis import SequenceAnalysis
from poseviz.viz.colors import side_colors

__all__ = ["ImagePanel", "VideoFrames", "draw_keypoints", "encode_jpeg"]

OCCLUDED_BGR = (40, 40, 230)
BLANK = 40


class VideoFrames:
    """Random access to a video's frames with OpenCV (sequential reads when stepping
    forward, a seek otherwise). Frames come back as ``(H, W, 3)`` uint8 RGB."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"{self.path}: no such video file")
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            raise ValueError(f"{self.path}: OpenCV cannot open this video")
        self.num_frames = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._next = 0

    def __getitem__(self, index: int) -> np.ndarray:
        index = int(index)
        if not 0 <= index < max(self.num_frames, 1):
            raise IndexError(f"{self.path}: frame {index} outside 0..{self.num_frames - 1}")
        if index != self._next:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = self._cap.read()
        if not ok:
            raise ValueError(f"{self.path}: could not read frame {index}")
        self._next = index + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()


def draw_keypoints(
    image: np.ndarray,
    keypoints: np.ndarray,
    *,
    occluded: np.ndarray | None = None,
    skeleton: str = "h36m17",
    colors: np.ndarray | None = None,
    radius: int | None = None,
) -> np.ndarray:
    """Draw skeleton lines and joints onto a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        keypoints: ``(J, 2)`` pixels (NaN joints are skipped).
        occluded: ``(J,)`` bool; occluded joints get a hollow red circle with a cross.
        colors: ``(J, 3)`` uint8 RGB joint colours (default: left/right colours).
        radius: joint radius in pixels (default: 0.6% of the image diagonal, at least 3).

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    img = np.ascontiguousarray(image[..., ::-1])  # RGB -> BGR for OpenCV
    skel = get_skeleton(skeleton)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (skel.num_joints, 2):
        raise ValueError(
            f"draw_keypoints: keypoints must be ({skel.num_joints}, 2), got {kp.shape}"
        )
    cols = side_colors(1, skel)[0] if colors is None else np.asarray(colors, dtype=np.uint8)
    occ = np.zeros(skel.num_joints, bool) if occluded is None else np.asarray(occluded, bool)
    r = radius or max(3, int(0.006 * np.hypot(*img.shape[:2])))
    ok = np.isfinite(kp).all(1)
    pts = np.rint(np.where(ok[:, None], kp, 0)).astype(int)
    for j, p in enumerate(skel.parents):
        if p >= 0 and ok[j] and ok[p]:
            c = tuple(int(v) for v in cols[j][::-1])
            cv2.line(img, tuple(pts[p]), tuple(pts[j]), c, max(1, r // 2), cv2.LINE_AA)
    for j in range(skel.num_joints):
        if not ok[j]:
            continue
        if occ[j]:
            cv2.circle(img, tuple(pts[j]), r + 2, OCCLUDED_BGR, max(1, r // 2), cv2.LINE_AA)
            d = r
            x, y = pts[j]
            cv2.line(img, (x - d, y - d), (x + d, y + d), OCCLUDED_BGR, 1, cv2.LINE_AA)
            cv2.line(img, (x - d, y + d), (x + d, y - d), OCCLUDED_BGR, 1, cv2.LINE_AA)
        else:
            c = tuple(int(v) for v in cols[j][::-1])
            cv2.circle(img, tuple(pts[j]), r, c, -1, cv2.LINE_AA)
    return np.ascontiguousarray(img[..., ::-1])


def encode_jpeg(image: np.ndarray, *, max_width: int = 640, quality: int = 85) -> bytes:
    """``(H, W, 3)`` uint8 RGB -> JPEG bytes, downscaled to at most ``max_width`` pixels."""
    h, w = image.shape[:2]
    if w > max_width:
        image = cv2.resize(
            image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("encode_jpeg: OpenCV could not encode the image")
    return buf.tobytes()


class ImagePanel(pn.viewable.Viewer):
    """The camera's picture at ``frame`` with the 2D keypoints drawn on it.

    The picture comes from ``image_fn(sequence_frame) -> (H, W, 3) uint8 RGB`` when given
    (e.g. the synthetic image renderer), else from the sequence's video for the camera,
    else a blank canvas of the camera's size.

    Params:
        analysis: the `SequenceAnalysis` (its ``keypoints_2d`` and ``occluded``).
        frame: index into the analysed frames.
        show_occlusion: mark occluded joints.
    """

    analysis = param.ClassSelector(class_=SequenceAnalysis)
    frame = param.Integer(default=0, bounds=(0, None))
    show_occlusion = param.Boolean(default=True)
    image_fn = param.Callable(default=None, allow_None=True)
    max_width = param.Integer(default=480, bounds=(64, None))

    def __init__(self, analysis: SequenceAnalysis, **params: Any) -> None:
        super().__init__(analysis=analysis, **params)
        self.param.frame.bounds = (0, analysis.num_frames - 1)
        self._video: VideoFrames | None = None
        self._video_error = ""
        self._pane = pn.pane.JPG(None, sizing_mode="scale_width", max_width=self.max_width)
        self._note = pn.pane.Markdown("", margin=(0, 10))
        self._open_video()
        self._render()

    @property
    def source(self) -> str:
        """Where the picture comes from: ``"image_fn"``, ``"video"`` or ``"blank"``."""
        if self.image_fn is not None:
            return "image_fn"
        return "video" if self._video is not None else "blank"

    def _open_video(self) -> None:
        if self._video is not None:
            self._video.close()
        self._video, self._video_error = None, ""
        a = self.analysis
        path = a.sequence.video.get(a.camera_id)
        if path:
            try:
                self._video = VideoFrames(path)
            except (FileNotFoundError, ValueError) as err:
                self._video_error = str(err)

    def image(self) -> np.ndarray:
        """``(H, W, 3)`` uint8 RGB picture of the current frame with keypoints drawn."""
        a = self.analysis
        seq_frame = int(a.frames[self.frame])
        if self.image_fn is not None:
            base = np.asarray(self.image_fn(seq_frame), dtype=np.uint8)
        elif self._video is not None and seq_frame < self._video.num_frames:
            base = self._video[seq_frame]
        else:
            base = np.full((a.camera.height, a.camera.width, 3), BLANK, np.uint8)
        occ = a.occluded[self.frame] if (self.show_occlusion and a.occluded is not None) else None
        return draw_keypoints(base, a.keypoints_2d[self.frame], occluded=occ)

    def _render(self) -> None:
        try:
            self._pane.object = encode_jpeg(self.image(), max_width=self.max_width)
            note = self._video_error
        except Exception as err:  # a broken frame source must not break the page
            note = f"image unavailable: {err}"
        a = self.analysis
        occ = "" if a.occluded is None else f", {int(a.occluded[self.frame].sum())} occluded"
        self._note.object = f"**{a.camera_id}** ({self.source}{occ}) {note}"

    @param.depends("frame", "show_occlusion", "image_fn", watch=True)
    def _changed(self) -> None:
        self._render()

    @param.depends("analysis", watch=True)
    def _analysis_changed(self) -> None:
        self.param.frame.bounds = (0, self.analysis.num_frames - 1)
        self.frame = min(self.frame, self.analysis.num_frames - 1)
        self._open_video()
        self._render()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._note, self._pane, sizing_mode="stretch_width")
