"""Decoding the xz archives pdm-stack publishes on every core (standard library only).

The stdlib's xz decoder is single-threaded. A published ``tar.xz`` is one xz stream made of
independently compressed blocks whose sizes its index lists (see ``publish/compressors.py``), so
each block can be decoded on its own: it is wrapped as a one-block stream (the stream's own
header, the block, a one-record index, a footer) and handed to ``lzma.decompress`` in a worker
thread (liblzma releases the GIL). The compressed bytes are still read once, in file order,
from the caller's reader, so a hash the caller computes while reading covers every byte that is
unpacked; at most a few blocks are in flight, and they come out in order. Any other layout (one
block, several streams, stream padding, a damaged index) is left to ``lzma.LZMAFile``.
Standard library only, Python 3.9+ (see ``common``).
"""

from __future__ import annotations

import io
import lzma
import os
import struct
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from concurrent.futures import Future
    from pathlib import Path

_MAGIC = b"\xfd7zXZ\x00"
_HEADER = 12
_FOOTER = 12
#: Blocks decoded ahead of the one being read (each holds a block's uncompressed bytes).
_AHEAD = 4


def block_sizes(path: Path) -> list[tuple[int, int]] | None:
    """``(unpadded, uncompressed)`` sizes of the blocks of a one-stream xz file, or ``None``
    when the file is laid out otherwise (the caller then decodes it the ordinary way)."""
    try:
        with path.open("rb") as stream:
            size = stream.seek(0, os.SEEK_END)
            if size < _HEADER + _FOOTER + 8:
                return None
            stream.seek(0)
            header = stream.read(_HEADER)
            stream.seek(size - _FOOTER)
            footer = stream.read(_FOOTER)
            if header[:6] != _MAGIC or footer[10:] != b"YZ" or footer[8:10] != header[6:8]:
                return None
            index_size = (struct.unpack("<I", footer[4:8])[0] + 1) * 4
            if index_size > size - _HEADER - _FOOTER:
                return None
            stream.seek(size - _FOOTER - index_size)
            index = stream.read(index_size)
    except OSError:
        return None
    records = _parse_index(index)
    if records is None or len(records) < 2:
        return None
    blocks = sum(unpadded + (-unpadded % 4) for unpadded, _ in records)
    if _HEADER + blocks + index_size + _FOOTER != size:
        return None  # several streams or stream padding: not what publish writes
    return records


def _parse_index(index: bytes) -> list[tuple[int, int]] | None:
    if len(index) < 8 or index[0] != 0 or zlib.crc32(index[:-4]) != struct.unpack("<I", index[-4:])[0]:
        return None
    try:
        count, pos = read_varint(index, 1)
        records = []
        for _ in range(count):
            unpadded, pos = read_varint(index, pos)
            uncompressed, pos = read_varint(index, pos)
            records.append((unpadded, uncompressed))
    except IndexError:
        return None
    if pos + (-pos % 4) + 4 != len(index):
        return None
    return records


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """An xz multibyte integer at ``pos``; returns it and the position after it."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def encode_varint(value: int) -> bytes:
    """``value`` as an xz multibyte integer (7 bits a byte, low bits first)."""
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _decode_block(header: bytes, block: bytes, unpadded: int, uncompressed: int) -> bytes:
    """One block (with its padding, which precedes its check), wrapped as a complete one-block
    stream and decoded; liblzma verifies the block's check and sizes."""
    index = bytearray(b"\x00") + encode_varint(1) + encode_varint(unpadded) + encode_varint(uncompressed)
    index += b"\x00" * (-len(index) % 4)
    index += struct.pack("<I", zlib.crc32(index))
    fields = struct.pack("<I", len(index) // 4 - 1) + header[6:8]
    footer = struct.pack("<I", zlib.crc32(fields)) + fields + b"YZ"
    data = lzma.decompress(header + block + bytes(index) + footer, format=lzma.FORMAT_XZ)
    if len(data) != uncompressed:
        raise lzma.LZMAError("an xz block does not have the size its index says")
    return data


class ParallelXzReader(io.RawIOBase):
    """The uncompressed bytes of a multi-block xz stream read from ``source``, in order."""

    def __init__(self, source: BinaryIO, blocks: list[tuple[int, int]]) -> None:
        super().__init__()
        self._source = source
        self._blocks = deque(blocks)
        self._pool = ThreadPoolExecutor(max_workers=min(_AHEAD, os.cpu_count() or 1))
        self._pending: deque[Future[bytes]] = deque()
        self._current = memoryview(b"")
        self._header = self._read_exactly(_HEADER)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while not self._current:
            self._fill()
            if not self._pending:
                return 0
            self._current = memoryview(self._pending.popleft().result())
        size = min(len(view), len(self._current))
        view[:size] = self._current[:size]
        self._current = self._current[size:]
        return size

    def _fill(self) -> None:
        while self._blocks and len(self._pending) < _AHEAD:
            unpadded, uncompressed = self._blocks.popleft()
            block = self._read_exactly(unpadded + (-unpadded % 4))
            self._pending.append(
                self._pool.submit(_decode_block, self._header, block, unpadded, uncompressed)
            )

    def _read_exactly(self, size: int) -> bytes:
        data = self._source.read(size)
        if len(data) != size:
            raise EOFError("the xz stream ends before its last block")
        return data

    def close(self) -> None:
        if not self.closed:
            for future in self._pending:
                future.cancel()
            self._pool.shutdown(wait=True)
        super().close()


def open_xz(path: Path, source: BinaryIO) -> io.BufferedIOBase:
    """A reader of the xz file ``path`` whose bytes come from ``source`` (parallel if it can)."""
    blocks = block_sizes(path)
    if blocks is None:
        return lzma.LZMAFile(source, "rb")
    return io.BufferedReader(ParallelXzReader(source, blocks), buffer_size=1 << 20)
