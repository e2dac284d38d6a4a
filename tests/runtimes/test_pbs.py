from __future__ import annotations

import socket
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import pytest

from pdm_stack.errors import StackError
from pdm_stack.runtimes.pbs import RuntimeArchive, release_tag, resolve_pbs_archive
from pdm_stack.runtimes.requests import RuntimeRequest
from pdm_stack.stack_spec.field_values import PLATFORMS

if TYPE_CHECKING:
    from pathlib import Path

FILENAME_3117 = "cpython-3.11.7+20240107-x86_64-unknown-linux-gnu-install_only.tar.gz"
SHA_3117 = "4a51ce60007a6facf64e5495f4cf322e311ba9f39a8cd3f3e4c026eae488e140"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolving must work from pbs-installer's bundled table alone."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("resolve_pbs_archive tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def resolve(text: str, platform: str = "linux_x86_64", mirror: str | None = None) -> RuntimeArchive:
    return resolve_pbs_archive(RuntimeRequest.parse(text), platform, mirror)


def test_resolves_cpython_3_11_7_from_the_bundled_table() -> None:
    archive = resolve("cpython@3.11.7")
    assert archive.filename == FILENAME_3117
    assert archive.sha256 == SHA_3117
    assert archive.version == "3.11.7"
    # The URL is GitHub's, unless PBS_INSTALLER_BASE_URL was set when pbs-installer was imported.
    assert unquote(archive.url).endswith("/" + FILENAME_3117)
    assert archive.release_tag == "20240107"


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_every_platform_prefers_install_only_builds(platform: str) -> None:
    archive = resolve("3.12", platform)
    assert archive.version.startswith("3.12.")
    assert "install_only" in archive.filename
    assert archive.filename.endswith(".tar.gz")
    assert len(archive.sha256) == 64


def test_minor_request_picks_newest_patch_release() -> None:
    newest = resolve("3.11")
    assert RuntimeRequest.parse("3.11").matches(newest.version)
    assert tuple(map(int, newest.version.split("."))) > (3, 11, 7)


def test_free_threaded_request() -> None:
    archive = resolve("cpython@3.13t")
    assert archive.version.startswith("3.13.")
    assert archive.version.endswith("t")
    assert "freethreaded" in archive.filename


def test_unknown_version_names_the_request() -> None:
    with pytest.raises(StackError, match=r"cpython@3\.9\.99 for linux_x86_64") as info:
        resolve("cpython@3.9.99")
    assert "pbs-installer" in str(info.value)


def test_unknown_platform() -> None:
    with pytest.raises(StackError, match=r"unknown platform 'win32'.*cpython@3.11"):
        resolve("3.11", "win32")


def test_missing_checksum_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import pbs_installer
    from pbs_installer import PythonVersion

    def fake_link(*args: object, **kwargs: object) -> tuple[PythonVersion, tuple[str, None]]:
        return PythonVersion("cpython", 3, 11, 7), ("https://example.invalid/r/cpython-3.11.7.tar.gz", None)

    monkeypatch.setattr(pbs_installer, "get_download_link", fake_link)
    with pytest.raises(StackError, match=r"no sha256.*refusing"):
        resolve("3.11.7")


@pytest.mark.parametrize(
    ("mirror", "expected_prefix"),
    [
        ("https://mirror.example/pbs", "https://mirror.example/pbs/"),
        ("https://mirror.example/pbs/", "https://mirror.example/pbs/"),
        ("https://mirror.example/gh/{tag}", "https://mirror.example/gh/20240107/"),
        ("https://user:pw@mirror.example/{tag}/files", "https://user:pw@mirror.example/20240107/files/"),
    ],
)
def test_mirror_url_layouts(mirror: str, expected_prefix: str) -> None:
    archive = resolve("cpython@3.11.7", mirror=mirror)
    assert archive.url == expected_prefix + quote(FILENAME_3117, safe="")
    assert archive.sha256 == SHA_3117  # never taken from the mirror
    assert archive.filename == FILENAME_3117


def test_mirror_url_with_explicit_filename_placeholder() -> None:
    archive = resolve("cpython@3.11.7", mirror="https://m.example/{tag}/{filename}?download=1")
    assert archive.url == f"https://m.example/20240107/{quote(FILENAME_3117, safe='')}?download=1"


@pytest.mark.parametrize("layout", ["flat", "release"])
def test_local_directory_mirror_finds_either_layout(tmp_path: Path, layout: str) -> None:
    folder = tmp_path / "mirror dir"
    stored = folder / FILENAME_3117 if layout == "flat" else folder / "20240107" / FILENAME_3117
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"x")
    for mirror in (str(folder), folder.as_uri()):
        archive = resolve("cpython@3.11.7", mirror=mirror)
        assert archive.url == stored.as_uri()
        assert archive.sha256 == SHA_3117


def test_local_directory_mirror_without_the_file_points_at_the_flat_name(tmp_path: Path) -> None:
    archive = resolve("cpython@3.11.7", mirror=str(tmp_path))
    assert archive.url == (tmp_path / FILENAME_3117).as_uri()


@pytest.mark.parametrize(
    ("url", "filename", "tag"),
    [
        ("https://github.com/o/r/releases/download/20240107/x.tar.gz", "x.tar.gz", "20240107"),
        ("https://mirror/x", "cpython-3.12.1+20240107-aarch64-apple-darwin-install_only.tar.gz", "20240107"),
        (
            "https://mirror/x",
            "cpython-3.10.0-x86_64-unknown-linux-gnu-install_only-20211017T1616.tar.gz",
            "20211017",
        ),
        ("https://mirror/x", "pypy3.10-v7.3.12-linux64.tar.bz2", None),
    ],
)
def test_release_tag(url: str, filename: str, tag: str | None) -> None:
    assert release_tag(url, filename) == tag


def test_tag_placeholder_needs_a_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    import pbs_installer
    from pbs_installer import PythonVersion

    def fake_link(*args: object, **kwargs: object) -> tuple[PythonVersion, tuple[str, str]]:
        return PythonVersion("cpython", 3, 11, 7), ("https://example.invalid/odd-name.tar.gz", "ab" * 32)

    monkeypatch.setattr(pbs_installer, "get_download_link", fake_link)
    with pytest.raises(StackError, match="release tag is unknown"):
        resolve("3.11.7", mirror="https://m.example/{tag}")
