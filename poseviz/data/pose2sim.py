"""Pose2Sim projects: Qualisys ``Calib.qca.txt`` cameras, per-camera videos, TRC output.

A Qualisys calibration (XML) lists per camera (``serial`` = its id):

- ``<fov_video left top right bottom>``: the video window on the sensor, in pixels;
- ``<intrinsic focalLengthU focalLengthV centerPointU centerPointV radialDistortion1..3
  tangentalDistortion1..2>``: focal lengths and principal point in sub-pixel units of
  1/64 pixel on the full sensor;
- ``<transform x y z r11 ... r33>``: the camera's position in the world (millimetres) and
  its rotation matrix ``M = [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]]``.

Conversion to OpenCV cameras (the one Pose2Sim's ``calibration.calib_qca_fun`` applies):

- ``fx = focalLengthU / 64``, ``fy = focalLengthV / 64``;
- ``cx = centerPointU / 64 - fov_video.left``, ``cy = centerPointV / 64 - fov_video.top``
  (the principal point relative to the video window);
- ``k1, k2, p1, p2 = radialDistortion1, radialDistortion2, tangentalDistortion1,
  tangentalDistortion2`` each divided by 64, as Pose2Sim reads them;
- ``R = Rx(pi) @ M``, ``t = -R @ C`` with ``C = (x, y, z) / 1000`` the camera centre in
  metres: Qualisys cameras look along their -z axis with y up, OpenCV's along +z with y
  down, a half turn about x.

Image size: the video's frame size when the video is there (``cv2``), else the
``fov_video`` window (``right - left + 1`` by ``bottom - top + 1``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from poseviz.data._formats import FormatError
from poseviz.structures import Camera, PoseSequence

__all__ = ["read_pose2sim", "read_qca"]

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
_RX_PI = np.diag([1.0, -1.0, -1.0])


def _float(path: Path, elem: ET.Element, key: str, where: str) -> float:
    value = elem.get(key)
    if value is None:
        raise FormatError(path, f"{where} attribute {key!r}", "a number", "missing")
    try:
        out = float(value)
    except ValueError:
        raise FormatError(path, f"{where} attribute {key!r}", "a number", repr(value)) from None
    if not np.isfinite(out):
        raise FormatError(path, f"{where} attribute {key!r}", "a finite number", repr(value))
    return out


def read_qca(
    path: str | Path, image_sizes: dict[str, tuple[int, int]] | None = None
) -> dict[str, Camera]:
    """Parse a Qualisys ``.qca.txt`` calibration into OpenCV `Camera` objects by id.

    ``image_sizes`` (id -> ``(width, height)``) overrides the ``fov_video`` window size.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such calibration file")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise FormatError(path, "XML", "a well-formed Qualisys calibration", str(err)) from None
    nodes = root.findall("cameras/camera")
    if not nodes:
        raise FormatError(path, "cameras/camera", "at least one <camera> element", "none")
    cams: dict[str, Camera] = {}
    for node in nodes:
        cam_id = node.get("serial") or f"cam{len(cams) + 1:02d}"
        where = f"camera {cam_id!r}"
        fov = node.find("fov_video")
        intr = node.find("intrinsic")
        tf = node.find("transform")
        for tag, elem in (("fov_video", fov), ("intrinsic", intr), ("transform", tf)):
            if elem is None:
                raise FormatError(path, f"{where} <{tag}>", "the element", "missing")
        left, top = (
            _float(path, fov, "left", f"{where} fov_video"),
            _float(path, fov, "top", f"{where} fov_video"),
        )
        width = int(_float(path, fov, "right", f"{where} fov_video") - left + 1)
        height = int(_float(path, fov, "bottom", f"{where} fov_video") - top + 1)
        if image_sizes and cam_id in image_sizes:
            width, height = image_sizes[cam_id]

        def g(key: str, e: ET.Element = intr, w: str = f"{where} intrinsic") -> float:
            return _float(path, e, key, w)

        fx, fy = g("focalLengthU") / 64, g("focalLengthV") / 64
        cx, cy = g("centerPointU") / 64 - left, g("centerPointV") / 64 - top
        k1, k2 = g("radialDistortion1") / 64, g("radialDistortion2") / 64
        p1, p2 = g("tangentalDistortion1") / 64, g("tangentalDistortion2") / 64
        M = np.array(
            [
                [_float(path, tf, f"r{i}{j}", f"{where} transform") for j in (1, 2, 3)]
                for i in (1, 2, 3)
            ]
        )
        centre = np.array([_float(path, tf, k, f"{where} transform") for k in "xyz"]) / 1000.0
        if not np.allclose(M @ M.T, np.eye(3), atol=1e-5):
            raise FormatError(
                path,
                f"{where} transform r11..r33",
                "an orthonormal rotation",
                f"det {np.linalg.det(M):.4g}",
            )
        R = _RX_PI @ M
        cams[cam_id] = Camera(
            cam_id, width, height, fx, fy, cx, cy, R=R, t=-R @ centre, k1=k1, k2=k2, p1=p1, p2=p2
        )
    return cams


def _video_info(video: Path) -> tuple[tuple[int, int] | None, float | None]:
    try:
        import cv2
    except ImportError:  # pragma: no cover - opencv is a dependency
        return None, None
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            return None, None
        w, h, fps = (
            cap.get(cv2.CAP_PROP_FRAME_WIDTH),
            cap.get(cv2.CAP_PROP_FRAME_HEIGHT),
            cap.get(cv2.CAP_PROP_FPS),
        )
    finally:
        cap.release()
    return ((int(w), int(h)) if w > 0 and h > 0 else None), (fps if fps > 0 else None)


def read_pose2sim(
    path: str | Path, *, raw: bool = False, fps: float | None = None
) -> list[PoseSequence]:
    """Read a Pose2Sim project folder (or just its ``.qca.txt``) as one `PoseSequence`.

    The sequence has the calibrated cameras, the video of each camera (``videos/<id>.*``,
    matched by camera id) and, when the project has triangulated output
    (``pose-3d/*.trc``), its 3D joints (h36m17 unless ``raw=True``). Without a TRC the
    sequence has cameras and videos only (zero frames of joints).
    """
    from poseviz.data.trc import read_trc

    path = Path(path)
    if path.is_dir():
        calibs = sorted(path.glob("calibration/*.qca.txt")) or sorted(path.glob("*.qca.txt"))
        if not calibs:
            raise FormatError(path, "calibration", "a calibration/*.qca.txt file", "none")
        root, calib = path, calibs[0]
    else:
        root, calib = (
            (path.parent.parent if path.parent.name == "calibration" else path.parent),
            path,
        )
    videos = {}
    for folder in (root / "videos", root):
        if folder.is_dir():
            for v in sorted(folder.iterdir()):
                if v.suffix.lower() in _VIDEO_SUFFIXES:
                    videos.setdefault(v.stem, v)
    ids = read_qca(calib).keys()
    matched = {
        cid: next((v for stem, v in videos.items() if stem == cid or cid in stem), None)
        for cid in ids
    }
    sizes, rate = {}, None
    for cid, video in matched.items():
        if video is not None:
            size, vfps = _video_info(video)
            if size:
                sizes[cid] = size
            rate = rate or vfps
    cameras = read_qca(calib, sizes)
    joints_3d, layout = None, "h36m17"
    trcs = sorted((root / "pose-3d").glob("*.trc")) if (root / "pose-3d").is_dir() else []
    if trcs:
        seq = read_trc(trcs[0], raw=raw)[0]
        joints_3d, layout, rate = seq.joints_3d, seq.skeleton, seq.fps
    name = root.name
    return [
        PoseSequence(
            name=name,
            subject=name,
            action=name,
            fps=fps or rate or 60.0,
            skeleton=layout,
            joints_3d=joints_3d,
            cameras=cameras,
            video={cid: str(v) for cid, v in matched.items() if v is not None},
        )
    ]
