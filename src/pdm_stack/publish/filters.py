"""What of a built layer folder ships, shared by archives (publish) and copies (export).

A build folder holds more than a deployment needs: bytecode caches (which embed build paths and
timestamps, so they would break reproducibility), console scripts of packages that the app
does not expose, and the world-writable ``.lock`` uv leaves at the top of an environment. The
walk returns members sorted by archive name, so every consumer sees the same order regardless of
the file system's directory order.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pdm_stack.building.staging import UV_ENVIRONMENT_LOCK
from pdm_stack.errors import StackError

#: The per-layer post-install script every archive and export carries at its top.
POSTINSTALL_NAME = "postinstall.py"

#: Interpreter entries of ``bin/`` (``python``, ``python3``, ``python3.12``, ``python3.13t``):
#: the only ones shipped unless a layer keeps its console scripts.
_INTERPRETER = re.compile(r"python(3(\.\d+t?)?)?")

_BYTECODE_SUFFIXES = (".pyc", ".pyo")

MemberKind = Literal["dir", "file", "symlink"]


@dataclass(frozen=True)
class Member:
    """One entry of a layer as it ships; ``relpath`` is relative to the layer folder ("" = itself)."""

    relpath: str
    kind: MemberKind
    #: File on disk (``None`` for the layer's generated postinstall script).
    source: Path | None = None
    size: int = 0
    executable: bool = False
    link_target: str = ""
    #: Identity used for change detection only (never shipped): ``(inode, mtime_ns)``.
    stamp: tuple[int, int] = (0, 0)

    def archive_name(self, top: str) -> str:
        return f"{top}/{self.relpath}" if self.relpath else top


def postinstall_bytes() -> bytes:
    """The packaged post-install script (written by the deploy package), verbatim."""
    resource = resources.files("pdm_stack.deploy").joinpath(POSTINSTALL_NAME)
    try:
        return resource.read_bytes()
    except (OSError, ModuleNotFoundError) as exc:  # pragma: no cover - a broken installation
        raise StackError(
            f"this pdm-stack installation lacks pdm_stack/deploy/{POSTINSTALL_NAME}; reinstall pdm-stack"
        ) from exc


def layer_members(
    folder: Path, *, keep_console_scripts: bool = False, keep_bytecode: bool = False, label: str | None = None
) -> list[Member]:
    """Every member of the layer at ``folder`` that ships, sorted by path (postinstall excluded).

    ``keep_bytecode`` keeps the ``__pycache__`` folders: export links the bytecode a build
    compiled in the deployment's own form; archives never carry it.

    Raises :class:`StackError` for content a deployment cannot reproduce: absolute symlinks,
    symlinks that leave the deployment folder, and special files (sockets, fifos, devices).
    """
    label = label or folder.name
    members = [Member("", "dir", folder, executable=True)]
    keep = _Keep(keep_console_scripts, keep_bytecode)
    _walk(folder, "", members, keep=keep, label=label)
    members.sort(key=lambda m: m.relpath)
    return members


@dataclass(frozen=True)
class _Keep:
    """What a walk keeps that archives leave out."""

    console_scripts: bool
    bytecode: bool


def _walk(directory: Path, prefix: str, out: list[Member], *, keep: _Keep, label: str) -> None:
    with os.scandir(directory) as entries:
        for entry in entries:
            relpath = f"{prefix}{entry.name}"
            if _excluded(relpath, entry, keep):
                continue
            info = entry.stat(follow_symlinks=False)
            path = Path(entry.path)
            stamp = (info.st_ino, info.st_mtime_ns)
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(path)  # noqa: PTH115 (Path.readlink would normalise the text)
                _check_link(relpath, target, label)
                out.append(Member(relpath, "symlink", path, link_target=target, stamp=stamp))
            elif stat.S_ISDIR(info.st_mode):
                # No stamp: a directory's time changes with its entries, which the walk sees anyway.
                out.append(Member(relpath, "dir", path, executable=True))
                _walk(path, f"{relpath}/", out, keep=keep, label=label)
            elif stat.S_ISREG(info.st_mode):
                executable = bool(info.st_mode & 0o111)
                out.append(Member(relpath, "file", path, info.st_size, executable, stamp=stamp))
            else:
                raise StackError(f"'{relpath}' is a special file (socket, fifo or device)", layer=label)


def _excluded(relpath: str, entry: os.DirEntry[str], keep: _Keep) -> bool:
    name = entry.name
    if name == "__pycache__":
        return not keep.bytecode
    if name.endswith(_BYTECODE_SUFFIXES):
        # Bytecode outside a __pycache__ folder is a legacy layout no build writes.
        return not (keep.bytecode and relpath.rpartition("/")[0].endswith("__pycache__"))
    if relpath == POSTINSTALL_NAME:
        return True  # replaced by the packaged script
    if relpath == UV_ENVIRONMENT_LOCK:
        return True  # uv's lock of the build environment (layers built by older versions)
    if relpath.startswith("bin/") and relpath.count("/") == 1 and not keep.console_scripts:
        return _INTERPRETER.fullmatch(name) is None
    return False


def _check_link(relpath: str, target: str, label: str) -> None:
    """A link may point inside its layer or into a peer layer folder, never further out.

    Layer folders are unpacked side by side, so ``../cpython-3.11/bin/python3`` from the top of a
    layer stays inside the deployment; anything that climbs above the layers' common parent, or
    is absolute, would point at whatever the target machine has there.
    """
    if posixpath.isabs(target) or Path(target).is_absolute():
        raise StackError(f"'{relpath}' is a symlink to an absolute path ({target})", layer=label)
    # Resolve lexically from "<deploy root>/<layer>/<dir of the link>".
    resolved = posixpath.normpath(posixpath.join("layer", posixpath.dirname(relpath), target))
    if resolved == ".." or resolved.startswith("../"):
        raise StackError(f"'{relpath}' is a symlink leaving the deployment folder ({target})", layer=label)
