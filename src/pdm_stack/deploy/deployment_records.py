"""What a deployment leaves in TARGET about itself: per-layer records and the deployment lock.

``TARGET/__venvstacks__/deployed/<install target>.json`` keeps each deployed layer's metadata,
the sha256 of the archive it came from and a sha256 of every unpacked file. Deploying again
compares archive hashes with these records to skip layers already in place, and
``pdm stack verify`` compares the files with them. The lock keeps two deployments into one
TARGET from interleaving. Standard library only (see ``common``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import METADATA_DIR, DeployError, Layer, replace_file

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Deployment records, inside TARGET but never inside a layer folder.
DEPLOYED_DIR = Path(METADATA_DIR, "deployed")
RECORD_FORMAT = 1


def record_path(target: Path, install_target: str) -> Path:
    return target / DEPLOYED_DIR / f"{install_target}.json"


def read_records(target: Path) -> dict[str, dict[str, Any]]:
    """The deployment records in TARGET by install target (unreadable ones are ignored)."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((target / DEPLOYED_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("layer"), dict):
            records[path.name[: -len(".json")]] = record
    return records


def write_record(target: Path, install_target: str, data: dict[str, Any]) -> None:
    """Write a layer's record (temp file + rename: a reader sees the old or the new record)."""
    path = record_path(target, install_target)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def is_deployed(target: Path, layer: Layer, records: dict[str, dict[str, Any]]) -> bool:
    record = records.get(layer["install_target"])
    return (
        record is not None
        and record.get("archive_sha256") == layer["archive_hashes"]["sha256"]
        and (target / layer["install_target"]).is_dir()
    )


def lock_path(target: Path) -> Path:
    """The lock file of TARGET, shared with ``pdm stack export`` (which locks it with filelock)."""
    return target / METADATA_DIR / "deploy.lock"


@contextlib.contextmanager
def target_lock(target: Path, log: Callable[[str], None] | None = None) -> Iterator[None]:
    """One deployment at a time per TARGET; a second one waits and says so through ``log``.

    The same OS lock the ``filelock`` package takes (``flock`` on POSIX, a byte-range lock on
    Windows), so ``pdm stack export`` into this folder, which locks this file with filelock,
    waits for a deployment and the other way round. Released by the OS if the process dies.
    The file is never followed if it is a symlink, and is created 0644 whatever the umask.
    """
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        raise DeployError(f"{path}: cannot open the deployment lock ({exc.strerror or exc})") from None
    try:
        if not _try_lock(fd):
            if log is not None:
                log(
                    f"Another deployment into {target} is running (lock {path}); waiting for it to finish ..."
                )
            _lock(fd)
        yield
    finally:
        os.close(fd)  # releases the lock


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(fd: int) -> None:
        while not _try_lock(fd):
            time.sleep(0.1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
