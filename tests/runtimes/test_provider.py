"""Where a runtime comes from, as far as it shows in messages and in the recorded provenance, and
what the one-line error says when no source has it."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

from pdm_stack.errors import StackError
from pdm_stack.reporting import NullReporter, PlainReporter
from pdm_stack.runtimes.provider import RuntimeSettings, obtain_runtime
from pdm_stack.stack_spec.model import LayerKind, LayerSpec, RuntimeArchiveSpec
from tests.runtimes.pbs_archives import build_pbs_archive, pbs_filename

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fixtures.http_server import LocalHTTPServer

SECRET = "s3cr3t-pa55"
NAME = pbs_filename("3.11.7")


def with_credentials(url: str) -> str:
    return url.replace("http://", f"http://deployer:{SECRET}@", 1)


def settings(tmp_path: Path, mirror: str | None = None) -> RuntimeSettings:
    return RuntimeSettings(
        cache_dir=tmp_path / "cache",
        mirror=mirror,
        local_runtime="never",
        platform="linux_x86_64",
    )


@pytest.fixture
def served_sha(http_server: LocalHTTPServer) -> str:
    """A fake PBS archive at ``/<NAME>`` and ``/pbs/<NAME>`` of the local server; its sha256."""
    _, sha256 = build_pbs_archive(http_server.root, "3.11.7")
    (http_server.root / "pbs").mkdir()
    build_pbs_archive(http_server.root / "pbs", "3.11.7")
    return sha256


def test_credentials_of_a_custom_runtime_archive_are_neither_shown_nor_recorded(
    http_server: LocalHTTPServer, served_sha: str, tmp_path: Path
) -> None:
    public = http_server.url_for(quote(NAME, safe=""))
    layer = LayerSpec(
        LayerKind.RUNTIME,
        "cpython-3.11",
        python_implementation="cpython@3.11.7",
        runtime_archive=RuntimeArchiveSpec(with_credentials(public), served_sha),
    )
    output = io.StringIO()
    obtained = obtain_runtime(layer, settings(tmp_path), PlainReporter(verbosity=2, stream=output))
    assert SECRET not in output.getvalue()
    assert "***@127.0.0.1" in output.getvalue()  # the user still sees that credentials were used
    assert obtained.source.location == public
    assert SECRET not in repr(obtained.source.to_json())


def test_credentials_of_a_runtime_mirror_are_neither_shown_nor_recorded(
    http_server: LocalHTTPServer, served_sha: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def get_download_link(request: str, **kwargs: Any) -> Any:
        from pbs_installer import PythonVersion

        url = f"https://github.invalid/releases/download/20240107/{quote(NAME, safe='')}"
        return PythonVersion("cpython", 3, 11, 7), (url, served_sha)

    monkeypatch.setattr("pbs_installer.get_download_link", get_download_link)
    layer = LayerSpec(LayerKind.RUNTIME, "cpython-3.11", python_implementation="cpython@3.11.7")
    mirror = with_credentials(f"{http_server.url}/pbs")
    output = io.StringIO()
    obtained = obtain_runtime(layer, settings(tmp_path, mirror), PlainReporter(verbosity=2, stream=output))
    assert SECRET not in output.getvalue()
    assert obtained.source.location == f"{http_server.url}/pbs/{quote(NAME, safe='')}"

    # A mirror layout that cannot be used is reported without the password too.
    monkeypatch.setattr("pdm_stack.runtimes.pbs.release_tag", lambda url, filename: None)
    with pytest.raises(StackError) as info:
        obtain_runtime(layer, settings(tmp_path, mirror + "/{tag}"), PlainReporter(stream=io.StringIO()))
    assert SECRET not in str(info.value)
    assert "***@" in str(info.value)


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="needs a 3.11 release newer than the running one")
def test_an_exact_version_no_source_has_says_which_versions_there_are(tmp_path: Path) -> None:
    """``cpython@3.11.10`` offline, with only 3.11.7 on the machine: the line itself says so."""
    wanted = f"3.11.{sys.version_info[2] + 1}"
    running = "{}.{}.{}".format(*sys.version_info[:3])
    layer = LayerSpec(LayerKind.RUNTIME, "rt", python_implementation=f"cpython@{wanted}")
    fallback = RuntimeSettings(
        cache_dir=tmp_path / "cache",
        mirror=str(tmp_path / "empty-mirror"),  # the download fails at once, offline
        local_runtime="fallback",
        platform="linux_x86_64",
    )
    with pytest.raises(StackError) as caught:
        obtain_runtime(layer, fallback, NullReporter())
    line = str(caught.value)
    assert "\n" not in line
    assert f"no PDM install or local CPython is {wanted}" in line, line
    assert running in line and "'cpython@3.11'" in line, line
    assert caught.value.layer == "runtime 'rt'" and caught.value.field == "python_implementation"
