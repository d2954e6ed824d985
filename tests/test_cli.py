import subprocess
import sys

import poseviz
from poseviz.cli import main


def test_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "poseviz.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == f"poseviz {poseviz.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "poseviz.cli", "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "commands" in out.stdout


def test_skeleton_command(capsys):
    assert main(["skeleton"]) == 0
    assert "h36m17" in capsys.readouterr().out
    assert main(["skeleton", "coco17"]) == 0
    assert "pelvis       <- l_hip + r_hip" in capsys.readouterr().out
    assert main(["skeleton", "nope"]) == 2
    assert "unknown skeleton layout 'nope'" in capsys.readouterr().err
