"""Runs venvstacks' own command line with a local runtime instead of a download.

Run with the interpreter of a venv that has venvstacks installed (see ``bench/venvstacks_tool.py``):
``python venvstacks_driver.py build venvstacks.toml ...``. venvstacks fetches its runtimes from
python-build-standalone on GitHub (unreachable here); this replaces only that download with a
copy of ``$BENCH_LOCAL_RUNTIME`` (the same relocatable runtime pdm-stack builds on), so the rest
of venvstacks (locking, building, archiving, exporting) runs exactly as shipped. The copy is
part of what is timed, as pdm-stack's copy of a local runtime is part of its build.
"""

import os
import shutil
import sys
from pathlib import Path

import venvstacks.stacks as stacks  # type: ignore[import-not-found]

RUNTIME = Path(os.environ["BENCH_LOCAL_RUNTIME"])


def _local_runtime(target_path: Path, request: str) -> Path:
    dest = Path(target_path) / "local-runtime"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(RUNTIME, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


stacks._pdm_python_install = _local_runtime

from venvstacks.cli import main  # type: ignore[import-not-found]  # noqa: E402

sys.argv[0] = "venvstacks"
main()
