"""Overlay video export: each frame with its 2D skeleton, beside the 3D skeleton turning.

Drawn with plain OpenCV (lines and circles, orthographic projection of the rotated 3D pose)
rather than PyVista off-screen rendering: a stick figure needs no lighting or meshes, OpenCV
draws a frame in about a millisecond where a VTK render-and-read-back costs tens, and the
export then works wherever ``cv2`` imports (no EGL/OpenGL needed). The MP4 is written with
OpenCV's ``mp4v`` (MPEG-4 Part 2) codec, the one the ``opencv-python-headless`` wheel encodes;
it plays in desktop players and OpenCV, not in every browser.

Colours (BGR): left limbs blue, right limbs red, spine grey; 2D joints with confidence 0
(filled-in frames or joints) are drawn hollow and the frame is labelled "not detected".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from poseviz.skeleton import get_skeleton

__all__ = ["draw_pose_2d", "draw_pose_3d", "write_overlay_video"]

_LEFT = (230, 140, 40)
_RIGHT = (40, 60, 230)
_MID = (170, 170, 170)


def _bone_colours(skeleton: str) -> list[tuple[int, int, tuple[int, int, int]]]:
    sk = get_skeleton(skeleton)
    bones = []
    for j, p in enumerate(sk.parents):
        if p < 0:
            continue
        colour = _LEFT if j in sk.left else _RIGHT if j in sk.right else _MID
        bones.append((p, j, colour))
    return bones


def draw_pose_2d(
    image: np.ndarray,
    joints_2d: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    skeleton: str = "h36m17",
    thickness: int | None = None,
) -> np.ndarray:
    """Draw a ``(J, 2)`` pixel skeleton on a ``(H, W, 3)`` uint8 BGR image, in place.

    Joints with ``(J,)`` confidence 0 are hollow circles; bones touching one are thin.
    Returns the image.
    """
    import cv2

    pts = np.asarray(joints_2d, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"draw_pose_2d: expected joints_2d (J, 2) pixels, got {pts.shape}")
    conf = np.ones(len(pts)) if confidence is None else np.asarray(confidence, dtype=np.float64)
    h, w = image.shape[:2]
    t = thickness or max(2, round(max(h, w) / 400))
    ok = np.isfinite(pts).all(-1)
    ip = np.round(np.nan_to_num(pts)).astype(np.int64)
    for a, b, colour in _bone_colours(skeleton):
        if ok[a] and ok[b]:
            seen = conf[a] > 0 and conf[b] > 0
            cv2.line(image, tuple(ip[a]), tuple(ip[b]), colour, t if seen else 1, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(
            image, tuple(ip[j]), t + 1, (255, 255, 255), -1 if conf[j] > 0 else 1, cv2.LINE_AA
        )
    return image


def draw_pose_3d(
    joints_3d: np.ndarray,
    *,
    size: tuple[int, int] = (480, 480),
    azimuth: float = 0.0,
    elevation: float = 15.0,
    scale: float | None = None,
    skeleton: str = "h36m17",
) -> np.ndarray:
    """Render a ``(J, 3)`` root-relative camera-frame pose (metres; x right, y down, z
    forward) as a ``(H, W, 3)`` uint8 BGR image of size ``size = (W, H)``.

    The pose turns by ``azimuth`` degrees about the vertical (camera y) axis and is tilted by
    ``elevation`` degrees, then projected orthographically; ``scale`` is pixels per metre
    (default: 0.4 of the image height per metre). A grey line marks the lowest joint's
    level (the floor).
    """
    import cv2

    X = np.asarray(joints_3d, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 3:
        raise ValueError(f"draw_pose_3d: expected joints_3d (J, 3) metres, got {X.shape}")
    W, H = size
    img = np.full((H, W, 3), 24, dtype=np.uint8)
    a, e = np.radians(azimuth), np.radians(elevation)
    Ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    Rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    Y = X @ (Rx @ Ry).T
    s = scale or 0.4 * H
    uv = np.stack([W / 2 + s * Y[:, 0], H / 2 + s * Y[:, 1]], -1)
    ok = np.isfinite(uv).all(-1)
    if ok.any():
        floor = int(np.clip(np.nanmax(uv[ok, 1]), 0, H - 1))
        cv2.line(img, (W // 8, floor), (W - W // 8, floor), (80, 80, 80), 1, cv2.LINE_AA)
    ip = np.round(np.nan_to_num(uv)).astype(np.int64)
    order = sorted(_bone_colours(skeleton), key=lambda b: -np.nan_to_num(Y[[b[0], b[1]], 2]).mean())
    t = max(2, round(H / 160))
    for p, j, colour in order:  # far bones first
        if ok[p] and ok[j]:
            cv2.line(img, tuple(ip[p]), tuple(ip[j]), colour, t, cv2.LINE_AA)
    for j in np.flatnonzero(ok):
        cv2.circle(img, tuple(ip[j]), t, (255, 255, 255), -1, cv2.LINE_AA)
    return img


def write_overlay_video(
    path: str | Path,
    video: str | Path,
    joints_2d: np.ndarray,
    joints_3d: np.ndarray,
    *,
    confidence: np.ndarray | None = None,
    fps: float | None = None,
    panel_height: int = 480,
    turn_seconds: float = 8.0,
    skeleton: str = "h36m17",
    progress: bool = True,
    label: str | None = None,
) -> Path:
    """Write an MP4: each video frame with its 2D skeleton, beside the 3D pose turning once
    every ``turn_seconds``.

    Args:
        path: output ``.mp4``; written to a temporary file in the same folder and renamed at
            the end, so an interrupted or failed export leaves no file behind.
        video: the source video (frames are read again, one at a time).
        joints_2d: ``(T, J, 2)`` pixels; frame t of the output uses frame t of the video.
        joints_3d: ``(T, J, 3)`` root-relative camera-frame metres.
        confidence: ``(T, J)``; 0 marks filled-in values (see `draw_pose_2d`).
        fps: output frame rate (default: the video's).
        panel_height: height in pixels of the output (both panels are scaled to it).
        progress, label: show a progress bar, named ``label`` (default: the file name).

    Returns:
        ``path``.
    """
    import cv2
    from tqdm.auto import tqdm

    path = Path(path)
    j2 = np.asarray(joints_2d, dtype=np.float64)
    j3 = np.asarray(joints_3d, dtype=np.float64)
    if j2.ndim != 3 or j2.shape[-1] != 2 or j3.shape[:2] != j2.shape[:2] or j3.shape[-1] != 3:
        raise ValueError(
            f"write_overlay_video: expected joints_2d (T, J, 2) and joints_3d (T, J, 3) with "
            f"the same T and J, got {j2.shape} and {j3.shape}"
        )
    T = j2.shape[0]
    conf = np.ones(j2.shape[:2]) if confidence is None else np.asarray(confidence, dtype=np.float64)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ValueError(f"{video}: not a readable video")
    rate = float(fps or cap.get(cv2.CAP_PROP_FPS) or 30.0)
    ok, frame = cap.read()
    if not ok:
        cap.release()
        raise ValueError(f"{video}: not a readable video (no frame decodes)")
    h, w = frame.shape[:2]
    H = int(panel_height) // 2 * 2
    Wv = int(round(w * H / h)) // 2 * 2
    extent = np.nanmax(np.abs(j3)) if np.isfinite(j3).any() else 1.0
    scale = 0.45 * H / max(float(extent), 0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".mp4", dir=path.parent)
    os.close(fd)
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), rate, (Wv + H, H))
    try:
        if not writer.isOpened():
            raise ValueError(f"{path}: OpenCV cannot write an mp4v MP4 here")
        for t in tqdm(
            range(T), desc=f"rendering {label or path.name}", unit="frame", disable=not progress
        ):
            if t > 0:
                ok, frame = cap.read()
                if not ok:
                    raise ValueError(
                        f"{video}: frame {t} does not decode (video shorter than the poses)"
                    )
            draw_pose_2d(frame, j2[t], conf[t], skeleton=skeleton)
            if not (conf[t] > 0).any():
                cv2.putText(
                    frame, "not detected", (20, 60), cv2.FONT_HERSHEY_SIMPLEX, 2, (0, 0, 255), 3
                )
            left = cv2.resize(frame, (Wv, H), interpolation=cv2.INTER_AREA)
            right = draw_pose_3d(
                j3[t],
                size=(H, H),
                azimuth=360.0 * t / (rate * turn_seconds),
                scale=scale,
                skeleton=skeleton,
            )
            writer.write(np.ascontiguousarray(np.concatenate([left, right], axis=1)))
        writer.release()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; the video is for sharing
        os.replace(tmp, path)
    except BaseException:
        writer.release()
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        cap.release()
    return path
