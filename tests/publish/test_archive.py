"""Layer archives: reproducible bytes, readable by standard tools, only what should ship."""

from __future__ import annotations

import gzip
import lzma
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import zstandard

from pdm_stack.errors import StackError
from pdm_stack.publish import compressors
from pdm_stack.publish.archive import write_archive
from pdm_stack.publish.filters import layer_members, postinstall_bytes
from pdm_stack.publish.formats import ARCHIVE_FORMATS, ArchiveFormat
from pdm_stack.publish.publish import PublishOptions, publish_layers
from pdm_stack.reporting import NullReporter
from tests.publish.fake_layers import APP, FRAMEWORK, LOCK_EPOCH, RUNTIME, make_build, publish_layers_of


@contextmanager
def open_tar(path: Path, *, stream: bool = False) -> Iterator[tarfile.TarFile]:
    """Open an archive the way a consumer would: stdlib for gz/xz, zstandard for zst."""
    if path.name.endswith(".tar.zst"):
        with (
            path.open("rb") as raw,
            zstandard.ZstdDecompressor().stream_reader(raw) as reader,
            tarfile.open(fileobj=reader, mode="r|") as tar,
        ):
            yield tar
        return
    mode = ("r|" if stream else "r:") + ("gz" if path.name.endswith(".gz") else "xz")
    with tarfile.open(path, mode) as tar:
        yield tar


def read_members(path: Path, *, stream: bool = False) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with open_tar(path, stream=stream) as tar:
        out = []
        for info in tar:
            data = tar.extractfile(info).read() if info.isfile() else None  # type: ignore[union-attr]
            out.append((info, data))
        return out


def publish(build: Path, out: Path, fmt: ArchiveFormat = "tar.gz", **options: object) -> dict[str, Path]:
    results = publish_layers(
        publish_layers_of(build), PublishOptions(out, archive_format=fmt, **options), NullReporter()
    )  # type: ignore[arg-type]
    return {r.layer.install_target: r.archive for r in results}


@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_two_builds_in_different_folders_give_identical_bytes(tmp_path: Path, fmt: ArchiveFormat) -> None:
    # Different checkout paths, file times, permission bits and creation order; one publisher
    # uses one compression thread, the other four.
    first = make_build(tmp_path / "a" / "_build")
    second = make_build(tmp_path / "b" / "deeper" / "checkout" / "_build", variant=1, mtime=1_000_000)
    one = publish(first, tmp_path / "out1", fmt, workers=1, layer_jobs=1)
    two = publish(second, tmp_path / "out2", fmt, workers=4)
    for target in (RUNTIME, FRAMEWORK, APP):
        assert one[target].read_bytes() == two[target].read_bytes(), target
    meta = "__venvstacks__/frameworks/framework-fw.json"
    assert (tmp_path / "out1" / meta).read_text() == (tmp_path / "out2" / meta).read_text()


@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_archives_unpack_with_standard_readers_and_hold_only_what_ships(
    build: Path, tmp_path: Path, fmt: ArchiveFormat
) -> None:
    archives = publish(build, tmp_path / "out", fmt)
    streams = [False, True] if fmt != "tar.zst" else [True]
    for stream in streams:  # "r|gz"/"r|xz" read a single gzip member / xz stream only
        members = read_members(archives[FRAMEWORK], stream=stream)
        names = [info.name for info, _ in members]
        assert names == sorted(names)
        assert names[0] == FRAMEWORK
        assert all(n == FRAMEWORK or n.startswith(f"{FRAMEWORK}/") for n in names)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        for info, data in members:
            assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (LOCK_EPOCH, 0, 0, "", "")
            assert info.isdir() or info.isfile() or info.issym()
            if info.isdir() or (info.isfile() and info.name.endswith("/bin/fwtool")):
                assert info.mode == 0o755
            elif info.isfile():
                assert info.mode == 0o644
            if data is not None:
                assert str(build).encode() not in data
                assert b"checkout-a" not in data
        by_name = {info.name: (info, data) for info, data in members}
        link = by_name[f"{FRAMEWORK}/bin/python"][0]
        assert link.issym() and link.linkname == f"../../{RUNTIME}/bin/python3"
        assert by_name[f"{FRAMEWORK}/postinstall.py"][1] == postinstall_bytes()
        assert (
            by_name[f"{FRAMEWORK}/lib/python3.11/site-packages/fwpkg/data.bin"][1] == bytes(range(256)) * 64
        )


def test_console_scripts_are_dropped_unless_kept(build: Path, tmp_path: Path) -> None:
    archives = publish(build, tmp_path / "out")
    runtime_bin = sorted(i.name for i, _ in read_members(archives[RUNTIME]) if "/bin/" in i.name)
    assert runtime_bin == [f"{RUNTIME}/bin/{n}" for n in ("python", "python3", "python3.11")]
    app_bin = sorted(i.name for i, _ in read_members(archives[APP]) if "/bin/" in i.name)
    assert app_bin == [f"{APP}/bin/{n}" for n in ("python", "python3", "python3.11")]

    kept = publish_layers_of(build, keep_console_scripts=True)
    results = publish_layers([kept[2]], PublishOptions(tmp_path / "kept"), NullReporter())
    members = {i.name: i for i, _ in read_members(results[0].archive)}
    assert members[f"{APP}/bin/demo-cli"].mode == 0o755


def test_large_files_stream_through_many_chunks(
    build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several gzip chunks (with cross-chunk dictionaries) and xz blocks in one archive."""
    monkeypatch.setattr(compressors, "XZ_CHUNK", 256 * 1024)
    payload = os.urandom(1 << 20) + b"repetitive text " * 200_000  # ~4.2 MB
    (build / FRAMEWORK / "lib" / "big.bin").write_bytes(payload)
    for fmt in ARCHIVE_FORMATS:
        archives = publish(build, tmp_path / fmt, fmt)
        path = archives[FRAMEWORK]
        if fmt == "tar.gz":
            with gzip.open(path) as stream:  # one member, valid CRC and size
                raw = stream.read()
            assert len(raw) % tarfile.RECORDSIZE == 0
        if fmt == "tar.xz" and shutil.which("xz"):
            subprocess.run(["xz", "-t", str(path)], check=True)
            assert len(lzma.decompress(path.read_bytes())) % tarfile.RECORDSIZE == 0
        data = {i.name: d for i, d in read_members(path, stream=True)}
        assert data[f"{FRAMEWORK}/lib/big.bin"] == payload


def test_one_thread_and_many_threads_write_the_same_bytes(build: Path, tmp_path: Path) -> None:
    (build / FRAMEWORK / "lib" / "big.bin").write_bytes(b"0123456789abcdef" * 300_000)
    members = layer_members(build / FRAMEWORK)
    for fmt in ARCHIVE_FORMATS:
        digests = set()
        for workers in (1, 3):
            with ThreadPoolExecutor(workers) as pool:
                written = write_archive(
                    members, FRAMEWORK, b"pi", tmp_path, fmt, mtime=0, pool=pool, workers=workers
                )
            digests.add(written.sha256)
            written.temp_path.unlink()
        assert len(digests) == 1, fmt


@pytest.mark.parametrize(
    ("target", "message"),
    [("/etc/passwd", "absolute path"), ("../../../outside", "leaving the deployment")],
)
def test_links_that_would_leave_the_deployment_are_refused(
    build: Path, tmp_path: Path, target: str, message: str
) -> None:
    (build / FRAMEWORK / "lib" / "bad").symlink_to(target)
    with pytest.raises(StackError, match=message) as caught:
        publish(build, tmp_path / "out")
    assert caught.value.layer == FRAMEWORK
    assert not (tmp_path / "out").exists()  # validated before anything is written


def test_an_interrupted_archive_leaves_nothing_under_a_final_name(
    build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    publish(build, out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (build / FRAMEWORK / "lib" / "new.txt").write_text("changed")

    calls = {"n": 0}
    original = compressors.ParallelGzip._task

    def failing(self: compressors.ParallelGzip, chunk: bytes) -> object:
        calls["n"] += 1
        raise KeyboardInterrupt

    monkeypatch.setattr(compressors.ParallelGzip, "_task", failing)
    with pytest.raises(KeyboardInterrupt):
        publish(build, out, force=True, layer_jobs=1)
    monkeypatch.setattr(compressors.ParallelGzip, "_task", original)
    assert calls["n"] >= 1
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # old archives and metadata intact, no partial file left behind


def test_a_file_changing_while_archived_is_an_error(build: Path, tmp_path: Path) -> None:
    members = layer_members(build / FRAMEWORK)
    (build / FRAMEWORK / "pyvenv.cfg").write_text("shorter")
    with ThreadPoolExecutor(1) as pool, pytest.raises(StackError, match="changed while"):
        write_archive(members, FRAMEWORK, b"", tmp_path, "tar.gz", mtime=0, pool=pool, workers=1)
    assert list(tmp_path.glob(".*partial")) == []


def test_build_paths_in_shipped_files_are_reported(build: Path, tmp_path: Path) -> None:
    marker = str(build).encode()
    # The build path straddles the 1 MiB read boundary: found across reads as well.
    content = b"x" * ((1 << 20) - 5) + marker + b"\n"
    (build / FRAMEWORK / "lib" / "stale.txt").write_bytes(content)
    with ThreadPoolExecutor(1) as pool:
        written = write_archive(
            layer_members(build / FRAMEWORK),
            FRAMEWORK,
            b"",
            tmp_path,
            "tar.gz",
            mtime=0,
            pool=pool,
            workers=1,
            build_paths=[str(build)],
        )
    assert written.build_path_hits == (f"{FRAMEWORK}/lib/stale.txt",)
    with tarfile.open(written.temp_path) as tar:
        assert tar.extractfile(f"{FRAMEWORK}/lib/stale.txt").read() == content  # type: ignore[union-attr]
