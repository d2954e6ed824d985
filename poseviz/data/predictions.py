"""Prediction files: `Prediction` records in one ``.npz`` (what ``poseviz predict`` writes and
the compare app reads).

Layout (no pickles; everything loads with ``allow_pickle=False``)::

    __poseviz_predictions__   0-d unicode: JSON {"version": 1, "records": [...]}, each record
                              {"model_id", "sequence_id", "camera_id", "aux": [keys]}
    p<i>/joints_3d            (T, J, 3) float, root-relative camera frame, metres
    p<i>/frame_indices        (T,) int64
    p<i>/aux/<key>            auxiliary arrays, first axis T

Files are written to a temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from poseviz.data._formats import FormatError
from poseviz.structures import Prediction

__all__ = ["MARKER", "is_prediction_file", "load_predictions", "save_predictions"]

MARKER = "__poseviz_predictions__"
_VERSION = 1


def save_predictions(path: str | Path, predictions: Iterable[Prediction]) -> Path:
    """Write ``predictions`` to ``path`` (``.npz``) atomically; returns the path."""
    path = Path(path)
    records, arrays = [], {}
    for i, p in enumerate(predictions):
        if not isinstance(p, Prediction):
            raise ValueError(
                f"save_predictions: item {i} is a {type(p).__name__}, not a Prediction"
            )
        records.append(
            {
                "model_id": p.model_id,
                "sequence_id": p.sequence_id,
                "camera_id": p.camera_id,
                "aux": sorted(p.aux),
            }
        )
        arrays[f"p{i}/joints_3d"] = p.joints_3d
        arrays[f"p{i}/frame_indices"] = p.frame_indices
        for key, value in p.aux.items():
            arrays[f"p{i}/aux/{key}"] = value
    header = json.dumps({"version": _VERSION, "records": records})
    arrays[MARKER] = np.array(header)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def is_prediction_file(path: str | Path) -> bool:
    """True when ``path`` is an ``.npz`` written by `save_predictions`."""
    try:
        with zipfile.ZipFile(path) as zf:
            return f"{MARKER}.npy" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load_predictions(path: str | Path) -> list[Prediction]:
    """Read a file written by `save_predictions`; a malformed file raises `FormatError`
    naming the key that is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise FormatError(path, "file", "a poseviz predictions .npz", str(err)) from None
    with data:
        if MARKER not in data.files:
            raise FormatError(path, MARKER, "the poseviz predictions header", "no such key")
        try:
            header = json.loads(str(data[MARKER]))
            records = header["records"]
        except (ValueError, KeyError, TypeError) as err:
            raise FormatError(path, MARKER, "JSON with a 'records' list", str(err)) from None
        if header.get("version") != _VERSION:
            raise FormatError(path, f"{MARKER}.version", str(_VERSION), repr(header.get("version")))
        out = []
        for i, rec in enumerate(records):
            key = f"p{i}/joints_3d"
            try:
                aux = {k: data[f"p{i}/aux/{k}"] for k in rec.get("aux", [])}
                out.append(
                    Prediction(
                        model_id=rec["model_id"],
                        sequence_id=rec["sequence_id"],
                        camera_id=rec["camera_id"],
                        joints_3d=data[key],
                        frame_indices=data[f"p{i}/frame_indices"],
                        aux=aux,
                    )
                )
            except KeyError as err:
                raise FormatError(
                    path, f"record {i}", "its arrays and labels", f"missing {err}"
                ) from None
            except ValueError as err:
                raise FormatError(path, f"record {i}", "a valid Prediction", str(err)) from None
    return out
