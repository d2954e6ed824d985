"""MotionBERT pickle and MPI-INF-3DHP .mat readers on small files in the real format."""

from __future__ import annotations

import builtins
import pickle

import numpy as np
import pytest
import scipy.io

from poseviz.data import FormatError, load
from poseviz.skeleton import convert, get_skeleton


def _motionbert_split(rng, sources, cams, with_action=False):
    N = len(sources)
    split = {
        "joint_2d": rng.uniform(0, 1000, (N, 17, 2)).astype(np.float32),
        "confidence": rng.uniform(0, 1, (N, 17, 1)).astype(np.float32),
        "joint3d_image": rng.uniform(0, 1000, (N, 17, 3)).astype(np.float32),
        "2.5d_factor": rng.uniform(3, 5, N).astype(np.float32),
        "camera_name": np.array(cams),
        "source": np.array(sources),
    }
    if with_action:
        split["action"] = np.array(["walking"] * N)
    return split


def test_motionbert_round_trip(tmp_path, rng):
    train_src = ["s_01_act_02_subact_01_ca_01"] * 5 + ["s_01_act_14_subact_02_ca_03"] * 4
    train_cam = ["54138969"] * 5 + ["58860488"] * 4
    test_src = ["s_09_act_05_subact_01_ca_02"] * 6
    data = {
        "train": _motionbert_split(rng, train_src, train_cam),
        "test": _motionbert_split(rng, test_src, ["55011271"] * 6, with_action=True),
    }
    path = tmp_path / "h36m_sh_conf_cam_source_final.pkl"
    path.write_bytes(pickle.dumps(data))
    seqs = load(path)
    assert [s.name for s in seqs] == [
        "train/" + train_src[0],
        "train/" + train_src[5],
        "test/" + test_src[0],
    ]
    a, b, c = seqs
    assert (a.subject, a.action, a.num_frames) == ("S1", "Directions 1", 5)
    assert (b.action, b.camera_ids) == ("Walking 2", ["58860488"])
    assert (c.subject, c.action, c.camera_ids) == ("S9", "walking", ["55011271"])
    tr = data["train"]
    np.testing.assert_allclose(
        a.joints_3d, tr["joint3d_image"][:5] * tr["2.5d_factor"][:5, None, None] / 1000, rtol=1e-6
    )
    np.testing.assert_allclose(b.joints_2d["58860488"], tr["joint_2d"][5:])
    np.testing.assert_allclose(b.confidence["58860488"], tr["confidence"][5:, :, 0])
    assert a.cameras["54138969"].height == 1002 and b.cameras["58860488"].height == 1000
    assert [s.name for s in load(path, splits=["test"])] == ["test/" + test_src[0]]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("test"), r"\['test'\]: expected a split dict"),
        (lambda d: d["train"].pop("2.5d_factor"), r"\['2.5d_factor'\].*no such key"),
        (
            lambda d: d["train"].__setitem__("joint3d_image", np.zeros((9, 16, 3))),
            r"joint3d_image'\]: expected shape \(9, 17, 3\)",
        ),
        (
            lambda d: d["train"]["joint_2d"].__setitem__((slice(2, 4), 0, 0), np.nan),
            r"joint_2d'\]: expected finite values, got NaN or inf at frame 2",
        ),
        (
            lambda d: d["train"]["camera_name"].__setitem__(1, "60457274"),
            "one camera per source clip",
        ),
    ],
)
def test_motionbert_malformed(tmp_path, rng, mutate, message):
    data = {
        "train": _motionbert_split(rng, ["s_01_act_02_subact_01_ca_01"] * 9, ["54138969"] * 9),
        "test": _motionbert_split(rng, ["s_09_act_02_subact_01_ca_01"] * 3, ["54138969"] * 3),
    }
    mutate(data)
    path = tmp_path / "mb.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(FormatError, match=message) as info:
        load(path)
    assert "mb.pkl" in str(info.value)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FormatError, match="truncated"):
        load(path)


def _write_3dhp(folder, rng, T=40, matlab_order=True):
    folder.mkdir(parents=True)
    cam = rng.normal(size=(T, 17, 3)) * 300 + [0, 0, 4000]  # camera frame, mm
    f, c = (1500.0, 1490.0), (1024.0, 1020.0)
    uv = np.stack(
        [f[0] * cam[..., 0] / cam[..., 2] + c[0], f[1] * cam[..., 1] / cam[..., 2] + c[1]], -1
    )
    valid = np.ones(T)
    valid[3:6] = 0
    activity = np.repeat([1, 3, 1, 6], T // 4)

    def mat(a):  # MATLAB's C x 17 x 1 x n layout, as loadmat returns it
        return a.transpose(2, 1, 0)[:, :, None, :] if matlab_order else a[:, None]

    scipy.io.savemat(
        folder / "annot_data.mat",
        {
            "annot2": mat(uv),
            "annot3": mat(cam),
            "univ_annot3": mat(cam * 0.9),
            "valid_frame": valid[None],
            "activity_annotation": activity[None],
        },
    )
    return cam, uv, f, c


@pytest.mark.parametrize("matlab_order", [True, False])
def test_3dhp_round_trip(tmp_path, rng, matlab_order):
    cam, uv, f, c = _write_3dhp(tmp_path / "TS2", rng, matlab_order=matlab_order)
    s = load(tmp_path / "TS2")[0]
    assert s.name == "TS2" and s.skeleton == "h36m17" and s.fps == 25.0
    assert s.action == "Standing/Walking, Sitting, Sports"
    camera = s.cameras["cam0"]
    assert (camera.width, camera.height) == (2048, 2048)
    np.testing.assert_allclose([camera.fx, camera.fy, camera.cx, camera.cy], [*f, *c], rtol=1e-9)
    expected = convert(cam * 0.9 / 1000, "mpi_inf_3dhp17")
    np.testing.assert_allclose(s.joints_3d[6:], expected[6:], atol=1e-9)
    assert np.isnan(s.joints_3d[3:6]).all() and np.isnan(s.joints_2d["cam0"][3:6]).all()
    raw = load(
        tmp_path / "TS2" / "annot_data.mat", raw=True, annotation="annot3", keep_invalid=True
    )[0]
    assert raw.skeleton == "mpi_inf_3dhp17"
    np.testing.assert_allclose(raw.joints_3d, cam / 1000)
    pelvis = get_skeleton("mpi_inf_3dhp17").index("pelvis")
    assert pelvis == 14


def test_3dhp_malformed_and_v73(tmp_path, rng, monkeypatch):
    folder = tmp_path / "TS1"
    _write_3dhp(folder, rng)
    data = scipy.io.loadmat(folder / "annot_data.mat")
    del data["valid_frame"]
    scipy.io.savemat(
        tmp_path / "novalid.mat", {k: v for k, v in data.items() if not k.startswith("__")}
    )
    with pytest.raises(FormatError, match="novalid.mat: valid_frame"):
        load(tmp_path / "novalid.mat", image_size=(10, 10))
    data = scipy.io.loadmat(folder / "annot_data.mat")
    data["annot2"] = data["annot2"][:, :16]
    scipy.io.savemat(
        tmp_path / "bad.mat", {k: v for k, v in data.items() if not k.startswith("__")}
    )
    with pytest.raises(FormatError, match=r"bad.mat: annot2: expected \(n, 1, 17, 2\)"):
        load(tmp_path / "bad.mat", image_size=(10, 10))
    cut = tmp_path / "cut.mat"
    cut.write_bytes((folder / "annot_data.mat").read_bytes()[:400])
    with pytest.raises(FormatError, match="cut.mat"):
        load(cut, image_size=(10, 10))
    # A MATLAB v7.3 (HDF5) file without h5py: a clear message saying what to install.
    v73 = tmp_path / "v73.mat"
    v73.write_bytes(
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512, b" ")
        + b"\x89HDF\r\n\x1a\n"
        + bytes(64)
    )
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(
        FormatError, match=r"v73.mat: file: .*MATLAB v7.3 \(HDF5\).*pip install h5py"
    ):
        load(v73)


def test_3dhp_matlab_v73_with_h5py(tmp_path, rng):
    h5py = pytest.importorskip("h5py")
    T = 12
    cam = rng.normal(size=(T, 17, 3)) * 300 + [0, 0, 5000]
    f, c = (1480.0, 1470.0), (950.0, 540.0)
    uv = np.stack(
        [f[0] * cam[..., 0] / cam[..., 2] + c[0], f[1] * cam[..., 1] / cam[..., 2] + c[1]], -1
    )
    folder = tmp_path / "TS5"
    folder.mkdir()
    path = folder / "annot_data.mat"
    # MATLAB v7.3: HDF5 behind a 512-byte header; h5py sees MATLAB's arrays axis-reversed.
    with h5py.File(path, "w", userblock_size=512) as h5:
        h5["annot2"] = uv[:, None]
        h5["annot3"] = cam[:, None]
        h5["univ_annot3"] = cam[:, None]
        h5["valid_frame"] = np.ones((T, 1))
        h5["activity_annotation"] = np.full((T, 1), 6.0)
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5 schema 1.00 .")
    s = load(folder)[0]
    assert (s.fps, s.action) == (50.0, "Sports")
    cam0 = s.cameras["cam0"]
    assert (cam0.width, cam0.height) == (1920, 1080)
    np.testing.assert_allclose([cam0.fx, cam0.fy, cam0.cx, cam0.cy], [*f, *c], rtol=1e-9)
    np.testing.assert_allclose(s.joints_3d, convert(cam / 1000, "mpi_inf_3dhp17"), atol=1e-12)
