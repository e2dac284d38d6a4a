from __future__ import annotations

import dataclasses
import io
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx2
import pytest

from pdm_stack.errors import StackError
from pdm_stack.reporting import NullReporter, PlainReporter
from pdm_stack.runtimes.download import fetch_archive
from pdm_stack.runtimes.pbs import RuntimeArchive, resolve_pbs_archive
from pdm_stack.runtimes.pdm_installs import find_pdm_installs
from pdm_stack.runtimes.requests import RuntimeRequest
from pdm_stack.runtimes.unpack import register_in_pdm_install_root
from tests.runtimes.pbs_archives import build_pbs_archive, pbs_filename

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fixtures.http_server import LocalHTTPServer

SERVED_NAME = pbs_filename("3.11.7")


@pytest.fixture
def served(http_server: LocalHTTPServer) -> RuntimeArchive:
    """A fake PBS archive on the local server, described the way resolve_pbs_archive would."""
    _, sha = build_pbs_archive(http_server.root, "3.11.7")
    return RuntimeArchive(
        url=http_server.url_for(quote(SERVED_NAME, safe="")),
        sha256=sha,
        filename=SERVED_NAME,
        version="3.11.7",
    )


def cache_contents(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_download_verify_and_cache_hit(
    served: RuntimeArchive, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    out = io.StringIO()
    path = fetch_archive(served, cache, PlainReporter(verbosity=1, stream=out))
    assert path == cache / SERVED_NAME
    assert path.read_bytes() == (http_server.root / SERVED_NAME).read_bytes()
    assert http_server.request_count == 1
    assert cache_contents(cache) == [SERVED_NAME]
    log = out.getvalue()
    assert f"Downloading {SERVED_NAME}" in log
    assert "B)" in log  # size, e.g. "(1.2 KiB)"
    assert "sha256 verified" in log

    out = io.StringIO()
    assert fetch_archive(served, cache, PlainReporter(verbosity=1, stream=out)) == path
    assert http_server.request_count == 1  # cache hit: no request at all
    assert "Using cached" in out.getvalue()


def test_wrong_checksum_is_rejected_and_nothing_is_cached(
    served: RuntimeArchive, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    wrong = dataclasses.replace(served, sha256="0" * 64)
    with pytest.raises(StackError) as info:
        fetch_archive(wrong, cache, NullReporter())
    message = str(info.value)
    assert "checksum mismatch" in message
    assert "0" * 64 in message and served.sha256 in message
    assert "discarded" in message
    assert cache_contents(cache) == []


def test_corrupted_cache_entry_is_replaced(
    served: RuntimeArchive, http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / SERVED_NAME).write_bytes(b"garbage")
    out = io.StringIO()
    path = fetch_archive(served, cache, PlainReporter(stream=out))
    assert path.read_bytes() == (http_server.root / SERVED_NAME).read_bytes()
    assert http_server.request_count == 1
    assert "WARNING" in out.getvalue()


def test_truncated_download(served: RuntimeArchive, http_server: LocalHTTPServer, tmp_path: Path) -> None:
    http_server.truncate["/" + SERVED_NAME] = 100
    cache = tmp_path / "cache"
    with pytest.raises(StackError, match="truncated") as info:
        fetch_archive(served, cache, NullReporter())
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert cache_contents(cache) == []


def test_http_404(http_server: LocalHTTPServer, tmp_path: Path) -> None:
    archive = RuntimeArchive(http_server.url_for("missing.tar.gz"), "a" * 64, "missing.tar.gz", "3.11.7")
    with pytest.raises(StackError) as info:
        fetch_archive(archive, tmp_path / "cache", NullReporter())
    assert str(info.value) == f"cannot download missing.tar.gz: HTTP 404 from {archive.url}"
    assert info.value.__context__ is None  # raised directly, no chained traceback
    assert cache_contents(tmp_path / "cache") == []


def test_unreachable_host_suggests_a_mirror(unreachable_url: str, tmp_path: Path) -> None:
    archive = RuntimeArchive(f"{unreachable_url}/x.tar.gz", "a" * 64, "x.tar.gz", "3.11.7")
    with pytest.raises(StackError) as info:
        fetch_archive(archive, tmp_path / "cache", NullReporter())
    message = str(info.value)
    assert message.startswith("cannot reach 127.0.0.1 to download x.tar.gz")
    assert "stack.runtime_mirror" in message and "PDM_STACK_RUNTIME_MIRROR" in message
    assert "\n" not in message
    assert cache_contents(tmp_path / "cache") == []


def test_credentials_in_urls_are_not_shown(http_server: LocalHTTPServer, tmp_path: Path) -> None:
    url = http_server.url_for("missing.tar.gz").replace("http://", "http://user:secret@")
    archive = RuntimeArchive(url, "a" * 64, "missing.tar.gz", "3.11.7")
    with pytest.raises(StackError, match="HTTP 404") as info:
        fetch_archive(archive, tmp_path / "cache", NullReporter())
    assert "secret" not in str(info.value)


def _clients() -> list[Any]:
    """httpx2 (PDM 2.29.4 and later) and, where installed, httpx (the session of earlier PDMs)."""
    clients = [pytest.param(httpx2.Client, id="httpx2")]
    try:
        import httpx
    except ImportError:
        return clients
    return [*clients, pytest.param(httpx.Client, id="httpx (PDM's session before 2.29.4)")]


@pytest.mark.parametrize("make_client", _clients())
def test_caller_supplied_clients(
    make_client: Any,
    served: RuntimeArchive,
    http_server: LocalHTTPServer,
    tmp_path: Path,
) -> None:
    with make_client(follow_redirects=True) as client:
        path = fetch_archive(served, tmp_path / "cache", NullReporter(), client=client)
        assert path.is_file()
        missing = dataclasses.replace(served, url=http_server.url_for("nope.tar.gz"), filename="nope.tar.gz")
        with pytest.raises(StackError, match="HTTP 404"):
            fetch_archive(missing, tmp_path / "cache", NullReporter(), client=client)
    assert http_server.request_count == 2


@pytest.mark.parametrize("layout", ["flat", "release"])
def test_mirror_url_enforces_the_table_checksum(
    http_server: LocalHTTPServer, tmp_path: Path, layout: str
) -> None:
    request = RuntimeRequest.parse("cpython@3.11.7")
    mirror = f"{http_server.url}/pbs" + ("/{tag}" if layout == "release" else "")
    upstream = resolve_pbs_archive(request, "linux_x86_64", mirror)
    # The mirror serves other bytes under the upstream name: rejected by the table's sha256.
    folder = http_server.root / "pbs" / ("20240107" if layout == "release" else "")
    folder.mkdir(parents=True)
    _, fake_sha = build_pbs_archive(folder, "3.11.7")
    (folder / SERVED_NAME).rename(folder / upstream.filename)
    with pytest.raises(StackError, match="checksum mismatch"):
        fetch_archive(upstream, tmp_path / "cache", NullReporter())
    assert cache_contents(tmp_path / "cache") == []
    # With the fake archive's checksum the same URL is fetched fine: the layout mapping works.
    accepted = dataclasses.replace(upstream, sha256=fake_sha)
    assert fetch_archive(accepted, tmp_path / "cache", NullReporter()).name == upstream.filename
    assert http_server.requests[-1].endswith("/" + upstream.filename)


@pytest.mark.parametrize("as_uri", [True, False], ids=["file-url", "plain-path"])
def test_local_directory_mirror(tmp_path: Path, as_uri: bool) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    request = RuntimeRequest.parse("cpython@3.11.7")
    upstream = resolve_pbs_archive(request, "linux_x86_64", mirror.as_uri() if as_uri else str(mirror))
    _, fake_sha = build_pbs_archive(mirror, "3.11.7")
    (mirror / SERVED_NAME).rename(mirror / upstream.filename)
    with pytest.raises(StackError, match="checksum mismatch"):
        fetch_archive(upstream, tmp_path / "cache", NullReporter())
    assert cache_contents(tmp_path / "cache") == []
    accepted = dataclasses.replace(upstream, sha256=fake_sha)
    if not as_uri:
        accepted = dataclasses.replace(accepted, url=str(mirror / upstream.filename))
    path = fetch_archive(accepted, tmp_path / "cache", NullReporter())
    assert path.read_bytes() == (mirror / upstream.filename).read_bytes()


def test_local_file_not_found(tmp_path: Path) -> None:
    archive = RuntimeArchive((tmp_path / "gone.tar.gz").as_uri(), "a" * 64, "gone.tar.gz", "3.11.7")
    with pytest.raises(StackError, match="not found at"):
        fetch_archive(archive, tmp_path / "cache", NullReporter())
    assert cache_contents(tmp_path / "cache") == []


@pytest.mark.parametrize("filename", ["", "..", "a/b.tar.gz"])
def test_unsafe_filenames_are_refused(tmp_path: Path, filename: str) -> None:
    with pytest.raises(StackError, match="invalid runtime archive file name"):
        fetch_archive(
            RuntimeArchive("https://x.invalid/a", "a" * 64, filename, "3.11.7"), tmp_path, NullReporter()
        )


def test_fetch_then_register_for_pdm(served: RuntimeArchive, tmp_path: Path) -> None:
    archive_file = fetch_archive(served, tmp_path / "cache", NullReporter())
    root = tmp_path / "pythons"
    folder = register_in_pdm_install_root(archive_file, root, RuntimeRequest.parse("3.11"))
    assert folder == root / "cpython@3.11.7"
    assert find_pdm_installs(root, RuntimeRequest.parse("3.11")) == [("3.11.7", folder)]
