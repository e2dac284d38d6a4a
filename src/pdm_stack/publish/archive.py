"""Writing one layer archive: a deterministic tar stream, compressed, hashed, renamed into place.

Reproducibility comes from what the tar headers leave out: members are sorted, every time is the
layer's lock time, owners are ``0``/``""`` and modes are normalised to 0o755/0o644, so two builds
of the same locks in different folders, by different users, at different times give the same
bytes. Files are streamed in fixed-size reads (a gigabyte layer never sits in memory) and the
archive is written under a temporary name: an interrupted publish never leaves a truncated file
under an archive's final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.atomic_files import create_temp
from pdm_stack.errors import StackError
from pdm_stack.publish.compressors import Compressor, ParallelGzip, ParallelXz, Zstd, is_x86_64_elf
from pdm_stack.publish.filters import POSTINSTALL_NAME, Member
from pdm_stack.publish.formats import ARCHIVE_FORMATS, ArchiveFormat

if TYPE_CHECKING:
    import threading
    from collections.abc import Sequence
    from concurrent.futures import Executor
    from pathlib import Path

_READ_SIZE = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE


class PublishCancelled(Exception):
    """Raised in a layer's thread when the publish as a whole was interrupted."""


@dataclass(frozen=True)
class WrittenArchive:
    """An archive complete under a temporary name; the caller renames it to its final name."""

    temp_path: Path
    size: int
    sha256: str
    #: Members whose content mentions a build path (the layer will not work once moved).
    build_path_hits: tuple[str, ...] = ()
    #: Bytes of the uncompressed tar stream: what the deployer lets the archive expand to.
    unpacked_size: int = 0


class _HashingFile:
    """The archive file as written: counts and hashes the compressed bytes on their way out."""

    def __init__(self, stream: object) -> None:
        self._stream = stream
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes | memoryview, /) -> int:
        self.digest.update(data)
        self.size += len(data)
        self._stream.write(data)  # type: ignore[attr-defined]
        return len(data)


def open_compressor(fmt: ArchiveFormat, out: _HashingFile, pool: Executor, workers: int) -> Compressor:
    if fmt == "tar.gz":
        return ParallelGzip(out, pool, workers=workers)
    if fmt == "tar.xz":
        return ParallelXz(out, pool, workers=workers)
    if fmt == "tar.zst":
        return Zstd(out, workers=workers)
    raise StackError(f"unknown archive format '{fmt}' (choose one of {', '.join(ARCHIVE_FORMATS)})")


def write_archive(
    members: Sequence[Member],
    top: str,
    postinstall: bytes,
    out_dir: Path,
    fmt: ArchiveFormat,
    *,
    mtime: int,
    pool: Executor,
    workers: int,
    build_paths: Sequence[str] = (),
    stop: threading.Event | None = None,
) -> WrittenArchive:
    """Write ``members`` under the top folder ``top`` into a temporary file in ``out_dir``.

    ``build_paths`` are strings that must not occur in shipped files; hits are reported (not
    fatal: the archive is still what was built) so the user learns the layer is not relocatable.
    Setting ``stop`` (from another thread, e.g. on Ctrl-C) abandons the archive promptly.
    """
    fd, temp_path = create_temp(out_dir, f".{top}.")
    compressor: Compressor | None = None
    try:
        with os.fdopen(fd, "wb", buffering=_READ_SIZE) as stream:
            out = _HashingFile(stream)
            compressor = open_compressor(fmt, out, pool, workers)
            writer = _TarWriter(compressor, mtime, [p.encode() for p in build_paths if p], stop)
            writer.add_all(members, top, postinstall)
            compressor.finish()
        return WrittenArchive(
            temp_path, out.size, out.digest.hexdigest(), tuple(writer.hits), unpacked_size=writer.written
        )
    except BaseException:
        if compressor is not None:
            getattr(compressor, "cancel", lambda: None)()
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise


class _TarWriter:
    """Emits tar headers and file data (streamed) into a compressor."""

    def __init__(
        self, out: Compressor, mtime: int, needles: list[bytes], stop: threading.Event | None
    ) -> None:
        self._out = out
        self._stop = stop
        self._mtime = mtime
        self._needles = needles
        self._overlap = max((len(n) for n in needles), default=1) - 1
        self.hits: list[str] = []
        self.written = 0

    def add_all(self, members: Sequence[Member], top: str, postinstall: bytes) -> None:
        # The postinstall script goes where sorting puts it, so the order stays purely by name.
        extra = Member(POSTINSTALL_NAME, "file", None, len(postinstall))
        ordered = sorted([*members, extra], key=lambda m: m.relpath)
        for member in ordered:
            name = member.archive_name(top)
            if member.source is None and member.kind == "file":
                self._header(member, name)
                self._emit(postinstall)
                self._pad(len(postinstall))
            else:
                self._add(member, name)
        # End of archive: two zero blocks, then pad to a full record as tar implementations do.
        end = 2 * _BLOCK
        self._emit(b"\0" * (end + (-(self.written + end) % _RECORD)))

    def _add(self, member: Member, name: str) -> None:
        self._header(member, name)
        if member.kind != "file" or member.source is None:
            return
        remaining = member.size
        tail = b""
        native: bool | None = None
        try:
            with member.source.open("rb", buffering=0) as stream:
                while remaining:
                    data = stream.read(min(_READ_SIZE, remaining))
                    if not data:
                        break
                    if native is None:
                        native = is_x86_64_elf(data)
                    remaining -= len(data)
                    tail = self._scan(name, tail, data)
                    self._emit(data, native=native)
                grew = bool(stream.read(1))
        except OSError as exc:
            raise StackError(f"cannot read {member.source}: {exc.strerror}") from exc
        if remaining or grew:
            raise StackError(f"{member.source} changed while it was being archived; publish again")
        self._pad(member.size)

    def _scan(self, name: str, tail: bytes, data: bytes) -> bytes:
        if not self._needles or (self.hits and self.hits[-1] == name):
            return b""
        window = tail + data[: self._overlap] if tail else b""
        if any(n in data or (window and n in window) for n in self._needles):
            self.hits.append(name)
        return data[-self._overlap :] if self._overlap else b""

    def _header(self, member: Member, name: str) -> None:
        info = tarfile.TarInfo(name)
        info.mtime = self._mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if member.kind == "dir":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        elif member.kind == "symlink":
            info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o644, member.link_target
        else:
            info.type, info.size = tarfile.REGTYPE, member.size
            info.mode = 0o755 if member.executable else 0o644
        self._emit(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % _BLOCK:
            self._emit(b"\0" * (_BLOCK - size % _BLOCK))

    def _emit(self, data: bytes, *, native: bool = False) -> None:
        if self._stop is not None and self._stop.is_set():
            raise PublishCancelled
        self.written += len(data)
        self._out.write(data, native=native)


def archive_name(install_target: str, fmt: ArchiveFormat, *, tag: tuple[str, int] | None = None) -> str:
    """``<install target>.<ext>``, or ``<install target>-<platform>-<build>.<ext>`` when tagged."""
    if tag is None:
        return f"{install_target}.{fmt}"
    platform, build = tag
    return f"{install_target}-{platform}-{build}.{fmt}"
