"""Installing packages into a layer with uv: wheels only, never a source build."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from uv import find_uv_bin

from pdm_stack.errors import StackError
from pdm_stack.indexes import mask_credentials

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from pdm_stack.reporting import Reporter


def uv_binary() -> str:
    return os.fsdecode(find_uv_bin())


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
    command = [uv_binary(), "pip", "install", "--python", str(python), "--only-binary", ":all:", *arguments]
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


def uv_error_summary(stderr: str) -> str:
    """uv's error in one line: its first error line plus the innermost cause, credentials masked."""
    lines = [line.strip() for line in mask_credentials(stderr).splitlines() if line.strip()]
    # uv prefixes its error lines with "error:" or a cross mark, and causes with arrows or "cause:".
    first = next(
        (line.lstrip("\u00d7 ").strip() for line in lines if line.lower().startswith(("error", "\u00d7"))),
        lines[-1] if lines else "uv failed without a message",
    )
    causes = [
        line.lstrip("\u2570\u2500\u25b6 ").removeprefix("cause:").strip()
        for line in lines
        if line.startswith(("cause:", "\u2570"))
    ]
    if causes and causes[-1] not in first:
        return f"{first.rstrip('.:')}: {causes[-1]}"
    return first
