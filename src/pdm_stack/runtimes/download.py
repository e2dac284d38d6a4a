"""Fetching runtime archives into a content-verified cache.

A runtime archive is tens of megabytes and every layer built on it is only reproducible if its
bytes are exactly the upstream ones, so the cache holds nothing but verified files: downloads go to
a hidden temporary file beside the final one, are hashed while they stream, and are renamed into
place only when the sha256 matches. A crash, a truncated transfer or a mirror serving other bytes
therefore never leaves a file that a later run could mistake for a good one.

The HTTP client is passed in (PDM's session carries its proxies, certificates and trust settings);
only ``stream("GET", url)`` and the response's ``status_code``, ``headers`` and ``iter_bytes`` are
used, so both httpx and httpx2 clients work.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol, cast
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pdm_stack.atomic_files import atomic_output
from pdm_stack.errors import StackError
from pdm_stack.file_digests import file_sha256
from pdm_stack.indexes import mask_credentials, strip_credentials
from pdm_stack.runtimes.pbs import MIRROR_CONFIG_KEY, MIRROR_ENV_VAR

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from contextlib import AbstractContextManager

    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.pbs import RuntimeArchive

__all__ = ["fetch_archive"]

_CHUNK = 1 << 16
_HTTP_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "h11"})
_UNREACHABLE = frozenset({"ConnectError", "ConnectTimeout", "PoolTimeout", "ProxyError", "NetworkError"})
_INTERRUPTED = frozenset({"ReadError", "ReadTimeout", "RemoteProtocolError", "TimeoutException"})


class _Response(Protocol):
    status_code: int

    @property
    def headers(self) -> Mapping[str, str]: ...

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]: ...


class _Client(Protocol):
    def stream(self, method: str, url: str) -> AbstractContextManager[_Response]: ...


class _Sink:
    """Writes to the temporary file and hashes in the same pass, so big files are read once."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _human_size(size: int | None) -> str:
    if size is None:
        return "unknown size"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _shown(url: str) -> str:
    """A mirror URL as messages and CI logs may show it: credentials masked."""
    return strip_credentials(url, mask=True)


def _local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path points to; None for remote URLs."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StackError(
                f"cannot read runtime archive from {_shown(url)}: file:// URLs with a host are not supported"
            )
        return Path(url2pathname(parts.path))
    if len(parts.scheme) <= 1:  # no scheme, or a Windows drive letter
        return Path(url).expanduser()
    if parts.scheme in ("http", "https"):
        return None
    raise StackError(f"cannot download runtime archive from {_shown(url)}: unsupported URL scheme")


def _mirror_hint(host: str) -> str:
    return (
        f"if {host} is not reachable from this machine, configure a mirror with "
        f"`pdm config {MIRROR_CONFIG_KEY} <URL or directory>` or the {MIRROR_ENV_VAR} environment variable"
    )


def _error_names(exc: BaseException) -> set[str] | None:
    """Class names of an httpx/httpx2 error, or None for anything else (bugs must not be hidden)."""
    if type(exc).__module__.split(".")[0] not in _HTTP_PACKAGES:
        return None
    return {cls.__name__ for cls in type(exc).__mro__}


def _copy_local(source: Path, sink: _Sink, archive: RuntimeArchive, reporter: Reporter) -> None:
    try:
        size: int | None = source.stat().st_size
    except OSError:
        size = None
    reporter.info(f"Copying {archive.filename} ({_human_size(size)}) from {source.parent}")
    try:
        with source.open("rb") as f:
            while chunk := f.read(_CHUNK):
                sink.write(chunk)
    except FileNotFoundError:
        raise StackError(f"runtime archive {archive.filename} not found at {source}") from None
    except OSError as exc:
        raise StackError(f"cannot read runtime archive {source}: {exc.strerror or exc}") from None
    if size is not None and sink.size != size:
        raise StackError(f"runtime archive {source} changed while it was copied; try again")


def _download(archive: RuntimeArchive, sink: _Sink, reporter: Reporter, client: object | None) -> None:
    url = archive.url
    shown = _shown(url)
    host = urlsplit(url).hostname or url
    owned = None
    if client is None:
        import httpx2

        owned = httpx2.Client(
            trust_env=True, follow_redirects=True, timeout=httpx2.Timeout(60.0, connect=15.0)
        )
        client = owned
    http = cast("_Client", client)
    total: int | None = None
    responded = False
    try:
        with http.stream("GET", url) as resp:
            responded = True
            if resp.status_code != 200:
                raise StackError(f"cannot download {archive.filename}: HTTP {resp.status_code} from {shown}")
            length = resp.headers.get("content-length")
            if length is not None and length.isdigit() and not resp.headers.get("content-encoding"):
                total = int(length)
            reporter.info(f"Downloading {archive.filename} ({_human_size(total)}) from {host}")
            reporter.detail(f"URL: {shown}")
            next_mark = 25
            for chunk in resp.iter_bytes(chunk_size=_CHUNK):
                sink.write(chunk)
                percent = sink.size * 100 // total if total else 0
                if next_mark <= percent < 100:
                    reporter.detail(f"  {archive.filename}: {percent}% of {_human_size(total)}")
                    next_mark = (percent // 25 + 1) * 25
    except StackError:
        raise
    except Exception as exc:
        names = _error_names(exc)
        if names is None:
            raise
        # The HTTP client's own messages may quote the request URL, credentials included.
        problem = mask_credentials(str(exc)) or type(exc).__name__
        if "HTTPStatusError" in names:
            status = getattr(getattr(exc, "response", None), "status_code", "error")
            raise StackError(f"cannot download {archive.filename}: HTTP {status} from {shown}") from None
        if responded and names & (_INTERRUPTED | _UNREACHABLE):
            raise StackError(
                f"download of {archive.filename} ({_human_size(total)}) from {host} was truncated "
                f"({problem}); the partial file was discarded"
            ) from None
        if names & (_INTERRUPTED | _UNREACHABLE):
            raise StackError(
                f"cannot reach {host} to download {archive.filename} ({problem}); " + _mirror_hint(host)
            ) from None
        raise StackError(f"cannot download {archive.filename} from {shown}: {problem}") from None
    finally:
        if owned is not None:
            owned.close()
    if total is not None and sink.size != total:
        raise StackError(
            f"download of {archive.filename} from {host} was truncated: got {sink.size} of {total} "
            "bytes; the partial file was discarded"
        )


def fetch_archive(
    archive: RuntimeArchive, cache_dir: Path, reporter: Reporter, client: object | None = None
) -> Path:
    """Return ``cache_dir/<archive.filename>`` with the sha256 from ``archive``, fetching it if needed.

    A cached file is re-hashed rather than trusted by name (cheap next to a download, and it catches
    a cache edited by hand); a cached file with other bytes is replaced. ``archive.url`` may be
    http(s), ``file://`` or a plain path (a local mirror); local files are copied so the cache stays
    self-contained when the mirror moves.
    """
    name = archive.filename
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise StackError(f"invalid runtime archive file name {name!r}")
    expected = archive.sha256.lower()
    target = cache_dir / name
    if target.is_file():
        got = file_sha256(target)
        if got == expected:
            reporter.detail(f"Using cached {name}")
            return target
        reporter.warn(f"cached {target} has sha256 {got}, expected {expected}; fetching it again")

    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StackError(f"cannot write to runtime cache {cache_dir}: {exc.strerror or exc}") from None
    started = time.monotonic()
    try:
        with atomic_output(target) as out:
            sink = _Sink(out)
            source = _local_path(archive.url)
            if source is None:
                _download(archive, sink, reporter, client)
            else:
                _copy_local(source, sink, archive, reporter)
            out.flush()
            os.fsync(out.fileno())
            got = sink.hexdigest()
            if got != expected:
                raise StackError(
                    f"checksum mismatch for {name} from {_shown(archive.url)}: expected sha256 {expected}, "
                    f"got {got}; the file was discarded"
                )
    except OSError as exc:
        raise StackError(f"cannot write {name} to runtime cache {cache_dir}: {exc.strerror or exc}") from None
    reporter.info(
        f"Fetched {name} ({_human_size(sink.size)}) in {time.monotonic() - started:.1f}s, sha256 verified"
    )
    return target
