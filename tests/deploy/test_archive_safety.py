"""Hostile or damaged archives are refused and nothing lands outside the deployment folder."""

from __future__ import annotations

import gzip
import io
import json
import mmap
import os
import sys
import tarfile
from pathlib import Path

import pytest

from pdm_stack.deploy import layer_sources
from pdm_stack.deploy.archives import open_archive
from pdm_stack.deploy.standalone import DeployError, deploy, extract_layer
from tests.deploy.stack_factory import member, publish_single, write_archive

QUIET = {"log": lambda _: None}


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """(artifacts dir, target); the target's parent ``work`` must only ever hold the target."""
    return tmp_path / "artifacts", tmp_path / "work" / "target"


def assert_nothing_deployed(target: Path) -> None:
    if target.parent.exists():
        assert [path.name for path in target.parent.iterdir()] == ["target"]
    if target.exists():
        # At most the lock file: no layer folder, no temporary folder, no record.
        leftovers = sorted(str(path.relative_to(target)) for path in target.rglob("*"))
        assert leftovers in ([], ["__venvstacks__", "__venvstacks__/deploy.lock"])


def test_tampered_archive_is_refused_before_anything_is_written(places: tuple[Path, Path]) -> None:
    artifacts, target = places
    publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE), member("rt/a.txt", data=b"hello")])
    archive = artifacts / "rt.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(DeployError, match=r"rt: sha256 of rt.tar.gz does not match the metadata"):
        deploy(artifacts, target, **QUIET)
    assert not target.parent.exists()

    archive.write_bytes(bytes(data) + b"\0")
    with pytest.raises(DeployError, match=r"has \d+ bytes but the metadata says"):
        deploy(artifacts, target, **QUIET)
    archive.unlink()
    with pytest.raises(DeployError, match=r"archive rt\.tar\.gz is missing"):
        deploy(artifacts, target, **QUIET)
    assert not target.parent.exists()


HOSTILE = {
    "dotdot": ([member("rt/../../escape.txt", data=b"x")], "contains '..'"),
    "leading-dotdot": ([member("../escape.txt", data=b"x")], "contains '..'"),
    "absolute": ([member("{work}/abs.txt", data=b"x")], "has an absolute path"),
    "other-folder": ([member("other/escape.txt", data=b"x")], "outside the layer folder 'rt/'"),
    "escaping-symlink": ([member("rt/link", tarfile.SYMTYPE, link="../../escape")], "points outside"),
    "absolute-symlink": ([member("rt/link", tarfile.SYMTYPE, link="/etc")], "is absolute"),
    "climb-after-descent": ([member("rt/link", tarfile.SYMTYPE, link="sub/../../..")], "points outside"),
    "write-through-symlink": (
        [member("rt/peer", tarfile.SYMTYPE, link="../other"), member("rt/peer/escape.txt", data=b"x")],
        "lies inside or replaces a symlink",
    ),
    "hard-link": (
        [member("rt/a", data=b"x"), member("rt/h", tarfile.LNKTYPE, link="rt/a")],
        "is a hard link",
    ),
    "device": ([member("rt/dev", tarfile.CHRTYPE)], "device, FIFO or other special file"),
    "fifo": ([member("rt/fifo", tarfile.FIFOTYPE)], "device, FIFO or other special file"),
    "duplicate": ([member("rt/a", data=b"1"), member("rt/a", data=b"2")], "clashes with an earlier member"),
    "backslash": ([member("rt/sub\\..\\..\\escape.txt", data=b"x")], "has a backslash in its name"),
    "backslash-symlink": (
        [member("rt/link", tarfile.SYMTYPE, link="..\\..\\escape")],
        "has a backslash in its target",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_and_nothing_escapes(case: str, places: tuple[Path, Path]) -> None:
    artifacts, target = places
    hostile, message = HOSTILE[case]
    for info, _ in hostile:
        info.name = info.name.format(work=target.parent)
    publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE), *hostile])
    with pytest.raises(DeployError, match=message):
        deploy(artifacts, target, **QUIET)
    assert_nothing_deployed(target)
    assert not (target.parent / "abs.txt").exists()


def test_links_into_peer_layers_are_allowed(tmp_path: Path) -> None:
    archive = tmp_path / "app.tar.gz"
    members = [
        member("app/", tarfile.DIRTYPE),
        member("app/bin/", tarfile.DIRTYPE),
        member("app/bin/python", tarfile.SYMTYPE, link="../../runtime/bin/python3"),
        member("app/bin/python3", tarfile.SYMTYPE, link="python"),
        member("app/top", tarfile.SYMTYPE, link=".."),
    ]
    write_archive(archive, members)
    (tmp_path / "dest").mkdir()
    manifest = extract_layer(archive, "tar.gz", "app", tmp_path / "dest")
    assert manifest == {
        "bin/python": "symlink:../../runtime/bin/python3",
        "bin/python3": "symlink:python",
        "top": "symlink:..",
    }
    assert (tmp_path / "dest/bin/python").readlink() == Path("../../runtime/bin/python3")


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.xz", "tar.zst"])
def test_every_published_format_unpacks_with_modes_and_times(fmt: str, tmp_path: Path) -> None:
    archive = tmp_path / f"rt.{fmt}"
    members = [
        member("rt/", tarfile.DIRTYPE, mode=0o700),
        member("rt/bin/", tarfile.DIRTYPE),
        member("rt/bin/tool", data=b"#!/bin/sh\n", mode=0o750),
        member("rt/data.txt", data=b"data", mode=0o600),
        member("rt/bin/alias", tarfile.SYMTYPE, link="tool"),
    ]
    write_archive(archive, members, fmt)
    dest = tmp_path / "dest"
    dest.mkdir()
    manifest = extract_layer(archive, fmt, "rt", dest)
    assert sorted(manifest) == ["bin/alias", "bin/tool", "data.txt"]
    assert manifest["data.txt"] == "sha256:3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7"
    assert (dest / "bin/tool").stat().st_mode & 0o777 == 0o755
    assert (dest / "data.txt").stat().st_mode & 0o777 == 0o644
    assert (dest / "bin").stat().st_mode & 0o777 == 0o755
    assert int((dest / "data.txt").stat().st_mtime) == members[0][0].mtime


def test_concatenated_gzip_members_unpack(tmp_path: Path) -> None:
    """The publisher compresses chunks in parallel and concatenates the gzip members."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info, data in [
            member("rt/", tarfile.DIRTYPE),
            member("rt/big.bin", data=bytes(range(256)) * 400),
        ]:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    payload = raw.getvalue()
    chunks = [payload[i : i + 10000] for i in range(0, len(payload), 10000)]
    archive = tmp_path / "rt.tar.gz"
    archive.write_bytes(b"".join(gzip.compress(chunk) for chunk in chunks))
    assert len(chunks) > 2
    dest = tmp_path / "dest"
    dest.mkdir()
    extract_layer(archive, "tar.gz", "rt", dest)
    assert (dest / "big.bin").read_bytes() == bytes(range(256)) * 400


def test_damaged_archive_is_reported_in_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "rt.tar.gz"
    write_archive(archive, [member("rt/", tarfile.DIRTYPE), member("rt/a", data=b"x" * 100000)])
    archive.write_bytes(archive.read_bytes()[:-200])
    (tmp_path / "dest").mkdir()
    with pytest.raises(DeployError, match=r"rt\.tar\.gz: damaged archive"):
        extract_layer(archive, "tar.gz", "rt", tmp_path / "dest")


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Python 3.14 reads zstd without zstandard")
def test_zstd_without_a_reader_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "rt.tar.zst"
    write_archive(archive, [member("rt/", tarfile.DIRTYPE)], "tar.zst")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with (
        pytest.raises(DeployError, match=r"needs Python 3\.14\+ or the 'zstandard' package"),
        open_archive(archive, "tar.zst"),
    ):
        pass


def test_archive_swapped_after_its_check_is_refused_and_never_runs(
    places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """TOCTOU: the bytes unpacked must be the bytes whose sha256 was checked."""
    artifacts, target = places
    marker = target.parent.parent / "hostile-postinstall-ran"
    publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE), member("rt/a.txt", data=b"hello")])
    hostile = artifacts.parent / "hostile.tar.gz"
    script = f"open({str(marker)!r}, 'w').close()\n".encode()
    write_archive(hostile, [member("rt/", tarfile.DIRTYPE), member("rt/postinstall.py", data=script)])
    checked = layer_sources.check_archive

    def check_then_swap(artifacts_dir: Path, layer: dict[str, object]) -> Path:
        path = checked(artifacts_dir, layer)
        hostile.replace(path)  # after the check, before unpacking
        return path

    monkeypatch.setattr(layer_sources, "check_archive", check_then_swap)
    with pytest.raises(DeployError, match=r"rt\.tar\.gz: the archive changed while it was unpacked"):
        deploy(artifacts, target, **QUIET)
    assert not marker.exists()
    assert_nothing_deployed(target)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([member("rt/" + "n" * 300, data=b"x")], r"'rt/n{300}' cannot be unpacked \(File name too long\)"),
        (
            [member("rt/d/", tarfile.DIRTYPE), member("rt/d", tarfile.SYMTYPE, link="..")],
            r"member 'rt/d' clashes with an earlier member",
        ),
        ([member("rt/a", data=b"x"), member("rt/a/b", data=b"y")], r"member 'rt/a/b' clashes with"),
        ([member("rt/l", tarfile.SYMTYPE, link="")], r"symlink 'rt/l' has an empty target"),
    ],
)
def test_unwritable_or_clashing_members_name_the_member(
    members: list[tuple[tarfile.TarInfo, bytes | None]], message: str, places: tuple[Path, Path]
) -> None:
    artifacts, target = places
    publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE), *members])
    with pytest.raises(DeployError, match=message):
        deploy(artifacts, target, **QUIET)
    assert_nothing_deployed(target)


@pytest.mark.parametrize(
    "interpreter", ["../../../outside/evil", "/bin/sh", "bin/../../../../outside/evil", "bin\\python3"]
)
def test_runtime_interpreter_outside_its_layer_is_refused_before_anything_runs(
    interpreter: str, places: tuple[Path, Path]
) -> None:
    """Tampered metadata must not make the deployer run a program outside the runtime layer."""
    artifacts, target = places
    marker = target.parent.parent / "evil-ran"
    evil = target.parent.parent / "outside/evil"
    evil.parent.mkdir(parents=True)
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    members = [member("rt/", tarfile.DIRTYPE), member("rt/postinstall.py", data=b"")]
    data = publish_single(artifacts, "rt", members)
    data["bound_to_implementation"] = interpreter
    (artifacts / "__venvstacks__/venvstacks.json").write_text(json.dumps({"layers": {"runtimes": [data]}}))
    with pytest.raises(DeployError, match="field 'bound_to_implementation' must be a relative path inside"):
        deploy(artifacts, target, **QUIET)
    assert not marker.exists()
    assert not target.exists()


def test_runtime_layer_must_name_a_runtime(tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    data = publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE)])
    app = dict(data, layer_name="app", install_target="app", layer_kind="application", runtime_layer="fw")
    framework = dict(data, layer_name="fw", install_target="fw", layer_kind="framework")
    framework["bound_to_implementation"] = "../../outside/evil"
    layers = {"runtimes": [data], "frameworks": [framework], "applications": [app]}
    (artifacts / "__venvstacks__/venvstacks.json").write_text(json.dumps({"layers": layers}))
    with pytest.raises(DeployError, match="app: its runtime_layer 'fw' is not a runtime layer"):
        deploy(artifacts, tmp_path / "target", **QUIET)
    assert not (tmp_path / "target").exists()


def rewrite_metadata(artifacts: Path, data: dict[str, object]) -> None:
    """Replace the one published layer's metadata (a publisher's or an attacker's edit)."""
    (artifacts / "__venvstacks__/venvstacks.json").write_text(json.dumps({"layers": {"runtimes": [data]}}))


ZEROS = 32 << 20  # compresses to about 100 KB


@pytest.mark.parametrize("declared", [True, False])
def test_expansion_stops_at_the_declared_size_or_a_ratio_without_writing_it_all(
    declared: bool, places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pdm_stack.deploy import archives

    artifacts, target = places
    data = publish_single(
        artifacts, "rt", [member("rt/", tarfile.DIRTYPE), member("rt/zeros", data=bytes(ZEROS))]
    )
    written: list[int] = []
    write_file = archives._write_file

    def recording_write_file(tar: tarfile.TarFile, info: tarfile.TarInfo, path: Path) -> str:
        try:
            return write_file(tar, info, path)
        finally:
            written.append(path.stat().st_size)

    monkeypatch.setattr(archives, "_write_file", recording_write_file)
    if declared:
        data["archive_unpacked_size"] = 10_000  # a bomb declares little
        limit = 10_000 + 100 + archives.EXPANSION_MARGIN
    else:
        del data["archive_unpacked_size"]  # venvstacks' metadata, or an older pdm-stack's
        monkeypatch.setattr(archives, "MIN_EXPANSION_LIMIT", 1 << 20)
        limit = int(data["archive_size"]) * archives.MAX_EXPANSION_RATIO
        assert limit < ZEROS
    rewrite_metadata(artifacts, data)
    with pytest.raises(DeployError, match=rf"rt\.tar\.gz: unpacks to more than {limit} bytes"):
        deploy(artifacts, target, **QUIET)
    assert written and max(written) <= limit  # stopped at the bound, not after the whole file
    assert_nothing_deployed(target)


def test_an_archive_expanding_to_exactly_its_declared_size_deploys(places: tuple[Path, Path]) -> None:
    artifacts, target = places
    members = [member("rt/", tarfile.DIRTYPE), member("rt/data.bin", data=bytes(range(256)) * 4096)]
    archive = artifacts / "rt.tar.gz"
    data = publish_single(artifacts, "rt", members)
    assert data["archive_unpacked_size"] % tarfile.RECORDSIZE == 0  # the whole tar stream
    dest = target.parent / "dest"
    dest.mkdir(parents=True)
    limit = data["archive_unpacked_size"]
    extract_layer(archive, "tar.gz", "rt", dest, limit=limit)  # exactly the limit: fine
    assert (dest / "data.bin").stat().st_size == 256 * 4096


@pytest.mark.parametrize(
    "links",
    [
        [("rt/link", "../evil/secret")],  # through a symlink already in TARGET
        [("rt/b", "a/evil/secret"), ("rt/a", "..")],  # a chain of the layer's own links, then it
    ],
)
def test_symlinks_are_judged_on_the_real_file_system(
    links: list[tuple[str, str]], places: tuple[Path, Path]
) -> None:
    artifacts, target = places
    outside = target.parent.parent / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")
    target.mkdir(parents=True)
    (target / "evil").symlink_to(outside)
    members = [member(name, tarfile.SYMTYPE, link=link) for name, link in links]
    publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE), *members])
    with pytest.raises(DeployError, match=rf"symlink '{links[0][0]}' leads outside the deployment folder"):
        deploy(artifacts, target, **QUIET)
    assert sorted(path.name for path in target.iterdir()) == ["__venvstacks__", "evil"]
    assert not list((target / "__venvstacks__").glob("deployed/*"))


def test_an_unknown_format_is_refused_before_target_is_created(places: tuple[Path, Path]) -> None:
    artifacts, target = places
    data = publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE)])
    (artifacts / "rt.tar.gz").rename(artifacts / "rt.tar.bz2")
    rewrite_metadata(artifacts, dict(data, archive_name="rt.tar.bz2", archive_format="tar.bz2"))
    with pytest.raises(DeployError, match=r"rt: rt\.tar\.bz2: unknown archive format"):
        deploy(artifacts, target, **QUIET)
    assert not target.parent.exists()


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Python 3.14 reads zstd without zstandard")
def test_a_zstd_archive_without_a_reader_is_refused_before_target_is_created(
    places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    artifacts, target = places
    publish_single(artifacts, "rt", [member("rt/", tarfile.DIRTYPE)], "tar.zst")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    with pytest.raises(DeployError, match=r"needs Python 3\.14\+ or the 'zstandard' package"):
        deploy(artifacts, target, **QUIET)
    assert not target.parent.exists()


def _resident_kb_after_touching_one_byte(path: Path) -> int:
    """Resident size of a fresh read-only mapping of ``path`` once one byte in its middle is read."""
    with path.open("rb") as stream, mmap.mmap(stream.fileno(), 0, prot=mmap.PROT_READ) as mapped:
        assert mapped[len(mapped) // 2 + 4321] >= 0
        lines = Path("/proc/self/smaps").read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.endswith(str(path)))
        return next(int(line.split()[1]) for line in lines[start + 1 :] if line.startswith("Rss:"))


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux's /proc/self/smaps")
def test_unpacked_files_map_like_files_pip_writes(tmp_path: Path) -> None:
    """A shared library a deployment unpacked costs no more resident memory per process that
    maps it than one pip or uv wrote: files are written in pieces small enough that the page
    cache does not hold them in folios bigger than what a page fault maps anyway (on Linux 6.x
    with large folios, 1 MiB writes made a fault map 1 MiB)."""
    archive = tmp_path / "rt.tar.gz"
    write_archive(archive, [member("rt/", tarfile.DIRTYPE), member("rt/lib.so", data=os.urandom(8 << 20))])
    dest = tmp_path / "dest"
    extract_layer(archive, "tar.gz", "rt", dest)
    assert _resident_kb_after_touching_one_byte(dest / "lib.so") <= 64
