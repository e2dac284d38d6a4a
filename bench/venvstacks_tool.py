"""A venv with venvstacks from the index, made once and kept in the user's cache folder.

It is pinned to what runs offline here: PDM 2.29 with ``hishel<2`` and ``unearth<0.19`` (newer
ones break PDM's HTTP session, which venvstacks opens even for a local runtime).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.tools import UV

REQUIREMENTS = ["venvstacks", "pdm>=2.29,<2.30", "hishel<2", "unearth<0.19"]
DRIVER = Path(__file__).with_name("venvstacks_driver.py")


def venvstacks_python() -> tuple[Path | None, str]:
    """The venv's interpreter and venvstacks' version, or ``None`` and why it is unavailable."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pdm-stack-bench"
    venv = cache / "venvstacks-venv"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        commands = [
            [UV, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
            [UV, "pip", "install", "--quiet", "--python", str(python), *REQUIREMENTS],
        ]
        for command in commands:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return None, f"could not install venvstacks: {done.stderr.strip().splitlines()[-1:]}"
        (venv / ".complete").touch()
    done = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('venvstacks'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None, "venvstacks does not import"
    return python, done.stdout.strip()


def driver_command(python: Path, *args: str) -> list[str]:
    return [str(python), str(DRIVER), *args]
