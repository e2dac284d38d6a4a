"""What a command prints while it locks layers in parallel: whole lines, one step per line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.pure_wheels import make_pure_wheel

APPS = ("alpha", "beta", "gamma", "delta")

SPEC = """
[project]
name = "parallel"
version = "0"

[tool.pdm-stack]
find_links = ["wheels"]

[[tool.venvstacks.runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11"
requirements = []
platforms = ["linux_x86_64"]
"""

APP = """
[[tool.venvstacks.applications]]
name = "{name}"
runtime = "cpython-3.11"
launch_module = "{name}_main.py"
requirements = ["pdmstack-{name}"]
"""


@pytest.mark.network
def test_parallel_locks_print_whole_lines_through_the_real_command(tmp_path: Path) -> None:
    """Four apps lock at once (worker threads); their messages reach stderr as whole lines,
    each step announced on its own line, never two messages run together."""
    for name in APPS:
        make_pure_wheel(tmp_path / "wheels", f"pdmstack-{name}", "1.0")
        (tmp_path / f"{name}_main.py").write_text("print('hi')\n")
    spec = tmp_path / "pyproject.toml"
    spec.write_text(SPEC + "".join(APP.format(name=name) for name in APPS))

    result = subprocess.run(
        [sys.executable, "-m", "pdm_stack", "lock", "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PDM_CHECK_UPDATE": "false"},
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    names = r"cpython-3\.11|app-(?:alpha|beta|gamma|delta)"
    whole = re.compile(
        r"Locking (?:runtime|application) '(?:cpython-3\.11|alpha|beta|gamma|delta)' \.\.\."
        rf"|(?:{names}): locked \(lock_version 1; [01] package\(s\)\)"
        r"|Locked 5 layer\(s\) into .*; updated: .*"
    )
    assert [line for line in lines if not whole.fullmatch(line)] == []
    for name in APPS:
        assert lines.count(f"Locking application '{name}' ...") == 1, lines
        assert lines.count(f"app-{name}: locked (lock_version 1; 1 package(s))") == 1, lines
