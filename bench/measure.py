"""Measuring one command: wall time and the peak RSS of its whole process tree; disk usage.

Every measured step runs as a child process, as users run the tool, and is reaped with
``os.wait4``: its ``ru_maxrss`` is the largest resident set of the child and of every
descendant it waited for (a ``tar | xz`` pipeline in a shell included), and never includes
the suite's own memory. Output goes to files, so a chatty child can never block on a pipe.
"""

from __future__ import annotations

import os
import shlex
import stat
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path


class StepFailed(Exception):
    """A measured command exited non-zero; carries the tail of its output."""


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_mb: float


def run_measured(
    command: Sequence[str] | str,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Sample:
    """Run ``command`` (a list, or a string for ``sh -c``) and measure it; raises StepFailed."""
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else [os.fspath(a) for a in command]
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            output.seek(0)
            tail = output.read().decode(errors="replace").strip().splitlines()[-15:]
            shown = command if isinstance(command, str) else shlex.join(argv)
            raise StepFailed(f"exit {process.returncode}: {shown}\n" + "\n".join(tail))
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    scale = 1 if sys.platform == "darwin" else 1024
    return Sample(seconds, usage.ru_maxrss * scale / 1e6)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def disk_usage(*paths: Path) -> int:
    """Bytes allocated on disk under ``paths``, each file counted once however many hard links
    or measured paths reach it (a layer hard-linked to uv's cache costs its blocks once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for top in paths:
        for folder, dirs, files in os.walk(top):
            for name in (*dirs, *files):
                info = os.lstat(f"{folder}/{name}")
                key = (info.st_dev, info.st_ino)
                if key not in seen:
                    seen.add(key)
                    total += info.st_blocks * 512
    return total


def tree_bytes(*paths: Path) -> int:
    """Apparent size of the regular files under ``paths`` (what an archive has to carry)."""
    total = 0
    for top in paths:
        for folder, _dirs, files in os.walk(top):
            for name in files:
                info = os.lstat(f"{folder}/{name}")
                if stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total
