"""Video in the wild -> one tracked person's 2D keypoints (h36m17) as a `PoseSequence`.

Pipeline: `read_video_info` checks that the file decodes; `detect_video` runs
`MediaPipeDetector` on every frame (with a progress bar) and, when the full-frame result is
not the person being followed, re-detects in a crop around the followed person's predicted
box; the raw BlazePose candidates are cached in an ``.npz`` keyed by the video's content
hash (SHA-256) and the detector settings, so a second run skips detection. `track_video`
follows one person through the candidates (`poseviz.data.tracking.track_person`: gaps are
interpolated and flagged with confidence 0; after `REACQUIRE_SECONDS` without the person the
track restarts on whoever is most prominent, as a new ``segment``), optionally smooths, and returns the sequence
with confidence and occlusion estimates; `video_to_sequence` is its one-line form for apps.

The sequence has one view (id ``"video"`` by default) whose `Camera` is an assumed pinhole:
the video's size, principal point at the centre and ``fx = fy = max(width, height)`` (about
a 53 degree field of view): there is no calibration, and models only use the image size.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.data.tracking import PersonTracker, Track, fill_gaps, smooth_keypoints, track_person
from poseviz.inference.detect import MediaPipeDetector, blazepose_to_h36m17
from poseviz.structures import Camera, PoseSequence, Prediction

__all__ = [
    "REACQUIRE_SECONDS",
    "TrackedVideo",
    "VideoDetections",
    "VideoInfo",
    "default_cache_dir",
    "detect_video",
    "iter_frames",
    "lift_tracked_video",
    "mediapipe_prediction",
    "predict_video",
    "read_video_info",
    "track_video",
    "video_hash",
    "video_to_sequence",
]

_CACHE_VERSION = 1
# After this long without the followed person the track restarts on the most prominent one
# (a new, flagged segment): long enough to ride out a missed detection or two, short enough
# not to drop a person whom a one-person detector swapped for someone else.
REACQUIRE_SECONDS = 0.5


@dataclass(frozen=True)
class VideoInfo:
    """What OpenCV reports about a video (``frame_count`` may be an estimate)."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int


def read_video_info(path: str | Path) -> VideoInfo:
    """Open ``path`` and decode its first frame; raises ValueError naming the file when it
    is not a readable video (FileNotFoundError when it does not exist)."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None or frame.ndim != 3:
            raise ValueError(
                f"{path}: not a readable video (OpenCV could not decode a frame; the file "
                "is corrupt or in an unsupported format)"
            )
        fps = cap.get(cv2.CAP_PROP_FPS)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    h, w = frame.shape[:2]
    return VideoInfo(str(path), int(w), int(h), float(fps) if fps and fps > 0 else 30.0, count)


def iter_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of a video as ``(H, W, 3)`` uint8 BGR arrays, in order, stopping
    after ``max_frames`` (or at the first frame that does not decode)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        n = 0
        while max_frames is None or n < max_frames:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
            n += 1
    finally:
        cap.release()


def video_hash(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of the file's bytes (the detection cache key)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$POSEVIZ_CACHE_DIR/detections`` or the user cache folder's ``poseviz/detections``."""
    root = os.environ.get("POSEVIZ_CACHE_DIR")
    if root:
        return Path(root) / "detections"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("poseviz")) / "detections"


@dataclass(eq=False)
class VideoDetections:
    """Raw BlazePose candidates of every processed frame of one video.

    Attributes:
        info: the video's `VideoInfo`.
        sha256: content hash of the video file.
        settings: detector settings (part of the cache key).
        num_frames: frames processed (T).
        complete: True when every frame of the video was processed.
        frame: ``(N,)`` int64 frame of each candidate (N candidates in all).
        image: ``(N, 33, 2)`` pixels; ``visibility`` ``(N, 33)``; ``world`` ``(N, 33, 3)``
            metres (NaN when absent).
        source: ``(N,)`` int8: 0 from the full frame, 1 from a re-detection in a crop.
    """

    info: VideoInfo
    sha256: str
    settings: dict[str, Any]
    num_frames: int
    complete: bool
    frame: np.ndarray
    image: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    source: np.ndarray

    @property
    def frames_with_person(self) -> int:
        """Number of frames with at least one candidate."""
        return int(np.unique(self.frame).size)

    def h36m17(self) -> dict[str, np.ndarray]:
        """All candidates mapped with `blazepose_to_h36m17` (``(N, 17, ...)`` arrays)."""
        return blazepose_to_h36m17(
            self.image,
            self.visibility,
            width=self.info.width,
            height=self.info.height,
            world=self.world,
        )

    def per_frame(self) -> list[np.ndarray]:
        """For each frame, the indices of its candidates."""
        order = np.argsort(self.frame, kind="stable")
        bounds = np.searchsorted(self.frame[order], np.arange(self.num_frames + 1))
        return [order[bounds[t] : bounds[t + 1]] for t in range(self.num_frames)]

    def head(self, num_frames: int) -> VideoDetections:
        """The first ``num_frames`` frames."""
        keep = self.frame < num_frames
        return VideoDetections(
            self.info,
            self.sha256,
            self.settings,
            min(num_frames, self.num_frames),
            self.complete and num_frames >= self.num_frames,
            self.frame[keep],
            self.image[keep],
            self.visibility[keep],
            self.world[keep],
            self.source[keep],
        )

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` atomically (temporary file, then rename)."""
        path = Path(path)
        meta = {
            "version": _CACHE_VERSION,
            "info": self.info.__dict__,
            "sha256": self.sha256,
            "settings": self.settings,
            "num_frames": self.num_frames,
            "complete": self.complete,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(
                    f,
                    meta=np.array(json.dumps(meta)),
                    frame=self.frame,
                    image=self.image,
                    visibility=self.visibility,
                    world=self.world,
                    source=self.source,
                )
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> VideoDetections:
        """Read a file written by `save`; ValueError when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as f:
                meta = json.loads(str(f["meta"]))
                arrays = {k: f[k] for k in ("frame", "image", "visibility", "world", "source")}
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"{path}: not a poseviz detection cache ({err})") from None
        if meta.get("version") != _CACHE_VERSION:
            raise ValueError(f"{path}: detection cache version {meta.get('version')!r}")
        return cls(
            VideoInfo(**meta["info"]),
            meta["sha256"],
            meta["settings"],
            int(meta["num_frames"]),
            bool(meta["complete"]),
            **arrays,
        )


def _cache_path(cache_dir: Path, sha: str, settings: dict[str, Any]) -> Path:
    key = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return cache_dir / f"{sha[:24]}-{key}.npz"


def detect_video(
    video: str | Path,
    *,
    detector: MediaPipeDetector | None = None,
    max_frames: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    redetect: bool = True,
    progress: bool | Callable[[int, int | None], None] = True,
) -> VideoDetections:
    """Detect 2D poses in every frame of ``video`` (see the module docstring).

    Args:
        video: path of the video file.
        detector: a `MediaPipeDetector` (default: one with default settings).
        max_frames: stop after this many frames.
        cache_dir: where cached detections live (default `default_cache_dir`).
        use_cache: read and write the cache.
        redetect: re-detect in a crop around the followed person when the full-frame
            result is someone else (or nobody).
        progress: show a tqdm progress bar (True), nothing (False), or call
            ``progress(frames_done, total_or_None)`` after every frame (e.g. an app's bar).

    Raises:
        FileNotFoundError / ValueError: the file is missing or not a readable video.
        poseviz.inference.detect.MissingExtraError: MediaPipe is not installed.
    """
    from tqdm.auto import tqdm

    info = read_video_info(video)
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"detect_video: max_frames must be >= 1, got {max_frames}")
    sha = video_hash(video)
    own = detector is None
    settings_probe = (
        detector.settings if detector is not None else MediaPipeDetector.default_settings()
    )
    settings = {**settings_probe, "redetect": bool(redetect), "reacquire_s": REACQUIRE_SECONDS}
    cache = _cache_path(Path(cache_dir) if cache_dir else default_cache_dir(), sha, settings)
    if use_cache and cache.is_file():
        try:
            cached = VideoDetections.load(cache)
        except ValueError:
            cached = None
        if cached is not None and cached.sha256 == sha:
            if cached.complete or (max_frames is not None and cached.num_frames >= max_frames):
                return cached if max_frames is None else cached.head(max_frames)
    det = detector if detector is not None else MediaPipeDetector()
    tracker = PersonTracker(reacquire_after=_reacquire_frames(info.fps))
    frames, images, vis, world, source = [], [], [], [], []
    total = info.frame_count or None
    if max_frames is not None:
        total = min(max_frames, total or max_frames)
    t = -1
    try:
        bar = tqdm(
            iter_frames(video, max_frames),
            total=total,
            desc=f"detecting {Path(video).name}",
            unit="frame",
            disable=progress is not True,
        )
        for t, frame in enumerate(bar):
            found = [c for c in [det.detect(frame)] if c is not None]
            kinds = [0] * len(found)
            if redetect and tracker.active:
                limit = tracker.match_limit()
                mapped = [_h36m(c, info) for c in found]
                close = [tracker.distances(p[None], c[None])[0] <= limit for p, c in mapped]
                if not any(close):
                    extra = det.detect_region(frame, tracker.predicted_box())
                    if extra is not None:
                        found.append(extra)
                        kinds.append(1)
            mapped = [_h36m(c, info) for c in found]
            if mapped:
                tracker.update(np.stack([p for p, _ in mapped]), np.stack([c for _, c in mapped]))
            else:
                tracker.update(np.zeros((0, 17, 2)), np.zeros((0, 17)))
            if callable(progress):
                progress(t + 1, total)
            for c, k in zip(found, kinds, strict=True):
                frames.append(t)
                images.append(c.image)
                vis.append(c.visibility)
                world.append(c.world)
                source.append(k)
        bar.close()
    finally:
        if own:
            det.close()
    num = t + 1
    complete = max_frames is None or num < max_frames
    result = VideoDetections(
        info=info,
        sha256=sha,
        settings=settings,
        num_frames=num,
        complete=complete,
        frame=np.asarray(frames, dtype=np.int64),
        image=np.asarray(images, dtype=np.float64).reshape(-1, 33, 2),
        visibility=np.asarray(vis, dtype=np.float64).reshape(-1, 33),
        world=np.asarray(world, dtype=np.float64).reshape(-1, 33, 3),
        source=np.asarray(source, dtype=np.int8),
    )
    if use_cache and len(frames):
        result.save(cache)
    return result


def _reacquire_frames(fps: float) -> int:
    return max(1, round(REACQUIRE_SECONDS * fps))


def _h36m(c, info: VideoInfo) -> tuple[np.ndarray, np.ndarray]:
    m = blazepose_to_h36m17(c.image, c.visibility, width=info.width, height=info.height)
    return m["joints_2d"], m["confidence"]


@dataclass(eq=False)
class TrackedVideo:
    """One person followed through a video.

    Attributes:
        sequence: `PoseSequence` with one view: ``joints_2d`` ``(T, 17, 2)`` pixels,
            ``confidence`` ``(T, 17)`` (0 on filled frames), ``occluded`` ``(T, 17)``,
            the assumed `Camera` and the video path.
        track: the `Track` (``detected`` ``(T,)`` mask, ``segment``...).
        world_3d: ``(T, 17, 3)`` MediaPipe's own monocular 3D (world landmarks, metres,
            pelvis-relative, camera-aligned axes), NaN where the person was not detected.
        detections: the raw `VideoDetections`.
    """

    sequence: PoseSequence
    track: Track
    world_3d: np.ndarray
    detections: VideoDetections

    @property
    def camera_id(self) -> str:
        return self.sequence.camera_ids[0]


def track_video(
    video: str | Path,
    *,
    camera_id: str = "video",
    smooth: str = "none",
    max_frames: int | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    detections: VideoDetections | None = None,
    progress: bool | Callable[[int, int | None], None] = True,
) -> TrackedVideo:
    """Detect (or reuse cached detections) and follow one person through ``video``.

    Args:
        video: path of the video.
        camera_id: id of the view in the returned sequence.
        smooth: ``"none"``, ``"one_euro"`` or ``"savgol"`` (`smooth_keypoints`) for the 2D.
        max_frames, cache_dir, use_cache, progress: see `detect_video`.
        detections: reuse these instead of detecting.

    Raises:
        ValueError: no person in any frame (the message names the video), or a bad video.
    """
    det = detections or detect_video(
        video, max_frames=max_frames, cache_dir=cache_dir, use_cache=use_cache, progress=progress
    )
    info = det.info
    if len(det.frame) == 0:
        raise ValueError(f"{video}: no person detected in any of its {det.num_frames} frames")
    mapped = det.h36m17()
    per_frame = det.per_frame()
    track = track_person(
        [mapped["joints_2d"][i] for i in per_frame],
        [mapped["confidence"][i] for i in per_frame],
        [mapped["occluded"][i] for i in per_frame],
        reacquire_after=_reacquire_frames(info.fps),
    )
    joints = track.joints_2d
    if smooth != "none":
        joints = smooth_keypoints(joints, info.fps, smooth)
    world = np.full((det.num_frames, 17, 3), np.nan)
    for t, idx in enumerate(per_frame):
        if track.chosen[t] >= 0:
            world[t] = mapped["world_3d"][idx[track.chosen[t]]]
    side = float(max(info.width, info.height))
    camera = Camera(camera_id, info.width, info.height, side, side, info.width / 2, info.height / 2)
    name = Path(video).stem
    sequence = PoseSequence(
        name=name,
        subject="video",
        action=name,
        fps=info.fps,
        skeleton="h36m17",
        cameras={camera_id: camera},
        joints_2d={camera_id: joints},
        confidence={camera_id: track.confidence},
        occluded={camera_id: track.occluded},
        video={camera_id: str(video)},
    )
    return TrackedVideo(sequence=sequence, track=track, world_3d=world, detections=det)


def video_to_sequence(video: str | Path, **options: Any) -> PoseSequence:
    """``track_video(video, **options).sequence``: a video path -> a `PoseSequence` with
    ``(T, 17, 2)`` pixels, ``(T, 17)`` confidence and occlusion, the assumed camera and the
    video path (what the compare app shows for a video without ground truth)."""
    return track_video(video, **options).sequence


def predict_video(
    model: Any,
    sequence: PoseSequence,
    camera_id: str,
    *,
    model_id: str | None = None,
    flip_tta: bool = False,
    level: bool = False,
    progress: bool = False,
) -> Prediction:
    """A lifting model's `Prediction` for a view that has a video (``sequence.video``).

    Keypoint models get the view's 2D (``poseviz.inference.predict_sequence``); models that
    read ``image`` get real person crops of the video (`poseviz.inference.crops.crop_inputs`
    at their ``config.image_size``), and the record's aux gains ``crop_box`` ``(T, 4)``
    pixels and ``crop_size`` ``(T, 2)`` (height, width), the crops their attention covers.

    Args:
        model: a loaded lifting model (``poseviz.inference.load_model``).
        sequence, camera_id: the view; ``joints_2d`` ``(T, 17, 2)`` pixels, ``confidence``
            and ``occluded`` ``(T, 17)``.
        model_id: the record's model label (default: the model's class name).
        flip_tta: average with the un-mirrored prediction of the mirrored input
            (`poseviz.models.tta.flip_tta`).
        level: lift the view turned so that the trunk points up the image, and turn the
            3D back (`poseviz.inference.level`; keypoint models only).
        progress: progress bars for cropping.

    Returns:
        ``joints_3d`` ``(T, 17, 3)`` root-relative camera-frame metres.

    Raises:
        ValueError: an image model and a view without a video or 2D keypoints; ``level``
            with an image model.
    """
    from poseviz.inference import predict_sequence

    if "image" not in getattr(model, "inputs", ()) or level:
        return predict_sequence(
            model, sequence, camera_id, model_id=model_id, flip_tta=flip_tta, level=level
        )
    from poseviz.inference.crops import crop_inputs, person_boxes

    video = sequence.video.get(camera_id)
    if video is None or camera_id not in sequence.joints_2d:
        raise ValueError(
            f"sequence {sequence.name!r} camera {camera_id!r}: an image model needs the view's "
            "video and 2D keypoints"
        )
    size = tuple(int(v) for v in model.config.image_size)
    joints, conf = sequence.joints_2d[camera_id], sequence.confidence.get(camera_id)
    inputs = crop_inputs(
        video, joints, conf, sequence.occluded.get(camera_id), size=size, progress=progress
    )
    pred = predict_sequence(
        model, sequence, camera_id, model_id=model_id, inputs=inputs, flip_tta=flip_tta
    )
    T = pred.num_frames
    pred.aux["crop_box"] = person_boxes(joints, conf, aspect=size[1] / size[0])[:T]
    pred.aux["crop_size"] = np.tile(np.asarray(size, np.int64), (T, 1))
    return pred


def mediapipe_prediction(tracked: TrackedVideo) -> Prediction:
    """MediaPipe's own monocular 3D of the followed person as a `Prediction` named
    ``"mediapipe_world"``: world landmarks mapped to h36m17, ``(T, 17, 3)`` metres,
    pelvis-centred, camera-aligned axes; frames without a detection interpolated
    (`poseviz.data.tracking.fill_gaps`). Aux: ``joints_2d`` ``(T, 17, 2)`` pixels,
    ``confidence`` and ``occluded`` ``(T, 17)``, ``detected`` and ``segment`` ``(T,)``."""
    seq, cam, track = tracked.sequence, tracked.camera_id, tracked.track
    world = fill_gaps(tracked.world_3d, np.repeat(track.detected[:, None], 17, 1))
    return Prediction(
        model_id="mediapipe_world",
        sequence_id=seq.name,
        camera_id=cam,
        joints_3d=world,
        aux=_per_frame_aux(tracked),
    )


def _per_frame_aux(tracked: TrackedVideo) -> dict[str, np.ndarray]:
    seq, cam, track = tracked.sequence, tracked.camera_id, tracked.track
    return {
        "joints_2d": seq.joints_2d[cam],
        "confidence": seq.confidence[cam],
        "occluded": seq.occluded[cam],
        "detected": track.detected,
        "segment": track.segment,
    }


def lift_tracked_video(
    tracked: TrackedVideo,
    model: Any,
    *,
    model_id: str,
    flip_tta: bool = False,
    level: bool = False,
    progress: bool = False,
) -> tuple[Prediction, Prediction]:
    """Lift a tracked video with a trained model; also MediaPipe's own 3D as a record.

    Keypoint models get the view's 2D (``poseviz.inference.predict_sequence``); models that
    read ``image`` get real person crops (`poseviz.inference.crops.crop_inputs`) at their
    ``config.image_size`` (`predict_video`).

    Args:
        tracked: from `track_video`.
        model: a loaded lifting model (``poseviz.inference.load_model``).
        model_id: the record's model label (e.g. the model folder's name).
        flip_tta: flip test-time augmentation (see `predict_video`).
        level: lift the view levelled (see `predict_video`; keypoint models only).
        progress: progress bars for cropping.

    Returns:
        ``(prediction, mediapipe)``: the model's `Prediction` (``joints_3d`` ``(T', 17, 3)``
        root-relative camera-frame metres for its ``frame_indices``) and MediaPipe's world
        landmarks as a `Prediction` named ``"mediapipe_world"`` (`mediapipe_prediction`,
        ``(T, 17, 3)``, gaps interpolated). Both carry per-frame aux ``joints_2d``
        ``(T, 17, 2)`` pixels, ``confidence`` and ``occluded`` ``(T, 17)``, ``detected`` and
        ``segment`` ``(T,)``; an image model's also ``crop_box`` and ``crop_size``.
    """
    seq, cam = tracked.sequence, tracked.camera_id
    raw = predict_video(model, seq, cam, flip_tta=flip_tta, level=level, progress=progress)
    idx = np.asarray(raw.frame_indices)
    prediction = Prediction(
        model_id=model_id,
        sequence_id=seq.name,
        camera_id=cam,
        joints_3d=raw.joints_3d,
        aux={**raw.aux, **{k: v[idx] for k, v in _per_frame_aux(tracked).items()}},
        frame_indices=idx,
    )
    return prediction, mediapipe_prediction(tracked)
