"""The image panel: the analysed camera's picture at the current frame (a video frame, a
synthetic image, or a blank canvas) with the 2D keypoints, skeleton lines, and occluded
joints marked (red ring with a cross)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import panel as pn
import param

from poseviz.data.synthetic import person_box
from poseviz.skeleton import get_skeleton
from poseviz.viz.analysis import SequenceAnalysis
from poseviz.viz.render import draw_pose_2d

__all__ = ["ImagePanel", "VideoFrames", "draw_keypoints", "encode_jpeg", "synthetic_image_fn"]

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
    confidence: np.ndarray | None = None,
    skeleton: str = "h36m17",
    thickness: int | None = None,
) -> np.ndarray:
    """The skeleton drawn onto a copy of ``image`` (`poseviz.viz.render.draw_pose_2d`: left
    limbs blue, right red; joints of confidence 0 hollow), occluded joints marked with a red
    ring and cross.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        keypoints: ``(J, 2)`` pixels (NaN joints are skipped).
        occluded: ``(J,)`` bool occlusion labels.
        confidence: ``(J,)`` detector confidence in [0, 1].
        thickness: line thickness in pixels (default from the image size).

    Returns:
        ``(H, W, 3)`` uint8 RGB.
    """
    skel = get_skeleton(skeleton)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape != (skel.num_joints, 2):
        raise ValueError(
            f"draw_keypoints: keypoints must be ({skel.num_joints}, 2), got {kp.shape}"
        )
    bgr = np.ascontiguousarray(image[..., ::-1])
    draw_pose_2d(bgr, kp, confidence, skeleton=skeleton, thickness=thickness)
    if occluded is not None:
        t = thickness or max(2, round(max(bgr.shape[:2]) / 400))
        r = 2 * t + 3
        for j in np.flatnonzero(np.asarray(occluded, bool) & np.isfinite(kp).all(1)):
            x, y = (int(v) for v in np.rint(kp[j]))
            cv2.circle(bgr, (x, y), r, OCCLUDED_BGR, max(1, t // 2 + 1), cv2.LINE_AA)
            cv2.line(bgr, (x - r, y - r), (x + r, y + r), OCCLUDED_BGR, 1, cv2.LINE_AA)
            cv2.line(bgr, (x - r, y + r), (x + r, y - r), OCCLUDED_BGR, 1, cv2.LINE_AA)
    return np.ascontiguousarray(bgr[..., ::-1])


def synthetic_image_fn(sequence, camera_id: str, *, seed: int = 0):
    """``frame -> (H, W, 3) uint8 RGB``: the synthetic picture of the capsule body
    (`poseviz.data.synthetic.render_body`) seen by ``camera_id`` over one seeded background,
    the image the occlusion labels describe. None when the sequence has no 3D or no such
    camera."""
    from poseviz.data.synthetic import random_background, render_body
    from poseviz.geometry import world_to_camera

    if sequence.joints_3d is None or camera_id not in sequence.cameras:
        return None
    camera = sequence.cameras[camera_id]
    background = random_background(camera.height, camera.width, np.random.default_rng(seed))

    def image(frame: int) -> np.ndarray:
        joints = np.asarray(world_to_camera(sequence.joints_3d[int(frame)], camera))
        return render_body(
            joints, camera, rng=seed, background=background.copy(), skeleton=sequence.skeleton
        ).image

    return image


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
    image_label = param.String(default="image", doc="what image_fn shows, for the caption")
    zoom = param.Boolean(default=True, doc="show the person's box (padded) instead of the frame")
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
        """Where the picture comes from: ``image_label`` (``image_fn``), ``"video"`` or
        ``"blank"``."""
        if self.image_fn is not None:
            return self.image_label
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
        conf = None if a.confidence is None else a.confidence[self.frame]
        kp = a.keypoints_2d[self.frame]
        out = draw_keypoints(base, kp, occluded=occ, confidence=conf)
        if self.zoom and np.isfinite(kp).any():
            x0, y0, x1, y1 = np.rint(person_box(kp, aspect=1.0, padding=0.4)).astype(int)
            h, w = out.shape[:2]
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 > 8 and y1 - y0 > 8:
                out = np.ascontiguousarray(out[y0:y1, x0:x1])
        return out

    def _render(self) -> None:
        try:
            self._pane.object = encode_jpeg(self.image(), max_width=self.max_width)
            note = self._video_error
        except Exception as err:  # a broken frame source must not break the page
            note = f"image unavailable: {err}"
        a = self.analysis
        occ = "" if a.occluded is None else f", {int(a.occluded[self.frame].sum())} occluded"
        self._note.object = f"**{a.camera_id}** ({self.source}{occ}) {note}"

    @param.depends("frame", "show_occlusion", "image_fn", "zoom", watch=True)
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
