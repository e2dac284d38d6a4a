"""Installing packages into a layer with uv: wheels only, never a source build."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from pdm_stack.errors import StackError
from pdm_stack.indexes import mask_credentials
from pdm_stack.uv_tool import find_uv, uv_error_summary

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from pdm_stack.reporting import Reporter


def install_requirements(
    python: Path,
    requirements: Sequence[str],
    reporter: Reporter,
    *,
    label: str,
    index_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> None:
    """Install ``requirements`` into the interpreter ``python`` (a runtime or a venv)."""
    if not requirements:
        return
    arguments = ["--break-system-packages", *index_args, *requirements]
    run_uv_install(python, arguments, reporter, label=label, what=", ".join(requirements), env=env)


def run_uv_install(
    python: Path,
    arguments: Sequence[str],
    reporter: Reporter,
    *,
    label: str,
    what: str,
    env: Mapping[str, str] | None = None,
) -> None:
    """``uv pip install`` into ``python``, wheels only; a failure is one line naming ``what``."""
    command = [find_uv(), "pip", "install", "--python", str(python), "--only-binary", ":all:", *arguments]
    reporter.detail("$ " + " ".join(command))
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", **(env or {})},
        check=False,
    )
    if result.returncode != 0:
        reporter.detail(mask_credentials(result.stderr))
        raise StackError(f"installing {what} failed: {uv_error_summary(result.stderr)}", layer=label)
    for line in result.stderr.splitlines():
        reporter.detail(line)
