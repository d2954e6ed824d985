"""``poseviz rating``: pairs from prediction files, invite / screen / export / create-study."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sqlalchemy import select

from poseviz.cli import main
from poseviz.data.occlusion import occlusion_labels, occlusion_severity
from poseviz.geometry import world_to_camera
from poseviz.rating.builder import StudyLayout, create_study
from poseviz.rating.cli import pairs_from_predictions
from poseviz.rating.schema import Role, Stimulus
from poseviz.rating.store import Store
from poseviz.structures import Camera, PoseSequence, Prediction
from tests.data._poses import STANDING
from tests.rating.simulate import SimRater, make_pairs, run_rater


def _sequence(rng, frames=300) -> PoseSequence:
    """A person (y up in the world) swaying in front of a camera 4 m away."""
    sway = 0.1 * np.sin(np.linspace(0, 6, frames))[:, None, None] * np.array([1.0, 0, 0])
    world = STANDING[None] + sway + rng.normal(scale=0.01, size=(frames, 17, 3))
    # OpenCV camera at z = +4 m looking back at the origin: x right, y down, z forward.
    cam = Camera("c0", 1000, 1000, 1100, 1100, 500, 500, R=np.diag([1.0, -1.0, -1.0]), t=[0, 1, 4])
    return PoseSequence("walk", "S1", "sway", 50, "h36m17", joints_3d=world, cameras={"c0": cam})


def test_pairs_are_camera_frame_root_relative_ground_truth(rng):
    seq = _sequence(rng)
    frames = np.arange(20, 260)
    cam = world_to_camera(seq.joints_3d[frames], seq.cameras["c0"])
    pred = cam - cam[:, :1] + rng.normal(scale=0.03, size=cam.shape)
    [pair] = pairs_from_predictions(
        [Prediction("m", "walk", "c0", pred, frame_indices=frames)], [seq]
    )
    np.testing.assert_allclose(pair.reference, cam - cam[:, :1])
    np.testing.assert_allclose(pair.predicted, pred - pred[:, :1])
    assert pair.frame_offset == 20 and pair.source_model == "m"
    expected = occlusion_severity(occlusion_labels(cam, seq.cameras["c0"]))
    names = np.array(["none", "joint", "body_part", "half_body"])
    assert list(pair.severity) == list(names[expected])

    # labels stored with the sequence win over computed ones
    seq.occluded["c0"] = np.zeros((seq.num_frames, 17), bool)
    seq.occluded["c0"][:, 13] = True
    [pair] = pairs_from_predictions(
        [Prediction("m", "walk", "c0", pred, frame_indices=frames)], [seq]
    )
    assert set(pair.severity) == {"joint"}


@pytest.mark.parametrize(
    ("prediction", "match"),
    [
        (dict(sequence_id="run"), "sequence 'run' is not in the data"),
        (dict(camera_id="c9"), "no camera 'c9'"),
        (dict(frame_indices=np.arange(290, 310)), "outside the sequence's 300 frames"),
    ],
)
def test_pairs_name_the_bad_prediction(rng, prediction, match):
    kw = dict(model_id="m", sequence_id="walk", camera_id="c0", frame_indices=np.arange(20))
    kw |= prediction
    pred = Prediction(joints_3d=np.zeros((len(kw["frame_indices"]), 17, 3)), **kw)
    with pytest.raises(ValueError, match=match):
        pairs_from_predictions([pred], [_sequence(rng)])


def test_invite_screen_export_commands(tmp_path, rng, capsys):
    db = tmp_path / "study.db"
    store = Store(db)
    sid = create_study(store, "pilot", make_pairs(rng), layout=StudyLayout(clips_per_cell=2))
    assert main(["rating", "invite", "pilot", "--db", str(db), "-n", "8",
                 "--base-url", "http://host/rate", "-o", str(tmp_path / "links.csv")]) == 0  # fmt: skip
    rows = list(csv.reader(open(tmp_path / "links.csv")))
    assert rows[0] == ["rater", "invite"] and len(rows) == 9
    assert all(link.startswith("http://host/rate?token=") for _, link in rows[1:])

    from poseviz.rating.protocol import RatingService

    service = RatingService(store)
    with store.session() as s:
        stimuli = {st.id: st for st in s.scalars(select(Stimulus).where(Stimulus.study_id == sid))}
    hidden = {k: 3.0 for k, st in stimuli.items() if st.role == Role.RATED}
    for i, (_, link) in enumerate(rows[1:]):
        kind = "constant" if i == 0 else "honest"
        run_rater(service, SimRater(link.split("token=")[1], kind), stimuli, hidden, rng)
    capsys.readouterr()
    assert main(["rating", "screen", "pilot", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "straight-lining" in out and "MOS for" in out  # the constant rater, with reasons
    assert main(["rating", "export", str(sid), "--db", str(db), "-o", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v" / "validation_set.npz").is_file()
    assert main(["rating", "screen", "nope", "--db", str(db)]) == 2
    assert "no study 'nope'" in capsys.readouterr().err
