"""One run at a time per folder: the lock that build, publish and export take.

Each of them cleans up what a killed run of its own kind left in its folder (staging folders,
``.partial`` files) before it starts, which is only safe if no other run is using that folder at
the same time: a second run waits for the first and says so. The lock is an OS file lock
(``flock`` on POSIX, through the ``filelock`` package), released by the OS when a process dies,
so a killed run never leaves the folder locked. The standalone deployer, which cannot use
``filelock``, takes the same ``flock`` on ``TARGET/__venvstacks__/deploy.lock``
(``deploy/deployment_records.py``), so ``pdm stack export`` and a deployment into one folder
exclude each other too.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pdm_stack.reporting import Reporter

#: How long a run waits for another run on the same folder before giving up.
LOCK_TIMEOUT_SECONDS = 3600.0
#: Lock files are created with this mode whatever the umask: nobody else may write to them.
LOCK_FILE_MODE = 0o644


@contextmanager
def folder_lock(
    path: Path, reporter: Reporter, *, activity: str, timeout: float = LOCK_TIMEOUT_SECONDS
) -> Iterator[None]:
    """Hold the lock file ``path`` (created if needed); if another run holds it, wait and say so.

    ``activity`` names the run in messages, e.g. ``"build of this stack"``.
    """
    lock = FileLock(str(path), mode=LOCK_FILE_MODE)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire(timeout=0)
    except Timeout:
        reporter.info(f"Another {activity} is running (lock {path}); waiting for it to finish ...")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise StackError(
                f"gave up waiting for the other {activity} after {timeout:.0f}s", file=str(path)
            ) from None
    except OSError as exc:  # after Timeout, which is an OSError too
        raise _unusable(path, activity, exc) from None
    try:
        yield
    finally:
        lock.release()


def _unusable(path: Path, activity: str, exc: OSError) -> StackError:
    """The real cause of a lock file that cannot be created, e.g. a file where a folder goes."""
    existing = path.parent
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        return StackError(f"is a file, not a folder (needed for the {activity})", file=str(existing))
    return StackError(f"cannot create the lock of the {activity}: {exc.strerror or exc}", file=str(path))
