"""VideoPose3D's preprocessed Human3.6M and HumanEva files.

File structure (``np.savez`` with pickled dicts, so ``allow_pickle=True``):

- ``data_3d_h36m.npz``: ``positions_3d`` = {subject: {action: ``(T, 32, 3)`` world metres}}
  (Human3.6M's 32 joints; ``data_3d_humaneva15.npz`` has ``(T, 15, 3)``).
- ``data_2d_h36m_<detector>.npz``: ``positions_2d`` = {subject: {action: [one ``(T, J, 2)``
  pixel array per camera]}} (a third channel, when present, is the detector's confidence)
  and ``metadata`` = {``layout_name``: ``"h36m"`` | ``"coco"`` | ``"humaneva15"``,
  ``num_joints``, ``keypoints_symmetry``}.

Human3.6M's 32 joints become h36m17 by VideoPose3D's selection (joints 0, 1, 2, 3, 6, 7,
8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27). The files carry no cameras: the four
Human3.6M cameras' intrinsics and their per-subject extrinsics are published constants,
transcribed below from VideoPose3D's ``common/h36m_dataset.py`` (Pavllo et al., CVPR 2019,
github.com/facebookresearch/VideoPose3D; values from the Human3.6M release). There
``orientation`` is the camera-to-world rotation as a ``(w, x, y, z)`` quaternion and
``translation`` the camera centre in world millimetres, so in OpenCV terms
``R = quat_to_matrix(orientation).T`` and ``t = -R @ translation / 1000``.

HumanEva-I (VideoPose3D's ``common/humaneva_dataset.py``) publishes the three colour
cameras' extrinsics per subject in the same form but no intrinsics; when a 2D file is
given with the 3D file the reader fits ``fx, fy, cx, cy`` per camera to the 2D/3D pairs
(`poseviz.data._formats.fit_intrinsics`), otherwise HumanEva sequences come without
`Camera` objects.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from poseviz.data._formats import FormatError, as_str, fit_intrinsics
from poseviz.data.io import _npz_keys
from poseviz.geometry import quaternion_wxyz_to_matrix
from poseviz.skeleton import Skeleton, convert, get_skeleton, list_skeletons, register_skeleton
from poseviz.structures import Camera, PoseSequence

__all__ = [
    "H36M32_TO_H36M17",
    "H36M_CAMERA_EXTRINSICS",
    "H36M_CAMERA_INTRINSICS",
    "HUMANEVA_CAMERA_EXTRINSICS",
    "h36m_cameras",
    "humaneva_extrinsics",
    "read_h36m",
]

H36M_FPS = 50.0
HUMANEVA_FPS = 60.0

# VideoPose3D's 32 -> 17 joint selection (h36m17 order).
H36M32_TO_H36M17: tuple[int, ...] = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)

# Human3.6M intrinsics per camera: id, (fx, fy), (cx, cy), radial (k1, k2, k3),
# tangential (p1, p2), (width, height). Source: VideoPose3D common/h36m_dataset.py.
# Human3.6M's own distortion model differs slightly from OpenCV's in its tangential terms;
# the coefficients are ~1e-3 and are stored in OpenCV's fields as they are.
H36M_CAMERA_INTRINSICS: tuple[dict[str, Any], ...] = (
    {"id": "54138969", "f": (1145.0494384765625, 1143.7811279296875), "c": (512.54150390625, 515.4514770507812),
     "k": (-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
     "p": (-0.0009756988729350269, -0.00142447161488235), "size": (1000, 1002)},
    {"id": "55011271", "f": (1149.6756591796875, 1147.5916748046875), "c": (508.8486328125, 508.0649108886719),
     "k": (-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
     "p": (-0.0016190266469493508, -0.0027408944442868233), "size": (1000, 1000)},
    {"id": "58860488", "f": (1149.1407470703125, 1148.7989501953125), "c": (519.8158569335938, 501.40264892578125),
     "k": (-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
     "p": (0.0014843869721516967, -0.0007599993259645998), "size": (1000, 1000)},
    {"id": "60457274", "f": (1145.5113525390625, 1144.77392578125), "c": (514.9682006835938, 501.88201904296875),
     "k": (-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
     "p": (-0.0005872055771760643, -0.0018133620033040643), "size": (1000, 1002)},
)  # fmt: skip

# Human3.6M extrinsics per subject and camera (same order as the intrinsics):
# (orientation quaternion w, x, y, z camera->world; camera centre in world mm).
# Source: VideoPose3D common/h36m_dataset.py. S2-S4 have no published extrinsics.
H36M_CAMERA_EXTRINSICS: Mapping[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    "S1": (
        ((0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088), (1841.1070556640625, 4955.28466796875, 1563.4454345703125)),
        ((0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205), (1761.278564453125, -5078.0068359375, 1606.2650146484375)),
        ((0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696), (-1846.7777099609375, 5215.04638671875, 1491.972412109375)),
        ((0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435), (-1794.7896728515625, -3722.698974609375, 1574.8927001953125)),
    ),
    "S5": (
        ((0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332), (2097.3916015625, 4880.94482421875, 1605.732421875)),
        ((0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915), (2031.7008056640625, -5167.93310546875, 1612.923095703125)),
        ((0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576), (-1620.5948486328125, 5171.65869140625, 1496.43701171875)),
        ((0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092), (-1637.1737060546875, -3867.3173828125, 1547.033203125)),
    ),
    "S6": (
        ((0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938), (1935.4517822265625, 4950.24560546875, 1618.0838623046875)),
        ((0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428), (1969.803955078125, -5128.73876953125, 1632.77880859375)),
        ((0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334), (-1769.596435546875, 5185.361328125, 1476.993408203125)),
        ((0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802), (-1721.668701171875, -3884.13134765625, 1540.4879150390625)),
    ),
    "S7": (
        ((0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778), (1974.512939453125, 4926.3544921875, 1597.8326416015625)),
        ((0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508), (1937.0584716796875, -5119.7900390625, 1631.5665283203125)),
        ((0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278), (-1741.8111572265625, 5208.24951171875, 1464.8245849609375)),
        ((0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523), (-1734.7105712890625, -3832.42138671875, 1548.5830078125)),
    ),
    "S8": (
        ((0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773), (2150.65185546875, 4896.1611328125, 1611.9046630859375)),
        ((0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615), (2219.965576171875, -5148.453125, 1613.0440673828125)),
        ((0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755), (-1571.2215576171875, 5137.0185546875, 1498.1761474609375)),
        ((0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708), (-1476.913330078125, -3896.7412109375, 1547.97216796875)),
    ),
    "S9": (
        ((0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243), (2044.45849609375, 4935.1171875, 1481.2275390625)),
        ((0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801), (1990.959716796875, -5123.810546875, 1568.8048095703125)),
        ((0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915), (-1670.9921875, 5211.98583984375, 1528.387939453125)),
        ((0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822), (-1696.04345703125, -3827.099853515625, 1591.4127197265625)),
    ),
    "S11": (
        ((0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467), (2098.440185546875, 4926.5546875, 1500.278564453125)),
        ((0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085), (2083.182373046875, -4912.1728515625, 1561.07861328125)),
        ((0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407), (-1609.8153076171875, 5177.3359375, 1537.896728515625)),
        ((0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809), (-1590.738037109375, -3854.1689453125, 1578.017578125)),
    ),
}  # fmt: skip

# HumanEva-I colour cameras C1, C2, C3 (640 x 480): per subject (quaternion w, x, y, z
# camera->world; camera centre in world mm). Source: VideoPose3D common/humaneva_dataset.py.
HUMANEVA_CAMERA_IDS = ("C1", "C2", "C3")
HUMANEVA_IMAGE_SIZE = (640, 480)
HUMANEVA_CAMERA_EXTRINSICS: Mapping[str, tuple[tuple[tuple[float, ...], tuple[float, ...]], ...]] = {
    "S1": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.227, 663.2477, 1528.397)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.67377, 3916.3174, 1433.6602)),
    ),
    "S2": (
        ((0.4214752, -0.4961493, -0.5838273, 0.4851187), (4112.9121, 626.4929, 1545.2988)),
        ((0.6501393, -0.7476588, -0.0954617, 0.0959808), (923.5740, -3877.9243, 1504.5518)),
        ((0.0699353, -0.0712403, 0.7421637, -0.662742), (-781.4915, 3838.8853, 1444.9929)),
    ),
    "S3": (
        ((0.424207, -0.4983646, -0.5802981, 0.4847012), (4062.2271, 663.2477, 1528.3970)),
        ((0.6503354, -0.7481602, -0.0919284, 0.0941766), (844.8131, -3805.2092, 1504.9929)),
        ((0.0664734, -0.0690535, 0.7416416, -0.6639132), (-797.6738, 3916.3174, 1433.6602)),
    ),
}  # fmt: skip


def _register_layouts() -> None:
    if "h36m32" not in list_skeletons():
        names = (
            "pelvis", "r_hip", "r_knee", "r_ankle", "r_toe", "r_toe_end", "l_hip", "l_knee",
            "l_ankle", "l_toe", "l_toe_end", "spine_base", "spine", "thorax", "neck_nose",
            "head", "l_clavicle", "l_shoulder", "l_elbow", "l_wrist", "l_thumb", "l_thumb_end",
            "l_hand", "l_hand_end", "r_clavicle", "r_shoulder", "r_elbow", "r_wrist", "r_thumb",
            "r_thumb_end", "r_hand", "r_hand_end",
        )  # fmt: skip
        parents = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12, 13, 14, 12, 16, 17, 18, 19, 20,
                   19, 22, 12, 24, 25, 26, 27, 28, 27, 30)  # fmt: skip
        left = (6, 7, 8, 9, 10, 16, 17, 18, 19, 20, 21, 22, 23)
        right = (1, 2, 3, 4, 5, 24, 25, 26, 27, 28, 29, 30, 31)
        register_skeleton(Skeleton("h36m32", names, parents, left, right))
    if "humaneva15" not in list_skeletons():
        names = (
            "pelvis", "thorax", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
            "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "head",
        )  # fmt: skip
        parents = (-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1)
        register_skeleton(
            Skeleton("humaneva15", names, parents, (2, 3, 4, 8, 9, 10), (5, 6, 7, 11, 12, 13))
        )


_register_layouts()

# HumanEva's 15 joints -> h36m17 (weights as mean of the listed joints): the limbs, pelvis,
# thorax and head correspond; spine = pelvis-thorax midpoint; neck_nose = thorax-head
# midpoint.
_HUMANEVA_RECIPE: dict[str, tuple[str, ...]] = {
    **{n: (n,) for n in get_skeleton("h36m17").names if n not in ("spine", "neck_nose")},
    "spine": ("pelvis", "thorax"),
    "neck_nose": ("thorax", "head"),
}


def _humaneva_to_h36m17(points: np.ndarray) -> np.ndarray:
    src = get_skeleton("humaneva15")
    out = np.stack(
        [
            np.mean([points[..., src.index(n), :] for n in _HUMANEVA_RECIPE[target]], axis=0)
            for target in get_skeleton("h36m17").names
        ],
        axis=-2,
    )
    return out


def _camera_from_pose(
    cam_id: str, quat: Sequence[float], centre_mm: Sequence[float], **intrinsics: Any
) -> Camera:
    R = quaternion_wxyz_to_matrix(np.asarray(quat, dtype=np.float64)).T
    t = -R @ (np.asarray(centre_mm, dtype=np.float64) / 1000.0)
    return Camera(id=cam_id, R=R, t=t, **intrinsics)


def h36m_cameras(subject: str) -> dict[str, Camera]:
    """The four Human3.6M cameras of ``subject`` (``"S1"``, ... ``"S11"``), keyed by camera
    id; empty for subjects without published extrinsics (S2-S4)."""
    extrinsics = H36M_CAMERA_EXTRINSICS.get(subject.split("/")[-1])
    if extrinsics is None:
        return {}
    cams = {}
    for intr, (quat, centre) in zip(H36M_CAMERA_INTRINSICS, extrinsics, strict=True):
        k1, k2, k3 = intr["k"]
        p1, p2 = intr["p"]
        cams[intr["id"]] = _camera_from_pose(
            intr["id"], quat, centre,
            width=intr["size"][0], height=intr["size"][1],
            fx=intr["f"][0], fy=intr["f"][1], cx=intr["c"][0], cy=intr["c"][1],
            k1=k1, k2=k2, p1=p1, p2=p2, k3=k3,
        )  # fmt: skip
    return cams


def humaneva_extrinsics(subject: str) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """HumanEva ``(R, t)`` world->camera (metres) per camera id for ``subject`` (``"S1"``,
    ``"Train/S1"``, ``"Validate/S2"``...), or None when not published (S4)."""
    extrinsics = HUMANEVA_CAMERA_EXTRINSICS.get(subject.split("/")[-1])
    if extrinsics is None:
        return None
    out = {}
    for cam_id, (quat, centre) in zip(HUMANEVA_CAMERA_IDS, extrinsics, strict=True):
        R = quaternion_wxyz_to_matrix(np.asarray(quat, dtype=np.float64)).T
        out[cam_id] = (R, -R @ (np.asarray(centre, dtype=np.float64) / 1000.0))
    return out


def _load_npz_dict(path: Path, key: str) -> Any:
    try:
        archive = np.load(path, allow_pickle=True)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise FormatError(
            path, "file", "a readable .npz archive", f"{type(err).__name__}: {err}"
        ) from None
    with archive:
        if key not in archive.files:
            raise FormatError(path, "keys", f"a {key!r} entry", f"{archive.files}")
        try:
            value = archive[key]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as err:
            raise FormatError(
                path,
                key,
                "a readable pickled dict",
                f"{type(err).__name__}: {err} (truncated file?)",
            ) from None
        meta = archive["metadata"] if "metadata" in archive.files else None
    if value.dtype == object and value.ndim == 0:
        value = value.item()
    if meta is not None and meta.dtype == object and meta.ndim == 0:
        meta = meta.item()
    if not isinstance(value, Mapping):
        raise FormatError(path, key, "a dict {subject: {action: array}}", type(value).__name__)
    for subject, actions in value.items():
        if not isinstance(actions, Mapping):
            raise FormatError(
                path, f"{key}[{subject!r}]", "a dict {action: array}", type(actions).__name__
            )
    return value, meta


def _check_positions(
    path: Path, where: str, arr: Any, dims: tuple[int, ...], coord: int
) -> np.ndarray:
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(path, where, "a numeric array", type(arr).__name__) from None
    if arr.ndim != 3 or arr.shape[1] not in dims or arr.shape[2] not in (coord, coord + 1):
        want = f"(T, {'|'.join(map(str, dims))}, {coord})"
        raise FormatError(path, where, f"an array of shape {want}", f"{arr.shape}")
    if arr.shape[0] == 0:
        raise FormatError(path, where, "at least one frame", "0 frames")
    bad = ~np.isfinite(arr)
    if bad.any():
        t, j, _ = (int(i) for i in np.argwhere(bad)[0])
        run = int(bad.any(axis=(1, 2)).sum())
        raise FormatError(
            path,
            where,
            "finite values (no NaN/inf)",
            f"NaN or inf in {run} frames, first at frame {t}, joint {j}",
        )
    return arr


def _select(
    data: Mapping, subjects: Sequence[str] | None, actions: Sequence[str] | None
) -> list[tuple[str, str, Any]]:
    out = []
    for subject, acts in data.items():
        if subjects is not None and as_str(subject) not in subjects:
            continue
        for action, value in acts.items():
            if actions is not None and as_str(action) not in actions:
                continue
            out.append((as_str(subject), as_str(action), value))
    return out


_LAYOUTS_2D = {
    "h36m": "h36m17",
    "coco": "coco17",
    "humaneva15": "humaneva15",
    "humaneva": "humaneva15",
}


def _read_2d(path: Path, subjects, actions) -> tuple[dict[tuple[str, str], list[np.ndarray]], str]:
    data, meta = _load_npz_dict(path, "positions_2d")
    if not isinstance(meta, Mapping) or "layout_name" not in meta:
        raise FormatError(
            path, "metadata", "a dict with 'layout_name' (and 'num_joints')", repr(meta)[:80]
        )
    layout_name = as_str(meta["layout_name"]).lower()
    if layout_name not in _LAYOUTS_2D:
        raise FormatError(
            path, "metadata['layout_name']", f"one of {sorted(_LAYOUTS_2D)}", repr(layout_name)
        )
    layout = _LAYOUTS_2D[layout_name]
    J = get_skeleton(layout).num_joints
    if "num_joints" in meta and int(meta["num_joints"]) != J:
        raise FormatError(
            path,
            "metadata['num_joints']",
            f"{J} for layout {layout_name!r}",
            str(meta["num_joints"]),
        )
    out = {}
    for subject, action, views in _select(data, subjects, actions):
        where = f"positions_2d[{subject!r}][{action!r}]"
        if not isinstance(views, (list, tuple)) or not views:
            raise FormatError(
                path, where, "a list of per-camera (T, J, 2) arrays", type(views).__name__
            )
        out[(subject, action)] = [
            _check_positions(path, f"{where}[{c}]", v, (J,), 2) for c, v in enumerate(views)
        ]
    return out, layout


def read_h36m(
    path: str | Path,
    *,
    raw: bool = False,
    keypoints_2d: str | Path | None = None,
    subjects: Sequence[str] | None = None,
    actions: Sequence[str] | None = None,
    fps: float | None = None,
) -> list[PoseSequence]:
    """Read a VideoPose3D ``data_3d_*.npz`` or ``data_2d_*.npz`` file (Human3.6M or HumanEva).

    Args:
        path: a 3D file (``positions_3d``) or a 2D file (``positions_2d`` + ``metadata``).
        raw: keep the file's layout (``h36m32``, ``humaneva15``, ``coco17``...) instead of
            h36m17.
        keypoints_2d: with a 3D file, a 2D file whose per-camera keypoints join the 3D
            sequences (trimmed to the 3D length when longer, as VideoPose3D does).
        subjects, actions: read only these (e.g. ``["S9", "S11"]``).
        fps: frame rate (default 50 for Human3.6M, 60 for HumanEva).

    Returns:
        One `PoseSequence` per (subject, action): ``joints_3d`` ``(T, J, 3)`` world metres,
        the subject's published cameras, ``joints_2d`` per camera in pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    keys = set(_npz_keys(path))
    if "positions_3d" in keys:
        data3d, _ = _load_npz_dict(path, "positions_3d")
        seqs3d = {
            (s, a): _check_positions(path, f"positions_3d[{s!r}][{a!r}]", v, (32, 17, 15), 3)
            for s, a, v in _select(data3d, subjects, actions)
        }
        two_d, layout2d = (
            _read_2d(Path(keypoints_2d), subjects, actions) if keypoints_2d else ({}, None)
        )
    elif "positions_2d" in keys:
        if keypoints_2d is not None:
            raise ValueError(f"read_h36m({path.name!r}): keypoints_2d= goes with a 3D file")
        seqs3d = {}
        two_d, layout2d = _read_2d(path, subjects, actions)
    else:
        raise FormatError(path, "keys", "'positions_3d' or 'positions_2d'", f"{sorted(keys)}")

    out = []
    for subject, action in list(seqs3d) + [k for k in two_d if k not in seqs3d]:
        pos = seqs3d.get((subject, action))
        views = two_d.get((subject, action), [])
        J3 = None if pos is None else pos.shape[1]
        humaneva = J3 == 15 or layout2d == "humaneva15" or len(views) == 3
        seq_fps = fps or (HUMANEVA_FPS if humaneva else H36M_FPS)
        if pos is not None and views:
            T = pos.shape[0]
            for c, v in enumerate(views):
                if v.shape[0] < T:
                    raise FormatError(
                        keypoints_2d,
                        f"positions_2d[{subject!r}][{action!r}][{c}]",
                        f"at least the {T} frames of the 3D sequence",
                        f"{v.shape[0]}",
                    )
            views = [v[:T] for v in views]
        cam_ids = list(
            HUMANEVA_CAMERA_IDS if humaneva else (i["id"] for i in H36M_CAMERA_INTRINSICS)
        )
        if views and len(views) != len(cam_ids):
            raise FormatError(
                keypoints_2d or path,
                f"positions_2d[{subject!r}][{action!r}]",
                f"{len(cam_ids)} camera views",
                f"{len(views)}",
            )
        cameras = (
            _humaneva_cameras(subject, pos, views, path) if humaneva else h36m_cameras(subject)
        )

        joints_3d, layout = pos, None
        if pos is not None:
            layout = {32: "h36m32", 17: "h36m17", 15: "humaneva15"}[pos.shape[1]]
            if not raw:
                joints_3d = _to_h36m17(pos, layout)
        joints_2d, confidence = {}, {}
        for cam_id, v in zip(cam_ids, views, strict=False):
            xy, conf = v[..., :2], (np.clip(v[..., 2], 0, 1) if v.shape[-1] == 3 else None)
            if not raw:
                if conf is not None:
                    xy, conf = _to_h36m17(xy, layout2d, conf)
                else:
                    xy = _to_h36m17(xy, layout2d)
            joints_2d[cam_id] = xy
            if conf is not None:
                confidence[cam_id] = conf
        if raw and pos is not None and views and layout != layout2d:
            raise ValueError(
                f"read_h36m: raw=True needs the same layout in 3D ({layout}) and 2D ({layout2d}); use raw=False to convert both to h36m17"
            )
        out.append(
            PoseSequence(
                name=f"{subject}/{action}",
                subject=subject,
                action=action,
                fps=seq_fps,
                skeleton=(layout if pos is not None else layout2d) if raw else "h36m17",
                joints_3d=joints_3d,
                cameras=cameras,
                joints_2d=joints_2d,
                confidence=confidence,
            )
        )
    return out


def _to_h36m17(points: np.ndarray, layout: str | None, confidence: np.ndarray | None = None):
    if layout == "h36m32":
        out = points[..., list(H36M32_TO_H36M17), :]
        return out if confidence is None else (out, confidence[..., list(H36M32_TO_H36M17)])
    if layout == "humaneva15":
        out = _humaneva_to_h36m17(points)
        if confidence is None:
            return out
        src = get_skeleton("humaneva15")
        conf = np.stack(
            [
                np.min([confidence[..., src.index(n)] for n in _HUMANEVA_RECIPE[t]], axis=0)
                for t in get_skeleton("h36m17").names
            ],
            axis=-1,
        )
        return out, conf
    return convert(points, layout, confidence)


def _humaneva_cameras(
    subject: str, pos: np.ndarray | None, views: list[np.ndarray], path: Path
) -> dict[str, Camera]:
    extr = humaneva_extrinsics(subject)
    if extr is None or pos is None or not views:
        return {}
    src = pos if pos.shape[1] == views[0].shape[1] else None
    if src is None:
        return {}
    cams = {}
    for cam_id, v in zip(HUMANEVA_CAMERA_IDS, views, strict=False):
        R, t = extr[cam_id]
        X = pos @ R.T + t
        fx, fy, cx, cy = fit_intrinsics(X, v[..., :2], path, f"camera {cam_id} of {subject}")
        w, h = HUMANEVA_IMAGE_SIZE
        cams[cam_id] = Camera(cam_id, w, h, fx, fy, cx, cy, R=R, t=t)
    return cams
