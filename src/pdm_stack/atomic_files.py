"""Replacing files atomically: a reader sees the old file or the new one, whole, never a mix.

Every file pdm-stack writes over another (locks, build records, published metadata and
archives, rewritten scripts and sysconfig data, patched libraries) is written to a hidden
temporary file beside it and renamed into place, so a killed process never leaves a truncated
file under a final name, and a file that is a hard link into uv's cache is replaced instead
of written through.

The temporary file is created with mode 0666 and the kernel applies the umask, exactly as for
any new file; a file that replaces another then takes the old file's permissions (a console
script stays executable, a lock file stays readable). The umask is never read by setting it:
``os.umask`` changes it for the whole process, which races with other threads creating files
(locks are written from worker threads).

The standalone deployer (``pdm_stack.deploy``) keeps its own small copy in
``deploy/common.py``, because it runs on machines without pdm-stack and imports only its
siblings.
"""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Ends every temporary file written here, so leftovers of a killed process can be recognised.
PARTIAL_SUFFIX = ".partial"


def create_temp(folder: Path, prefix: str, suffix: str = PARTIAL_SUFFIX) -> tuple[int, Path]:
    """A new file in ``folder``, open for writing: like ``tempfile.mkstemp``, but with the mode
    the umask gives any new file (usually 0644), not 0600.

    Files written here are read by others (a web server, a CI upload step, the users of a
    shared folder); a private mode would survive the rename into place.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = folder / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(temp, flags, 0o666), temp
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue


@contextmanager
def replacement(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """An empty temporary file beside ``path`` for the caller to fill (by any means, a tool
    writing it by name included); on success it is renamed over ``path``, else removed.

    The file gets ``mode`` if given, else the permissions of the file it replaces (a new file
    keeps the umask's default).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = create_temp(path.parent, f".{path.name}.")
    os.close(fd)
    try:
        yield temp
        wanted = mode if mode is not None else _current_mode(path)
        if wanted is not None:
            temp.chmod(wanted)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_output(path: Path, *, mode: int | None = None) -> Iterator[IO[bytes]]:
    """A binary stream whose content replaces ``path`` once the block ends without an error."""
    with replacement(path, mode=mode) as temp, temp.open("wb") as stream:
        yield stream


def write_atomically(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8); see :func:`replacement`."""
    with atomic_output(path, mode=mode) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_if_changed(path: Path, data: bytes | str) -> bool:
    """Replace ``path`` with ``data`` unless it already holds exactly that; True if written.

    An unchanged file keeps its modification time, so tools watching it see no change.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if path.read_bytes() == content:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, content)
    return True


def _current_mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
