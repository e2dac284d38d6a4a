from __future__ import annotations

import gzip
import os
import re
import sys
from typing import TYPE_CHECKING

import pytest
import zstandard

from pdm_stack.errors import StackError
from pdm_stack.runtimes import unpack as unpack_module
from pdm_stack.runtimes.pdm_installs import find_pdm_installs
from pdm_stack.runtimes.requests import RuntimeRequest
from pdm_stack.runtimes.unpack import register_in_pdm_install_root, unpack_runtime_archive
from tests.runtimes.pbs_archives import (
    ARCHIVE_MTIME,
    build_pbs_archive,
    build_tar_gz,
    pbs_filename,
    runtime_members,
)

if TYPE_CHECKING:
    from pathlib import Path

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="archive symlinks need POSIX")


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir()) if path.parent.exists() else []


@needs_symlinks
def test_unpacks_tar_gz_without_top_folder(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    dest = tmp_path / "out" / "runtime"
    unpack_runtime_archive(archive, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["bin", "include", "lib"]
    assert (dest / "bin" / "python3").is_symlink()
    assert str((dest / "bin" / "python3").readlink()) == "python3.11"
    assert (dest / "bin" / "python3").read_bytes().startswith(b"#!/bin/sh")
    assert os.access(dest / "bin" / "python3.11", os.X_OK)
    assert (dest / "lib" / "python3.11" / "os.py").is_file()
    assert (dest / "lib" / "python3.11" / "site-packages").is_dir()
    assert siblings(dest) == ["runtime"]  # the temporary folder was renamed, not copied
    assert dest.stat().st_mode & 0o777 == 0o755
    # Symlink times come from the archive, so re-archiving the tree is reproducible.
    assert (dest / "bin" / "python3").lstat().st_mtime == ARCHIVE_MTIME


def test_unpacks_zip(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path, ext="zip")
    dest = tmp_path / "runtime"
    unpack_runtime_archive(archive, dest)
    assert (dest / "lib" / "python3.11" / "os.py").is_file()
    assert (dest / "bin" / "python3").is_file()
    if sys.platform != "win32":
        assert os.access(dest / "bin" / "python3.11", os.X_OK)


def test_original_filename_selects_the_format(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path, ext="zip")
    renamed = archive.rename(tmp_path / "download.tmp")
    unpack_runtime_archive(renamed, tmp_path / "runtime", original_filename=archive.name)
    assert (tmp_path / "runtime" / "lib" / "python3.11" / "os.py").is_file()


def test_destination_must_not_exist(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    (tmp_path / "runtime").mkdir()
    with pytest.raises(StackError, match="already exists"):
        unpack_runtime_archive(archive, tmp_path / "runtime")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_archive_leaves_nothing(tmp_path: Path, damage: str) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    data = archive.read_bytes()
    archive.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": b"not an archive" * 50, "empty": b""}[damage]
    )
    dest = tmp_path / "out" / "runtime"
    with pytest.raises(
        StackError, match=re.escape(f"runtime archive {archive.name} is corrupt or truncated: ")
    ) as info:
        unpack_runtime_archive(archive, dest)
    assert "\n" not in str(info.value)
    assert not dest.exists()
    assert siblings(dest) == []


def test_truncated_tar_stream_detected(tmp_path: Path) -> None:
    """A .tar.gz whose gzip stream is complete but whose tar data is cut short."""
    import gzip
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        payload = b"x" * 50_000
        info = tarfile.TarInfo("python/lib/python3.11/big.py")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    archive = tmp_path / pbs_filename()
    archive.write_bytes(gzip.compress(buffer.getvalue()[:20_000]))
    with pytest.raises(StackError, match="corrupt or truncated"):
        unpack_runtime_archive(archive, tmp_path / "runtime")
    assert siblings(tmp_path / "runtime") == [archive.name]


@pytest.mark.parametrize(
    ("members", "hardlinks", "fragment"),
    [
        ({"python/../../evil.py": b"x"}, None, "'..'"),
        ({"/python/bin/evil": b"x"}, None, "absolute path"),
        ({"python/bin/link": "/etc/passwd"}, None, "absolute path"),
        ({"python/bin/link": "../../../outside"}, None, "pointing outside"),
        ({"python/lib/link": "../../python/lib"}, None, "pointing outside"),
        ({}, {"python/bin/hard": "../etc/passwd"}, "'..'"),
    ],
)
def test_unsafe_members_are_rejected(
    tmp_path: Path, members: dict[str, bytes | str | None], hardlinks: dict[str, str] | None, fragment: str
) -> None:
    archive = tmp_path / "archives" / pbs_filename()
    archive.parent.mkdir()
    build_tar_gz(archive, {**runtime_members(), **members}, hardlinks=hardlinks)
    dest = tmp_path / "out" / "runtime"
    with pytest.raises(StackError, match="contains an unsafe member") as info:
        unpack_runtime_archive(archive, dest)
    assert fragment in str(info.value)
    assert not dest.exists()
    assert siblings(dest) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archives", "out"]


def test_hardlinks_inside_the_tree_are_kept(tmp_path: Path) -> None:
    archive = tmp_path / pbs_filename()
    build_tar_gz(archive, runtime_members(), hardlinks={"python/bin/python": "python/bin/python3.11"})
    unpack_runtime_archive(archive, tmp_path / "runtime")
    assert (tmp_path / "runtime" / "bin" / "python").read_bytes().startswith(b"#!/bin/sh")


def test_archive_without_interpreter_is_rejected(tmp_path: Path) -> None:
    archive = tmp_path / pbs_filename()
    build_tar_gz(archive, {"python": None, "python/lib/python3.11/os.py": b""})
    with pytest.raises(StackError, match="holds no Python runtime"):
        unpack_runtime_archive(archive, tmp_path / "runtime")
    assert not (tmp_path / "runtime").exists()


@needs_symlinks
def test_unpacks_tar_zst_with_zstandard(tmp_path: Path) -> None:
    """Full (non install_only) PBS builds are .tar.zst: unpacked with the zstandard dependency."""
    plain = tmp_path / "runtime.tar"
    build_tar_gz(plain, runtime_members())
    archive = tmp_path / pbs_filename(ext="tar.zst")
    archive.write_bytes(zstandard.ZstdCompressor().compress(gzip.decompress(plain.read_bytes())))
    dest = tmp_path / "runtime"
    unpack_runtime_archive(archive, dest)
    assert (dest / "lib" / "python3.11" / "os.py").read_bytes() == b"# fake os module\n"
    assert str((dest / "bin" / "python3").readlink()) == "python3.11"


def test_corrupt_tar_zst_is_one_error(tmp_path: Path) -> None:
    archive = tmp_path / pbs_filename(ext="tar.zst")
    archive.write_bytes(b"\x28\xb5\x2f\xfd")
    with pytest.raises(StackError, match="is corrupt or truncated"):
        unpack_runtime_archive(archive, tmp_path / "runtime")
    assert siblings(tmp_path / "runtime") == [archive.name]


@needs_symlinks
def test_register_then_find(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    root = tmp_path / "pythons"
    folder = register_in_pdm_install_root(archive, root, "cpython@3.11.7")
    assert folder == root / "cpython@3.11.7"
    assert find_pdm_installs(root, RuntimeRequest.parse("3.11")) == [("3.11.7", folder)]
    assert siblings(folder) == ["cpython@3.11.7"]


def test_register_derives_the_version_from_the_archive_name(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path, "3.13.1t")
    folder = register_in_pdm_install_root(archive, tmp_path / "pythons", RuntimeRequest.parse("3.13t"))
    assert folder.name == "cpython@3.13.1t"
    assert find_pdm_installs(tmp_path / "pythons", RuntimeRequest.parse("3.13t")) == [("3.13.1t", folder)]


def test_register_reuses_an_existing_runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    root = tmp_path / "pythons"
    first = register_in_pdm_install_root(archive, root, "3.11.7")

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpacked again")

    monkeypatch.setattr(unpack_module, "unpack_runtime_archive", fail)
    assert register_in_pdm_install_root(archive, root, "3.11.7") == first


def test_register_refuses_a_broken_existing_folder(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    (tmp_path / "pythons" / "cpython@3.11.7" / "bin").mkdir(parents=True)
    with pytest.raises(StackError, match=r"pdm python remove cpython@3\.11\.7"):
        register_in_pdm_install_root(archive, tmp_path / "pythons", "3.11.7")


def test_register_checks_the_version(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path, "3.11.7")
    with pytest.raises(StackError, match=r"holds Python 3\.11\.7, not the requested cpython@3\.11\.8"):
        register_in_pdm_install_root(archive, tmp_path / "pythons", "3.11.8")
    with pytest.raises(StackError, match="pass an exact version"):
        register_in_pdm_install_root(archive, tmp_path / "pythons", "3.12")
    renamed = archive.rename(tmp_path / "runtime.tar.gz")
    with pytest.raises(StackError, match="cannot tell which Python version"):
        register_in_pdm_install_root(renamed, tmp_path / "pythons", "3.11")
    with pytest.raises(StackError, match="invalid Python runtime request"):
        register_in_pdm_install_root(renamed, tmp_path / "pythons", "python3")
    assert not (tmp_path / "pythons").exists() or list((tmp_path / "pythons").iterdir()) == []


def test_register_failure_leaves_nothing(tmp_path: Path) -> None:
    archive, _ = build_pbs_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:200])
    root = tmp_path / "pythons"
    with pytest.raises(StackError, match="corrupt or truncated"):
        register_in_pdm_install_root(archive, root, "3.11.7")
    assert list(root.iterdir()) == []
