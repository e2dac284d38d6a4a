"""Checking a layer archive against its metadata and unpacking it without trusting it.

An archive is only a file someone handed over: its size and sha256 must match the metadata
before anything is written, and its bytes are hashed again while they are unpacked, so a file
swapped after the check is refused before anything from it runs. Members are unpacked one by
one: absolute names, ``..``, backslashes, hard links, devices and symlinks that leave TARGET
(judged by their text and again on the real file system, where a symlink already in TARGET could
lead out) are refused, and unpacking stops once the archive expands beyond what its metadata
declares (a decompression bomb never fills the disk).
Reads the three published formats (tar.gz, tar.xz; tar.zst with Python 3.14+ or ``zstandard``)
in one streaming pass. Standard library only (see ``common``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from .common import ABSOLUTE, CHUNK, FILE_WRITE, DeployError, Layer, sha256_file
from .xz_blocks import open_xz

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: Decompression errors of the optional zstd readers, added when one is imported.
_ZSTD_ERRORS: list[type[Exception]] = []


#: Without a declared unpacked size (metadata of venvstacks or of older pdm-stack versions), an
#: archive may expand to this many times its size, but always to at least MIN_EXPANSION_LIMIT:
#: far above what real layers reach (about 3x for tar.gz, 5x for tar.xz), far below a bomb's.
MAX_EXPANSION_RATIO = 100
MIN_EXPANSION_LIMIT = 256 << 20
#: Slack above a declared unpacked size (the size of the tar stream, which is exact).
EXPANSION_MARGIN = 1 << 20


def archive_format(layer: Layer) -> str:
    for suffix in ("tar.gz", "tar.xz", "tar.zst"):
        if layer.get("archive_format") == suffix or layer["archive_name"].endswith("." + suffix):
            return suffix
    raise DeployError(f"{layer['install_target']}: {layer['archive_name']}: unknown archive format")


def expansion_limit(layer: Layer) -> int:
    """How many bytes the archive's tar stream may have once decompressed."""
    declared = layer.get("archive_unpacked_size")
    if isinstance(declared, int):
        return declared + declared // 100 + EXPANSION_MARGIN
    return max(MIN_EXPANSION_LIMIT, int(layer["archive_size"]) * MAX_EXPANSION_RATIO)


def readable_format(layer: Layer) -> str:
    """The archive's format, once it is known to be one this Python can unpack."""
    fmt = archive_format(layer)
    if fmt == "tar.zst":
        _zstd_reader(Path(str(layer["archive_name"])))
    return fmt


def check_archive(artifacts: Path, layer: Layer) -> Path:
    """The archive's path once its format is readable here and its size and sha256 match the
    metadata (all before anything is created or unpacked)."""
    name: str = layer["install_target"]
    path = artifacts / str(layer["archive_name"])
    readable_format(layer)
    if not path.is_file():
        raise DeployError(f"{name}: archive {path.name} is missing from {artifacts}")
    size = path.stat().st_size
    if size != layer["archive_size"]:
        raise DeployError(
            f"{name}: archive {path.name} has {size} bytes but the metadata says"
            f" {layer['archive_size']}: refusing a modified or truncated archive"
        )
    if sha256_file(path) != layer["archive_hashes"]["sha256"]:
        raise DeployError(
            f"{name}: sha256 of {path.name} does not match the metadata: refusing a modified archive"
        )
    return path


class _HashingReader(io.RawIOBase):
    """The bytes of an open archive, hashed as the decompressor reads them: what is unpacked is
    exactly what was hashed, even if the file is replaced or rewritten after it was checked."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        view[: len(data)] = data
        self.digest.update(data)
        return len(data)

    def drain(self) -> str:
        """Hash the rest of the file (what the tar reader did not need); the sha256 of it all."""
        for chunk in iter(lambda: self._stream.read(CHUNK), b""):
            self.digest.update(chunk)
        return self.digest.hexdigest()


class _BoundedReader(io.RawIOBase):
    """The decompressed tar stream, refused once it grows past ``limit`` bytes."""

    def __init__(self, stream: io.BufferedIOBase, limit: int, archive: str) -> None:
        super().__init__()
        self._stream = stream
        self._left = limit
        self._limit = limit
        self._archive = archive

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        # One byte more than allowed tells "exactly at the limit" from "beyond it".
        data = self._stream.read(min(len(view), self._left + 1))
        if len(data) > self._left:
            raise DeployError(
                f"{self._archive}: unpacks to more than {self._limit} bytes, more than its metadata"
                " allows: refusing a decompression bomb"
            )
        self._left -= len(data)
        view[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def open_archive(
    path: Path, fmt: str, source: BinaryIO | None = None, *, limit: int | None = None
) -> Iterator[tarfile.TarFile]:
    """A streaming tar reader (one pass, no seeking) for the three published formats, reading
    ``source`` (the archive's bytes, e.g. a :class:`_HashingReader`) or else ``path``; with
    ``limit``, at most that many decompressed bytes (:class:`DeployError` beyond)."""
    with contextlib.ExitStack() as stack:
        if source is None:
            source = stack.enter_context(path.open("rb"))
        raw: io.BufferedIOBase
        if fmt == "tar.gz":
            raw = gzip.GzipFile(fileobj=source, mode="rb")  # also reads concatenated members
        elif fmt == "tar.xz":
            raw = open_xz(path, source)  # every core for multi-block streams (ours)
        else:
            raw = _zstd_reader(path)(source)
        stack.enter_context(raw)
        if limit is not None:
            raw = cast("io.BufferedIOBase", _BoundedReader(raw, limit, path.name))
        with tarfile.open(fileobj=raw, mode="r|") as tar:
            yield tar


def _remember_error(error: type[Exception]) -> None:
    if error not in _ZSTD_ERRORS:  # checked before unpacking, then opened: import once, list once
        _ZSTD_ERRORS.append(error)


def _zstd_reader(path: Path) -> Callable[[BinaryIO], io.BufferedIOBase]:
    """How to decompress a .tar.zst here; a clear error (before anything is unpacked) if we can't."""
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]  # 3.14+
    except ImportError:
        pass
    else:
        _remember_error(zstd.ZstdError)
        return lambda source: zstd.open(source, "rb")  # type: ignore[no-any-return,unused-ignore]
    try:
        import zstandard
    except ImportError:
        raise DeployError(
            f"{path.name}: unpacking .tar.zst needs Python 3.14+ or the 'zstandard' package"
            " (pip install zstandard); or publish in the default tar.xz format"
        ) from None
    _remember_error(zstandard.ZstdError)

    def open_zstd(source: BinaryIO) -> io.BufferedIOBase:
        reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True, closefd=False)
        return cast("io.BufferedIOBase", reader)

    return open_zstd


def _member_parts(name: str, top: str) -> list[str]:
    """The path parts of a member below the layer folder; rejects anything that could escape."""
    if ABSOLUTE.match(name):
        raise DeployError(f"member '{name}' has an absolute path")
    if "\\" in name:
        # A separator on Windows, a plain character elsewhere: the same archive must unpack the
        # same everywhere, and no layer needs one.
        raise DeployError(f"member '{name}' has a backslash in its name")
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        raise DeployError(f"member '{name}' contains '..'")
    if parts[0] != top:
        raise DeployError(f"member '{name}' is outside the layer folder '{top}/'")
    if any(part in ("", ".") for part in parts[1:]):
        raise DeployError(f"member '{name}' has an unusual path")
    return parts[1:]


def _check_link(name: str, depth: int, linkname: str) -> None:
    """A symlink may climb at most ``depth`` folders (up to TARGET), and only with leading
    ``..``: after descending through a possible link, a ``..`` could climb out of TARGET."""
    if not linkname:
        raise DeployError(f"symlink '{name}' has an empty target")
    if "\\" in linkname:
        raise DeployError(f"symlink '{name}' -> '{linkname}' has a backslash in its target")
    if ABSOLUTE.match(linkname):
        raise DeployError(f"symlink '{name}' -> '{linkname}' is absolute")
    parts = [part for part in linkname.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if ".." in parts[ups:] or ups > depth:
        raise DeployError(f"symlink '{name}' -> '{linkname}' points outside the deployment folder")


def extract_layer(
    archive: Path, fmt: str, top: str, dest: Path, *, sha256: str | None = None, limit: int | None = None
) -> dict[str, str]:
    """Unpack the ``top/...`` members into the empty folder ``dest``; returns the file manifest.

    ``dest`` lies beside the final layer folder, so relative symlinks are judged as they will
    resolve there. Nothing is extracted through a symlink (no member may lie below one) and
    files are created exclusively, so duplicate members cannot overwrite what was checked.
    Manifest values: ``sha256:<hex>`` or ``symlink:<target>``. With ``sha256``, the bytes read
    from the archive while unpacking must have that digest: a file swapped or rewritten after
    :func:`check_archive` is refused, and nothing from it runs. With ``limit``, unpacking stops
    with :class:`DeployError` once the decompressed tar stream exceeds that many bytes.
    """
    manifest: dict[str, str] = {}
    links: set[str] = set()
    dirs: list[tuple[Path, int]] = []
    try:
        with archive.open("rb") as stream:
            source = _HashingReader(stream)
            with open_archive(archive, fmt, cast("BinaryIO", source), limit=limit) as tar:
                for member in tar:
                    parts = _member_parts(member.name, top)
                    try:
                        _extract_member(tar, member, parts, dest, links, manifest, dirs)
                    except OSError as exc:
                        if exc.errno is None:
                            raise  # a decompression error: a damaged archive
                        problem = "cannot be unpacked"
                        if isinstance(exc, FileExistsError):
                            problem = "clashes with an earlier member"
                        raise DeployError(
                            f"{archive.name}: member '{member.name}' {problem} ({exc.strerror})"
                        ) from None
            digest = source.drain()
    except Exception as exc:
        damaged: tuple[type[Exception], ...] = (
            tarfile.TarError,
            EOFError,
            lzma.LZMAError,
            zlib.error,
            OSError,
        )
        damaged += tuple(_ZSTD_ERRORS)
        if not isinstance(exc, damaged) or (isinstance(exc, OSError) and exc.errno is not None):
            raise  # our own errors, or a problem reading the archive file
        raise DeployError(f"{archive.name}: damaged archive ({exc})") from None
    if sha256 is not None and digest != sha256:
        raise DeployError(
            f"{archive.name}: the archive changed while it was unpacked (its sha256 no longer"
            " matches the metadata): refusing a modified archive"
        )
    _check_links_on_disk(dest, top, links)
    for path, mtime in reversed(dirs):
        path.chmod(0o755)
        os.utime(path, (mtime, mtime))
    return manifest


def _check_links_on_disk(dest: Path, top: str, links: set[str]) -> None:
    """Every symlink, followed on the real file system, must stay inside TARGET (``dest``'s
    parent): a symlink already in TARGET (``TARGET/peer -> /elsewhere``) or a chain of the
    layer's own links could lead out where their text alone does not. Checked once all links
    exist, since the archive's order decides which link is unpacked first."""
    root = os.path.realpath(dest.parent)
    for relative in sorted(links):
        resolved = os.path.realpath(dest.joinpath(*relative.split("/")))
        try:
            inside = os.path.commonpath([root, resolved]) == root
        except ValueError:  # another drive (Windows)
            inside = False
        if not inside:
            raise DeployError(
                f"symlink '{top}/{relative}' leads outside the deployment folder on this"
                f" machine (to {resolved})"
            )


def _extract_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    parts: list[str],
    dest: Path,
    links: set[str],
    manifest: dict[str, str],
    dirs: list[tuple[Path, int]],
) -> None:
    relative = "/".join(parts)
    if any("/".join(parts[:i]) in links for i in range(1, len(parts) + 1)):
        raise DeployError(f"member '{member.name}' lies inside or replaces a symlink")
    path = dest.joinpath(*parts)
    if member.isdir():
        path.mkdir(parents=True, exist_ok=True)
        dirs.append((path, int(member.mtime)))
        return
    if not parts:
        raise DeployError(f"member '{member.name}' must be the layer folder")
    if member.islnk():
        raise DeployError(f"member '{member.name}' is a hard link")
    if not (member.issym() or member.isfile()):
        raise DeployError(f"member '{member.name}' is a device, FIFO or other special file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if member.issym():
        _check_link(member.name, len(parts), member.linkname)
        path.symlink_to(member.linkname)
        links.add(relative)
        manifest[relative] = "symlink:" + member.linkname
    else:
        manifest[relative] = "sha256:" + _write_file(tar, member, path)


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> str:
    source = tar.extractfile(member)
    if source is None:
        raise DeployError(f"member '{member.name}' has no content")
    digest = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
        for chunk in iter(lambda: source.read(FILE_WRITE), b""):
            digest.update(chunk)
            out.write(chunk)
    path.chmod(0o755 if member.mode & 0o111 else 0o644)
    os.utime(path, (member.mtime, member.mtime))
    return digest.hexdigest()
