"""The layering of DESIGN.md, checked with import-linter contracts in pyproject.toml, plus a
check that the numeric layers import without the UI stack or database driver."""

import subprocess
import sys
import textwrap

from tests.conftest import REPO


def test_import_contracts_hold():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_numeric_layers_import_without_ui_or_database():
    code = textwrap.dedent("""
        import importlib, importlib.abc, sys
        BLOCKED = {"panel", "param", "holoviews", "bokeh", "pyvista", "vtk", "sqlalchemy"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        for layer in ("structures", "geometry", "skeleton", "metrics", "losses", "models", "training"):
            try:
                importlib.import_module(f"poseviz.{layer}")
            except ModuleNotFoundError as err:
                if err.name != f"poseviz.{layer}":
                    raise
    """)

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
