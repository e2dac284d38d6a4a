"""Unpacking python-build-standalone archives, atomically and without trusting their member names.

Archives come from the network or from mirrors, so every member is checked before anything is
written: absolute names, ``..`` components and links pointing out of the tree are refused (the
stdlib's ``data`` extraction filter is applied on top where available). Unpacking happens in a
hidden sibling folder that is renamed into place at the end, so the destination either holds a
complete runtime or does not exist: nothing half-unpacked is ever seen by ``pdm python list`` or by
a later run that checks only for the folder.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

import zstandard

from pdm_stack.errors import StackError
from pdm_stack.runtimes.pdm_installs import interpreter_path
from pdm_stack.runtimes.requests import RuntimeRequest

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["archive_version", "register_in_pdm_install_root", "unpack_runtime_archive"]

_ARCHIVE_VERSION_RE = re.compile(r"^cpython-(?P<version>\d+\.\d+\.\d+)[+-]")
_TarMode = Literal["r:gz", "r:bz2", "r:xz", "r:", "r:*"]
_TAR_MODES: tuple[tuple[str, _TarMode], ...] = (
    (".tar.gz", "r:gz"),
    (".tgz", "r:gz"),
    (".tar.bz2", "r:bz2"),
    (".tar.xz", "r:xz"),
    (".tar", "r:"),
)
_ZSTD_SUFFIXES = (".tar.zst", ".tar.zstd")
_CORRUPT_NAMES = ("BadGzipFile", "ZstdError", "LZMAError", "BadZipFile", "error")


class _UnsafeMember(Exception):
    """A member that would write outside the destination; never extracted."""


@contextlib.contextmanager
def _open_tar(archive_file: Path, name: str) -> Iterator[tarfile.TarFile]:
    """The archive as a seekable ``tarfile``; ``.tar.zst`` through ``zstandard`` (a dependency).

    Members are checked before anything is extracted, which takes two passes: a zstd archive
    is decompressed into an anonymous temporary file first (zstd streams cannot seek back).
    """
    if not name.endswith(_ZSTD_SUFFIXES):
        # An explicit mode gives "not a gzip file" rather than a list of every format tarfile tried.
        mode: _TarMode = next((m for suffix, m in _TAR_MODES if name.endswith(suffix)), "r:*")
        with tarfile.open(archive_file, mode) as tf:
            yield tf
        return
    with archive_file.open("rb") as compressed, tempfile.TemporaryFile() as plain:
        zstandard.ZstdDecompressor().copy_stream(compressed, plain)
        plain.seek(0)
        with tarfile.open(fileobj=plain, mode="r:") as tf:
            yield tf


def _strip_top(name: str) -> str | None:
    """The member path without the archive's top folder (``python/``); None for the folder itself."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise _UnsafeMember(f"absolute path {name!r}")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _UnsafeMember(f"path with '..' {name!r}")
    if len(parts) <= 1:
        return None
    return "/".join(parts[1:])


def _check_link(name: str, target: str) -> None:
    """Refuse symlinks whose target leaves the stripped tree (the runtime must be self-contained)."""
    if target.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", target):
        raise _UnsafeMember(f"link {name!r} to absolute path {target!r}")
    resolved = posixpath.normpath(PurePosixPath(name).parent.joinpath(target.replace("\\", "/")).as_posix())
    if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
        raise _UnsafeMember(f"link {name!r} pointing outside the runtime ({target!r})")


def _filter_tar_member(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    new_name = _strip_top(member.name)
    if new_name is None:
        return None
    changes: dict[str, str] = {"name": new_name}
    if member.issym():
        _check_link(new_name, member.linkname)
    elif member.islnk():
        link = _strip_top(member.linkname)
        if link is None:
            raise _UnsafeMember(f"hard link {member.name!r} to {member.linkname!r}")
        changes["linkname"] = link
    elif not (member.isfile() or member.isdir()):
        raise _UnsafeMember(f"special file {member.name!r}")
    stripped: tarfile.TarInfo = member.replace(**changes, deep=False)  # type: ignore[arg-type]
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:  # Python < 3.11.4: our own checks above still apply
        return stripped
    try:
        filtered: tarfile.TarInfo | None = data_filter(stripped, dest)
    except tarfile.FilterError as exc:
        raise _UnsafeMember(str(exc)) from None
    return filtered


def _unpack_tar(archive_file: Path, dest: Path, name: str) -> None:
    with _open_tar(archive_file, name) as tf:
        members = []
        for member in tf.getmembers():
            filtered = _filter_tar_member(member, os.fspath(dest))
            if filtered is not None:
                members.append(filtered)
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, members=members, filter="fully_trusted")
        else:  # pragma: no cover - Python < 3.11.4
            tf.extractall(dest, members=members)
    # tarfile leaves symlinks with the extraction time; use the archive's, or trees (and the
    # layer archives built from them) would differ from one unpack to the next.
    if os.utime in os.supports_follow_symlinks:
        for member in members:
            if member.issym():
                os.utime(dest / member.name, (member.mtime, member.mtime), follow_symlinks=False)


def _unpack_zip(archive_file: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive_file) as zf:
        for info in zf.infolist():
            new_name = _strip_top(info.filename)
            if new_name is None:
                continue
            mode = (info.external_attr >> 16) & 0o777
            info.filename = new_name + ("/" if info.is_dir() else "")
            extracted = zf.extract(info, dest)
            if mode and not info.is_dir():
                Path(extracted).chmod((mode & 0o755) | stat.S_IRUSR | stat.S_IWUSR)


def _has_interpreter(root: Path) -> bool:
    for base in (root, root / "install"):
        if (base / "python.exe").exists() or any(base.glob("bin/python3*")):
            return True
    return False


def _rmtree(path: Path) -> None:
    """Remove a tree even if the archive made some of its folders read-only."""
    for folder, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            Path(folder).chmod(stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


def _is_corruption(exc: BaseException) -> bool:
    if isinstance(exc, (tarfile.TarError, zipfile.BadZipFile, EOFError)):
        return True
    return any(cls.__name__ in _CORRUPT_NAMES for cls in type(exc).__mro__ if cls.__module__ != "builtins")


def unpack_runtime_archive(archive_file: Path, dest: Path, original_filename: str | None = None) -> None:
    """Unpack a PBS archive into ``dest`` (which must not exist), dropping the top ``python/`` folder.

    ``original_filename`` tells the format when ``archive_file`` was saved under another name, as
    in ``pbs_installer.install_file``.
    """
    name = original_filename or archive_file.name
    if dest.exists() or dest.is_symlink():
        raise StackError(f"cannot unpack runtime archive {name}: {dest} already exists")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    except OSError as exc:
        raise StackError(f"cannot unpack runtime archive {name} into {dest}: {exc.strerror or exc}") from None
    try:
        try:
            if name.endswith(".zip"):
                _unpack_zip(archive_file, tmp)
            else:
                _unpack_tar(archive_file, tmp, name)
        except _UnsafeMember as exc:
            raise StackError(f"runtime archive {name} contains an unsafe member: {exc}") from None
        except FileNotFoundError:
            if not archive_file.exists():
                raise StackError(f"runtime archive {archive_file} does not exist") from None
            raise
        except Exception as exc:
            if not _is_corruption(exc):
                raise
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StackError(f"runtime archive {name} is corrupt or truncated: {detail}") from None
        if not _has_interpreter(tmp):
            raise StackError(
                f"runtime archive {name} holds no Python runtime (no python/bin/python3 or python/python.exe)"
            )
        try:
            tmp.chmod(0o755)  # mkdtemp makes it private; a runtime folder is not
            tmp.rename(dest)
        except OSError as exc:
            raise StackError(
                f"cannot move unpacked runtime {name} to {dest}: {exc.strerror or exc}"
                + (" (it was created meanwhile)" if dest.exists() else "")
            ) from None
    except BaseException:
        _rmtree(tmp)
        raise


def archive_version(filename: str) -> str | None:
    """The full version a PBS archive holds, from its upstream file name (``cpython-3.11.7+...``)."""
    match = _ARCHIVE_VERSION_RE.match(filename)
    if match is None:
        return None
    return match["version"] + ("t" if "freethreaded" in filename else "")


def register_in_pdm_install_root(
    archive_file: Path,
    install_root: Path,
    request_or_version: RuntimeRequest | str,
    *,
    original_filename: str | None = None,
) -> Path:
    """Make the runtime in ``archive_file`` a PDM-managed interpreter; return its folder.

    The folder is named as ``pdm python install`` would name it (``cpython@3.11.7``) so ``pdm
    python list`` and ``pdm use`` find it and PDM does not download it again. An existing complete
    folder is reused as is. Unlike ``pdm python install`` this does not rewrite the runtime's
    ``_sysconfigdata`` prefixes: front ends that want that can call PDM's ``sysconfig_patcher``.
    """
    if isinstance(request_or_version, RuntimeRequest):
        request = request_or_version
    else:
        try:
            request = RuntimeRequest.parse(request_or_version)
        except ValueError as exc:
            raise StackError(str(exc)) from None
    name = original_filename or archive_file.name
    from_name = archive_version(name)
    if request.is_exact:
        version = request.version + ("t" if request.free_threaded else "")
        if from_name is not None and from_name != version:
            raise StackError(f"runtime archive {name} holds Python {from_name}, not the requested {request}")
    elif from_name is not None and request.matches(from_name):
        version = from_name
    else:
        raise StackError(
            f"cannot tell which Python version runtime archive {name} holds for {request}; "
            "pass an exact version such as cpython@3.11.7"
        )
    folder = install_root.expanduser() / request.install_dir_name(version)
    if folder.exists() or folder.is_symlink():
        if interpreter_path(folder, windows=False) or interpreter_path(folder, windows=True):
            return folder
        raise StackError(
            f"{folder} exists but holds no complete Python runtime; remove it "
            f"(`pdm python remove {folder.name}`) and try again"
        )
    try:
        unpack_runtime_archive(archive_file, folder, original_filename=name)
    except StackError:
        # Another process may have registered the same runtime while we were unpacking.
        if interpreter_path(folder, windows=False) or interpreter_path(folder, windows=True):
            return folder
        raise
    return folder
