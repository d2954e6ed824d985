"""The README's two set-up commands are what CI runs and what a newcomer types."""

import re

from tests.conftest import REPO


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Set-up.*?```bash\n(.*?)```", text, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands():
    assert len(_setup_commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = _setup_commands()[1]
    assert "pytest" in test_command
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in [line.strip() for line in ci]
