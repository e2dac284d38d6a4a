"""Streaming compressors that use every core yet produce the same bytes on any machine.

Both stdlib formats are compressed the way ``pigz`` and ``xz -T`` do it: the input is cut into
fixed-size chunks, worker threads compress chunks concurrently (zlib and liblzma release the GIL),
and the results are written in input order. Chunk boundaries depend only on byte offsets, never
on timing or the number of workers, so the output is byte-for-byte reproducible.

The result is always ONE gzip member / ONE xz stream: the stdlib's streaming tar reader
(``tarfile.open(mode="r|gz")``) stops after the first gzip member or xz stream, so naive
concatenation would produce archives some readers truncate.

Memory stays bounded: at most ``max_pending`` chunks (input plus output) are in flight.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections import deque
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor, Future

#: Chunk size for parallel gzip; small enough to keep both cores busy on modest layers, large
#: enough that per-chunk overhead (a sync flush, a Python call) is noise.
GZIP_CHUNK = 1 << 20
GZIP_LEVEL = 6
#: Chunk (= xz block) size: the preset-6 dictionary size, which keeps the ratio within ~1% of
#: a single block while letting two blocks compress at once.
XZ_CHUNK = 8 << 20
XZ_PRESET = 6
XZ_MAX_PARALLEL = 4
ZSTD_LEVEL = 3
_WINDOW = 32 * 1024  # deflate's history window: the preset dictionary for the next chunk


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class Compressor(Protocol):
    """Takes the uncompressed tar stream in pieces of any size; ``finish`` flushes the rest."""

    def write(self, data: bytes | memoryview, /) -> None: ...

    def finish(self) -> None: ...


class _ChunkedParallel:
    """Cuts the input into fixed chunks, compresses them on ``pool`` and writes them in order."""

    def __init__(self, out: Sink, pool: Executor, chunk_size: int, max_pending: int) -> None:
        self._out = out
        self._pool = pool
        self._chunk_size = chunk_size
        self._max_pending = max(1, max_pending)
        self._buffer = bytearray()
        self._pending: deque[Future[bytes]] = deque()

    def write(self, data: bytes | memoryview, /) -> None:
        self._buffer += data
        while len(self._buffer) >= self._chunk_size:
            chunk = bytes(self._buffer[: self._chunk_size])
            del self._buffer[: self._chunk_size]
            self._submit(chunk)

    def finish(self) -> None:
        if self._buffer:
            self._submit(bytes(self._buffer))
            self._buffer.clear()
        while self._pending:
            self._out.write(self._pending.popleft().result())
        self._out.write(self._trailer())

    def _submit(self, chunk: bytes) -> None:
        task = self._task(chunk)
        self._pending.append(self._pool.submit(task))
        while len(self._pending) > self._max_pending:
            self._out.write(self._pending.popleft().result())

    def _task(self, chunk: bytes) -> Callable[[], bytes]:
        raise NotImplementedError

    def _trailer(self) -> bytes:
        raise NotImplementedError

    def cancel(self) -> None:
        for future in self._pending:
            future.cancel()
        self._pending.clear()


class ParallelGzip(_ChunkedParallel):
    """A single gzip member whose deflate stream is made of independently compressed chunks.

    Each chunk is raw deflate, primed with the previous chunk's last 32 KiB as a preset dictionary
    (so back-references across chunk boundaries are kept, as pigz does) and ended with a sync
    flush; an empty final block closes the stream. The CRC is computed in input order here.
    """

    def __init__(self, out: Sink, pool: Executor, *, level: int = GZIP_LEVEL, workers: int = 2) -> None:
        super().__init__(out, pool, GZIP_CHUNK, max_pending=2 * workers)
        self._level = level
        self._crc = 0
        self._size = 0
        self._tail = b""
        # Header: no name, mtime 0, no extra flags, OS "unknown": nothing host-specific.
        out.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")

    def _task(self, chunk: bytes) -> Callable[[], bytes]:
        self._crc = zlib.crc32(chunk, self._crc)
        self._size += len(chunk)
        zdict, self._tail = self._tail, chunk[-_WINDOW:]
        level = self._level

        def compress() -> bytes:
            if zdict:
                deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, zdict=zdict)
            else:
                deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
            return deflate.compress(chunk) + deflate.flush(zlib.Z_SYNC_FLUSH)

        return compress

    def _trailer(self) -> bytes:
        final_empty_block = b"\x03\x00"
        return final_empty_block + struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)


class ParallelXz(_ChunkedParallel):
    """A single xz stream with one block per chunk (the layout ``xz -T`` writes).

    Each chunk is compressed by liblzma as a complete one-block stream; its block is cut out and
    the blocks are re-wrapped in one stream header, index and footer.
    """

    _CHECK = lzma.CHECK_CRC64

    def __init__(self, out: Sink, pool: Executor, *, preset: int = XZ_PRESET, workers: int = 2) -> None:
        # xz is memory hungry (~100 MB per preset-6 compressor): at most XZ_MAX_PARALLEL blocks
        # are compressed at once, whatever the number of cores.
        super().__init__(out, pool, XZ_CHUNK, max_pending=min(workers, XZ_MAX_PARALLEL) + 1)
        self._preset = preset
        self._records: list[tuple[int, int]] = []
        flags = bytes([0, self._CHECK])
        out.write(b"\xfd7zXZ\x00" + flags + struct.pack("<I", zlib.crc32(flags)))

    def _task(self, chunk: bytes) -> Callable[[], bytes]:
        preset, records, check = self._preset, self._records, self._CHECK
        slot = len(records)
        records.append((0, 0))

        def compress() -> bytes:
            stream = lzma.compress(chunk, format=lzma.FORMAT_XZ, check=check, preset=preset)
            block, unpadded, uncompressed = _single_block(stream)
            records[slot] = (unpadded, uncompressed)
            return block

        return compress

    def _trailer(self) -> bytes:
        index = bytearray(b"\x00") + _varint(len(self._records))
        for unpadded, uncompressed in self._records:
            index += _varint(unpadded) + _varint(uncompressed)
        index += b"\x00" * (-len(index) % 4)
        index += struct.pack("<I", zlib.crc32(index))
        footer_fields = struct.pack("<I", len(index) // 4 - 1) + bytes([0, self._CHECK])
        return bytes(index) + struct.pack("<I", zlib.crc32(footer_fields)) + footer_fields + b"YZ"


def _single_block(stream: bytes) -> tuple[bytes, int, int]:
    """The block of a one-block xz stream, with its index record (unpadded, uncompressed size)."""
    backward_size = (struct.unpack_from("<I", stream, len(stream) - 8)[0] + 1) * 4
    index_start = len(stream) - 12 - backward_size
    index = stream[index_start : len(stream) - 12]
    count, pos = _read_varint(index, 1)
    if index[0] != 0 or count != 1:  # pragma: no cover - liblzma's single-threaded encoder
        raise RuntimeError("liblzma wrote an unexpected xz stream layout")
    unpadded, pos = _read_varint(index, pos)
    uncompressed, _ = _read_varint(index, pos)
    return stream[12:index_start], unpadded, uncompressed


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


class Zstd:
    """One zstd frame, compressed by libzstd's own worker threads.

    libzstd's multi-threaded output depends on the parameters, not on the number of workers, so
    at least one worker is always used: a single-core machine writes the same bytes.
    """

    def __init__(self, out: Sink, *, level: int = ZSTD_LEVEL, workers: int = 2) -> None:
        import zstandard

        compressor = zstandard.ZstdCompressor(level=level, threads=max(1, workers), write_checksum=True)
        self._writer = compressor.stream_writer(out, write_return_read=True, closefd=False)  # type: ignore[arg-type]

    def write(self, data: bytes | memoryview, /) -> None:
        self._writer.write(data)

    def finish(self) -> None:
        import zstandard

        self._writer.flush(zstandard.FLUSH_FRAME)

    def cancel(self) -> None:
        return None
