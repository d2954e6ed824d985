"""notebooks/01_compare.ipynb runs top to bottom (nbclient, a fresh kernel)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_compare_notebook_runs(monkeypatch):
    # the kernel imports this checkout's poseviz (not another installed copy)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    path = REPO / "notebooks" / "01_compare.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "every view on frame" in text and "sensitive joints at frame 80" in text
