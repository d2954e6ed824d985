"""Accumulating metrics: batches == one shot, per-group results, tables, and the
torch.distributed reduction (2 gloo processes)."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch

from poseviz.data.batch import SEVERITIES as DATA_SEVERITIES
from poseviz.metrics import (
    BSLE,
    LSE,
    MPJPE,
    MPJVE,
    NMPJPE,
    PCK3DHP,
    PMPJPE,
    SEVERITIES,
    AccelerationError,
    DepthOrderAccuracy,
    EvaluationSuite,
    PSIMPlus,
)
from poseviz.metrics.functional import (
    acceleration_error,
    auc,
    bsle,
    depth_order_accuracy,
    lse,
    mpjpe,
    mpjve,
    n_mpjpe,
    p_mpjpe,
    pck,
    psim_plus,
)
from tests.metrics.conftest import make_prediction, make_sequence


def test_severity_names_match_the_batch_contract():
    assert SEVERITIES == DATA_SEVERITIES


@pytest.fixture
def sequences(rng):
    """Four sequences of 10 frames with labels; poses are camera-frame (depth > 0)."""
    gt = make_sequence(rng, (4,), 10) + np.array([0.0, 0.0, 4.0])
    pred = make_prediction(rng, gt, scale=0.03)
    actions = ["Walk", "Eat", "Walk", "Sit"]
    severity = rng.integers(0, 4, size=(4, 10))
    return gt, pred, actions, severity


def test_single_metrics_equal_their_functional_forms(sequences):
    gt, pred, actions, severity = sequences
    cases = [
        (MPJPE(), "MPJPE", mpjpe(pred, gt)),
        (PMPJPE(), "P-MPJPE", p_mpjpe(pred, gt)),
        (NMPJPE(), "N-MPJPE", n_mpjpe(pred, gt)),
        (MPJVE(), "MPJVE", mpjve(pred, gt)),
        (AccelerationError(), "Accel", acceleration_error(pred, gt)),
        (PCK3DHP(), "PCK", pck(pred, gt)),
        (PCK3DHP(), "AUC", auc(pred, gt)),
        (BSLE(), "BSLE", bsle(pred, gt)),
        (LSE(), "LSE", lse(pred)),
        (LSE(), "LSE (GT)", lse(gt)),
        (DepthOrderAccuracy(), "Depth order (spatial)", depth_order_accuracy(pred, gt)),
        (
            DepthOrderAccuracy(mode="temporal"),
            "Depth order (temporal)",
            depth_order_accuracy(pred, gt, mode="temporal"),
        ),
        (PSIMPlus(), "PSIM+", psim_plus(gt, pred).score.mean()),
        (
            PSIMPlus(temporal=True),
            "PSIM+ temporal",
            psim_plus(gt, pred, temporal=True).score.mean(),
        ),
    ]
    for metric, name, want in cases:
        for b in range(4):  # one sequence per update
            metric.update(pred[b], gt[b], action=actions[b], severity=severity[b])
        got = metric.compute().overall[name]
        assert got == pytest.approx(float(want), rel=1e-9, abs=1e-9), name


def test_groups_equal_the_functional_form_on_the_subset(sequences):
    gt, pred, actions, severity = sequences
    m = MPJPE()
    m.update(pred, gt, action=actions, severity=severity)
    r = m.compute()
    walk = [0, 2]
    assert r.groups["action"]["Walk"]["MPJPE"] == pytest.approx(float(mpjpe(pred[walk], gt[walk])))
    sel = severity == 2
    assert r.groups["severity"]["body_part"]["MPJPE"] == pytest.approx(
        float(mpjpe(pred[sel], gt[sel]))
    )
    per_joint = list(r.per_joint["MPJPE"].values())
    np.testing.assert_allclose(per_joint, mpjpe(pred, gt, reduction="joint"))
    assert list(r.per_joint["MPJPE"])[:2] == ["pelvis", "r_hip"]


def test_suite_accumulated_equals_one_shot(sequences):
    gt, pred, actions, severity = sequences
    one = EvaluationSuite()
    one.update(pred, gt, action=actions, severity=severity, subject="S9")
    acc = EvaluationSuite()
    for b in range(4):
        acc.update(
            torch.tensor(pred[b]),
            torch.tensor(gt[b]),
            action=actions[b],
            severity=severity[b],
            subject="S9",
        )
    a, b = one.compute().to_dict(), acc.compute().to_dict()
    assert a.keys() == b.keys()
    for key in a["overall"]:
        assert a["overall"][key] == pytest.approx(b["overall"][key], rel=1e-9, abs=1e-12), key
    for f in ("action", "severity", "subject"):
        for lab, vals in a["groups"][f].items():
            for key, v in vals.items():
                w = b["groups"][f][lab][key]
                assert (v is None and w is None) or v == pytest.approx(w, rel=1e-9, abs=1e-12)
    expected = {"MPJPE", "P-MPJPE", "N-MPJPE", "MPJVE", "Accel", "PCK", "AUC", "PSIM+", "PSIM+ temporal",
                "PSIM+ (P+S)", "BSLE", "LSE", "LSE (GT)", "Depth order (spatial)", "Depth order (temporal)"}  # fmt: skip
    assert expected <= set(a["overall"])


def test_identical_sequences_score_perfectly(sequences):
    gt = sequences[0]
    suite = EvaluationSuite()
    suite.update(gt.copy(), gt)
    o = suite.compute().overall
    for k in ("MPJPE", "P-MPJPE", "N-MPJPE", "MPJVE", "Accel", "BSLE"):
        assert o[k] == pytest.approx(0.0, abs=1e-6), k
    for k in ("PSIM+", "PSIM+ temporal", "Depth order (spatial)", "Depth order (temporal)"):
        assert o[k] == pytest.approx(1.0, abs=1e-12), k
    assert o["PCK"] == 100.0 and o["LSE"] == pytest.approx(o["LSE (GT)"])


def test_tables_have_the_seed_layouts(sequences, tmp_path):
    gt, pred, actions, severity = sequences
    suite = EvaluationSuite(label="DG-CNN")
    suite.update(pred, gt, action=actions, severity=severity, sequence=["TS1", "TS2", "TS5", "TS6"])
    r = suite.compute()
    t2 = r.action_table()
    assert t2.columns == ["Eat", "Sit", "Walk", "MPJPE", "P-MPJPE", "PSIM+"]
    acts = r.groups["action"]
    assert t2.rows[0][1][3] == pytest.approx(np.mean([acts[a]["MPJPE"] for a in acts]))
    t5 = r.severity_table()
    assert t5.columns[:3] == ["Joint MPJPE", "Joint PSIM+ (P+S)", "Joint PSIM+"]
    assert t5.columns[-3:] == ["Average MPJPE", "Average PSIM+ (P+S)", "Average PSIM+"]
    occluded = severity > 0
    assert t5.rows[0][1][-3] == pytest.approx(float(mpjpe(pred[occluded], gt[occluded])))
    assert set(r.groups["scene"]) == {"GS", "Outdoor"}  # TS1/2 green screen, TS5/6 outdoor
    md = r.to_markdown()
    assert "| DG-CNN |" in md and "**Per occlusion severity**" in md
    paths = r.to_csv(tmp_path)
    assert {p.name for p in paths} >= {
        "overall.csv",
        "per_joint.csv",
        "table2_actions.csv",
        "table5_severity.csv",
    }
    json.dumps(r.to_dict())  # JSON-ready


def test_compute_is_repeatable_and_reset_clears(sequences):
    gt, pred, actions, _ = sequences
    m = PMPJPE()
    m.update(pred, gt)
    first = m.compute().overall["P-MPJPE"]
    assert m.compute().overall["P-MPJPE"] == first
    m.reset()
    with pytest.raises(ValueError, match="nothing accumulated"):
        m.compute()


def test_bad_metadata_and_input(sequences):
    gt, pred, actions, _ = sequences
    m = MPJPE()
    with pytest.raises(ValueError, match="severity index 7"):
        m.update(pred, gt, severity=7)
    with pytest.raises(ValueError, match=r"labels \(one per batch element\)"):
        m.update(pred, gt, action=["a", "b"])
    with pytest.raises(ValueError, match="unknown metadata"):
        m.update(pred, gt, weather="rain")
    with pytest.raises(ValueError, match="same shape"):
        m.update(pred, gt[:2])
    with pytest.raises(ValueError, match="no 'action' breakdown"):
        _report_without_actions(pred, gt).group_table("action")


def _report_without_actions(pred, gt):
    m = MPJPE()
    m.update(pred, gt)
    return m.compute()


def test_distributed_reduction_equals_single_process(sequences, tmp_path):
    gt, pred, actions, severity = sequences
    meta = [dict(action=actions[b], severity=severity[b]) for b in range(4)]
    shards = [
        [(pred[b], gt[b], meta[b]) for b in (0, 3)],
        [(pred[b], gt[b], meta[b]) for b in (1, 2)],
    ]
    data, out = tmp_path / "data.pkl", tmp_path / "out.json"
    data.write_bytes(pickle.dumps(shards))
    from tests.metrics._dist_worker import run

    torch.multiprocessing.spawn(
        run, args=(2, str(tmp_path / "init"), str(data), str(out)), nprocs=2, join=True
    )
    got = json.loads(out.read_text())
    single = EvaluationSuite(label="dist")
    for b in range(4):
        single.update(pred[b], gt[b], **meta[b])
    want = single.compute().to_dict()
    for key, v in want["overall"].items():
        assert got["overall"][key] == pytest.approx(v, rel=1e-9, abs=1e-12), key
    for lab, vals in want["groups"]["severity"].items():
        for key, v in vals.items():
            w = got["groups"]["severity"][lab][key]
            assert (v is None and w is None) or (
                w is not None and math.isclose(w, v, rel_tol=1e-9, abs_tol=1e-12)
            )
