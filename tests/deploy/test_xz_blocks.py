"""Parallel decoding of published multi-block xz streams, and the fallback for any other layout."""

from __future__ import annotations

import io
import lzma
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from pdm_stack.deploy.xz_blocks import ParallelXzReader, block_sizes, open_xz
from pdm_stack.publish import compressors

if TYPE_CHECKING:
    from pathlib import Path

ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + b"\x3e\x00"


def published_xz(path: Path, payload: list[tuple[bytes, bool]], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """``payload`` compressed as publish does, in 64 KiB blocks; returns the uncompressed bytes."""
    monkeypatch.setattr(compressors, "XZ_CHUNK", 64 * 1024)
    out = io.BytesIO()
    with ThreadPoolExecutor(2) as pool:
        writer = compressors.ParallelXz(out, pool, preset=1, workers=2)
        for data, native in payload:
            writer.write(data, native=native)
        writer.finish()
    path.write_bytes(out.getvalue())
    return b"".join(data for data, _ in payload)


class CountingReader(io.BytesIO):
    """The archive's bytes, counting what the decoder read (the deployer hashes exactly that)."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data


def test_blocks_decode_in_parallel_to_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "layer.tar.xz"
    machine_code = ELF + os.urandom(50_000) + bytes(range(256)) * 900
    expected = published_xz(
        archive,
        [(b"text " * 40_000, False), (machine_code, True), (b"more text\n" * 30_000, False)],
        monkeypatch,
    )
    blocks = block_sizes(archive)
    assert blocks is not None and len(blocks) > 4
    assert sum(size for _, size in blocks) == len(expected)
    source = CountingReader(archive.read_bytes())
    with open_xz(archive, source) as stream:
        assert stream.read() == expected
    # Every block was read from the caller's stream; only the index and footer are left.
    assert 0 < len(archive.read_bytes()) - source.consumed < 12 + 8 * len(blocks) + 16


def test_other_layouts_are_read_by_the_ordinary_decoder(tmp_path: Path) -> None:
    single = tmp_path / "single.tar.xz"
    single.write_bytes(lzma.compress(b"one block " * 1000))
    assert block_sizes(single) is None
    with open_xz(single, io.BytesIO(single.read_bytes())) as stream:
        assert stream.read() == b"one block " * 1000
    two_streams = tmp_path / "two.tar.xz"
    two_streams.write_bytes(lzma.compress(b"a" * 100) + lzma.compress(b"b" * 100))
    assert block_sizes(two_streams) is None
    (tmp_path / "tiny.tar.xz").write_bytes(b"\xfd7zXZ")
    assert block_sizes(tmp_path / "tiny.tar.xz") is None


def test_a_damaged_or_truncated_block_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "layer.tar.xz"
    published_xz(archive, [(os.urandom(100_000) + b"x" * 200_000, False)], monkeypatch)
    blocks = block_sizes(archive)
    assert blocks is not None
    data = bytearray(archive.read_bytes())
    data[12 + blocks[0][0] // 2] ^= 0xFF  # inside the first block
    with pytest.raises(lzma.LZMAError), ParallelXzReader(io.BytesIO(bytes(data)), blocks) as reader:
        reader.read()
    with pytest.raises(EOFError), ParallelXzReader(io.BytesIO(bytes(data[:5000])), blocks) as reader:
        reader.read()
