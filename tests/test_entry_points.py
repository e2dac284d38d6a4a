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
    ("command", "usage"),
    [
        ([str(BIN / "pdm"), "stack"], "pdm stack"),
        ([str(BIN / "pdm-stack")], "pdm-stack"),
        ([sys.executable, "-m", "pdm_stack"], "pdm-stack"),
    ],
    ids=["pdm-stack-plugin", "console-script", "python-m"],
)
def test_help_lists_the_subcommands(command: list[str], usage: str) -> None:
    env = {**os.environ, "PDM_CHECK_UPDATE": "false"}
    result = subprocess.run([*command, "--help"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "show" in result.stdout and "use" in result.stdout
    assert result.stdout.startswith(f"Usage: {usage} ")
    lock_help = subprocess.run([*command, "lock", "--help"], capture_output=True, text=True, env=env)
    assert lock_help.stdout.startswith(f"Usage: {usage} lock ")
    # Like PDM's own command groups (`pdm venv`, `pdm self`): the help, and success.
    bare = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert bare.returncode == 0 and bare.stdout == result.stdout
    assert "Failed to load plugin" not in result.stderr
    show = subprocess.run(
        [*command, "show", "--json", "-p", str(EXAMPLE)], capture_output=True, text=True, env=env, check=False
    )
    assert show.returncode == 0, show.stderr
    assert '"env_name": "app-stats"' in show.stdout


COMMANDS = {
    "pdm-stack-plugin": [str(BIN / "pdm"), "stack"],
    "console-script": [str(BIN / "pdm-stack")],
    "python-m": [sys.executable, "-m", "pdm_stack"],
}
BROKEN_PYPROJECTS = {
    "malformed": (b"[project\nname = 'x'\n", "invalid TOML at line 1, column 9"),
    "duplicate-key": (b"[project]\nname = 'x'\nname = 'y'\n", "invalid TOML at line 3, column 11"),
    "not-utf-8": (b"[project]\nname = '\xff'\n", "not UTF-8 text at line 2, column 9"),
    "directory": (None, "is a directory, not a file"),
}


@pytest.mark.parametrize(
    ("entry", "broken"),
    [("pdm-stack-plugin", name) for name in BROKEN_PYPROJECTS]
    + [("console-script", "malformed"), ("python-m", "not-utf-8")],
)
def test_a_broken_pyproject_is_one_line_naming_file_and_position(
    tmp_path: Path, entry: str, broken: str
) -> None:
    content, expected = BROKEN_PYPROJECTS[broken]
    pyproject = tmp_path / "pyproject.toml"
    if content is None:
        pyproject.mkdir()
    else:
        pyproject.write_bytes(content)
    env = {**os.environ, "PDM_CHECK_UPDATE": "false"}
    command = [*COMMANDS[entry], "show", "-p", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"{pyproject}: {expected}" in lines[0]
    if broken == "malformed":
        verbose = subprocess.run([*command, "-v"], capture_output=True, text=True, env=env, check=False)
        assert verbose.returncode == 1
        assert "Traceback" in verbose.stderr and expected in verbose.stderr
