"""Atomic layer builds: build beside the old layer, swap in only when complete.

A layer folder that exists under its final name is always complete. Work happens in
``<build dir>/.pdm-stack/staging``; the swap is two renames on one file system. If a process dies
between them, :func:`recover` restores the previous build on the next run.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pdm_stack.reporting import Reporter

STATE_DIR = ".pdm-stack"
#: How long a build waits for another build of the same stack before giving up.
LOCK_TIMEOUT_SECONDS = 3600.0


def state_dir(build_dir: Path) -> Path:
    return build_dir / STATE_DIR


@contextmanager
def build_lock(build_dir: Path, reporter: Reporter, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Serialise builds of one build dir; a second build waits and says so."""
    path = state_dir(build_dir) / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        reporter.info(f"Another build of this stack is running (lock {path}); waiting for it to finish ...")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise StackError(
                f"gave up waiting for the other build after {timeout:.0f}s", file=str(path)
            ) from None
    try:
        yield
    finally:
        lock.release()


def _parked(dest: Path) -> Path:
    return state_dir(dest.parent) / "previous" / dest.name


def recover(dest: Path) -> None:
    """Undo a swap that was interrupted after the old layer was moved aside."""
    parked = _parked(dest)
    if parked.exists() and not dest.exists():
        parked.rename(dest)
    elif parked.exists():
        shutil.rmtree(parked, ignore_errors=True)


@contextmanager
def staged_layer(dest: Path) -> Iterator[Path]:
    """Yield an empty staging path for ``dest``; on success it replaces ``dest`` atomically.

    On any exception (Ctrl-C included) the staging folder is removed and ``dest`` is untouched.
    """
    recover(dest)
    staging_root = state_dir(dest.parent) / "staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=staging_root, prefix=f"{dest.name}."))
    staging = work / dest.name
    try:
        yield staging
        if not staging.is_dir():
            raise StackError(f"internal error: nothing was built for {dest.name}")
        parked = _parked(dest)
        parked.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            dest.replace(parked)
        staging.replace(dest)
        shutil.rmtree(parked, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def clean_stale_staging(build_dir: Path) -> None:
    """Remove leftovers of builds that were killed (their staging folders are never reused)."""
    shutil.rmtree(state_dir(build_dir) / "staging", ignore_errors=True)
