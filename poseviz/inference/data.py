"""The DATA argument of ``poseviz predict`` and ``poseviz evaluate``: sequences with views.

``demo`` is the demo dataset's held-out clips (``demo:train`` its training clips,
``demo:all`` both); anything else is a path `poseviz.data.load` reads. A sequence with 3D
but no cameras (mocap: BVH, C3D, ...) is seen through a seeded Human3.6M-like rig of four
cameras (`poseviz.data.cameras.h36m_like_rig`, up axis from `poseviz.data.axes.up_axis`);
views with 3D and no occlusion labels get them (`poseviz.data.occlusion.label_sequence`),
so evaluation can break results down by occlusion severity.
"""

from __future__ import annotations

from pathlib import Path

from poseviz.structures import PoseSequence

__all__ = ["DEMO_SPLITS", "load_sequences", "prepare_sequence"]

DEMO_SPLITS = {
    "demo": ("val",),
    "demo:val": ("val",),
    "demo:train": ("train",),
    "demo:all": ("train", "val"),
}


def prepare_sequence(
    sequence: PoseSequence, *, seed: int = 0, occlusion: bool = True
) -> PoseSequence:
    """``sequence`` with a virtual rig when it has 3D but no cameras, and occlusion labels
    for its calibrated views with 3D."""
    from poseviz.data.axes import up_axis
    from poseviz.data.cameras import attach_cameras, h36m_like_rig
    from poseviz.data.occlusion import label_sequence

    seq = sequence
    if seq.joints_3d is not None and not seq.cameras:
        rig = h36m_like_rig(seq.joints_3d, up=up_axis(seq.joints_3d, seq.skeleton), seed=seed)
        seq = attach_cameras(seq, rig)
    if occlusion and seq.joints_3d is not None:
        missing = [c for c in seq.cameras if c not in seq.occluded]
        if missing:
            seq.occluded = {**seq.occluded, **label_sequence(seq, cameras=missing)}
    return seq


def load_sequences(spec: str | Path, *, progress: bool = True) -> list[PoseSequence]:
    """Sequences of a DATA argument (see the module docstring), in h36m17."""
    text = str(spec)
    if text in DEMO_SPLITS:
        from poseviz.data import load_demo

        subjects = DEMO_SPLITS[text]
        return [s for s in load_demo(progress=progress) if s.subject in subjects]
    from poseviz.data import load

    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no such file or folder (or use 'demo', 'demo:train', 'demo:all')"
        )
    sequences = load(path)
    if not sequences:
        raise ValueError(f"{path}: no sequences")
    bad = sorted({s.skeleton for s in sequences} - {"h36m17"})
    if bad:
        raise ValueError(
            f"{path}: sequences in layout(s) {bad}; models lift h36m17 (load without raw=True)"
        )
    return [prepare_sequence(s, seed=i) for i, s in enumerate(sequences)]
