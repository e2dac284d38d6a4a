"""The three ways in: ``pdm stack``, ``pdm-stack`` and ``python -m pdm_stack``, as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
EXAMPLE = Path(__file__).parents[1] / "example-project"


@pytest.mark.parametrize(
    "command",
    [[str(BIN / "pdm"), "stack"], [str(BIN / "pdm-stack")], [sys.executable, "-m", "pdm_stack"]],
    ids=["pdm-stack-plugin", "console-script", "python-m"],
)
def test_help_lists_the_subcommands(command: list[str]) -> None:
    env = {**os.environ, "PDM_CHECK_UPDATE": "false"}
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "show" in result.stdout
    assert "Failed to load plugin" not in result.stderr
    show = subprocess.run(
        [*command, "show", "--json", "-p", str(EXAMPLE)], capture_output=True, text=True, env=env, check=False
    )
    assert show.returncode == 0, show.stderr
    assert '"env_name": "app-stats"' in show.stdout
