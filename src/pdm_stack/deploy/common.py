"""What every module of the standalone deployer shares: its error, the name rules, hashing.

The deployer (this module, ``metadata_reader``, ``archives``, ``deployment_records``,
``deployer``, ``cli`` and the ``standalone`` facade) runs on target machines without pdm-stack:
``pdm stack publish`` copies these files into ``deploy_stack_lib/`` next to the archives. So each
of them uses the standard library only, parses as Python 3.9, and imports its siblings by
relative imports only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from pathlib import Path

METADATA_DIR = "__venvstacks__"
#: Install targets and archive names are plain names: no separators, no leading dot.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*\Z")
#: The start of an absolute path, POSIX or Windows.
ABSOLUTE = re.compile(r"[/\\]|[A-Za-z]:")
CHUNK = 1 << 20
#: Size of each write of an unpacked file. Linux (ext4, xfs, tmpfs, ...) keeps freshly written
#: data in page-cache folios as large as the writes, and a process mapping the file (a shared
#: library) is then given whole folios at a page fault: 1 MiB writes made libtorch_cpu.so count
#: twice the resident memory in every process importing torch that pip's or uv's small writes
#: give. The memory used is the same; what ``ps``/``top`` show, and users compare, is not.
FILE_WRITE = 64 << 10

#: One published layer's metadata (a venvstacks layer JSON object, checked by ``metadata``).
Layer = dict[str, Any]


def human_size(size: float) -> str:
    """A byte count for messages, in decimal units as registries show them: ``5.0 kB``,
    ``21.9 MB``. (Always in MB, a small app's archive read "0.0 MB", as if nothing was sent.)"""
    if size < 1000:
        return f"{int(size)} B"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


class DeployError(Exception):
    """A problem that stops the deployment, reported in one line."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file: ``pdm_stack.file_digests`` for the deployer, which may not import it.

    ``hashlib.file_digest`` is Python 3.11+; the deployer runs on 3.9 too, so it keeps the
    chunked loop as the fallback.
    """
    with path.open("rb") as stream:
        if hasattr(hashlib, "file_digest"):
            return hashlib.file_digest(stream, "sha256").hexdigest()
        digest = hashlib.sha256()
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
        return digest.hexdigest()


def open_new(path: Path) -> BinaryIO:
    """``path`` as a new file for writing, whatever was there (a leftover, or a symlink someone
    planted in TARGET to make the deployer write elsewhere): removed, never followed."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    return os.fdopen(os.open(path, flags, 0o644), "wb")


def replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` through a temporary file renamed over it: a reader sees the old or the new file.

    pdm-stack has one helper for this (``pdm_stack.atomic_files``); the deployer keeps this copy
    because it runs without pdm-stack and may import only its siblings. The temporary name is
    fixed: one deployment at a time writes a target (it holds the target's lock).
    """
    temporary = path.with_name(path.name + ".tmp")
    try:
        with open_new(temporary) as stream:
            stream.write(data)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeployError(f"{path}: cannot read metadata ({exc})") from None
