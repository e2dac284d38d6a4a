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

from pdm_stack.deploy.xz_blocks import encode_varint, read_varint

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Executor, Future

#: Chunk size for parallel gzip; small enough to keep both cores busy on modest layers, large
#: enough that per-chunk overhead (a sync flush, a Python call) is noise.
GZIP_CHUNK = 1 << 20
GZIP_LEVEL = 6
#: Chunk (= xz block) size. Each block starts with an empty dictionary, so blocks much larger
#: than the dictionary lose little ratio against one single-threaded stream, while several
#: blocks compress at once.
XZ_CHUNK = 16 << 20
#: Preset 6 (xz's default). Lower presets are much faster on text but not on the machine code
#: that dominates large layers, where they cost 4-12% of the archive size; the x86 BCJ filter
#: below more than makes up for cutting the stream into blocks.
XZ_PRESET = 6
XZ_MAX_PARALLEL = 4
#: Dictionary of each block's LZMA2 encoder, smaller than preset 6's 8 MiB: an encoder needs
#: about 10 times its dictionary, and two preset-6 encoders put publishing the torch layer at
#: 320 MB peak RSS. Measured on example-project's layers (single layer: numpy): 8 MiB blocks with
#: an 8 MiB window 27.02 MB at 289 MB RSS; 16 MiB blocks with a 4 MiB window 26.92 MB at 231 MB
#: (fewer dictionary resets win back more than the smaller window costs).
XZ_DICT = 4 << 20
#: Blocks holding x86-64 machine code (bytes of an x86-64 ELF file) go
#: through xz's x86 branch converter first: relative call/jump targets become absolute, which
#: repeat and compress far better. Any xz reader (Python's ``lzma`` included) undoes it.
ELF64_LE = b"\x7fELF\x02\x01\x01"
ZSTD_LEVEL = 3
_WINDOW = 32 * 1024  # deflate's history window: the preset dictionary for the next chunk


class Sink(Protocol):
    def write(self, data: bytes | memoryview, /) -> object: ...


class Compressor(Protocol):
    """Takes the uncompressed tar stream in pieces of any size; ``finish`` flushes the rest.

    ``native`` marks bytes of x86-64 machine code (the content of an ELF file), which a
    compressor may filter differently; the marks depend only on the content, so the output
    stays reproducible.
    """

    def write(self, data: bytes | memoryview, /, *, native: bool = False) -> None: ...

    def finish(self) -> None: ...


class _ChunkedParallel:
    """Cuts the input into fixed chunks, compresses them on ``pool`` and writes them in order.

    Memory is what bounds the chunk size, so each byte is copied once on its way in (the pieces
    written are kept by reference and joined when a chunk is full), and a chunk is gathered only
    while a worker is free: at most ``max_pending`` chunks exist, the one being gathered included.
    """

    def __init__(self, out: Sink, pool: Executor, chunk_size: int, max_pending: int) -> None:
        self._out = out
        self._pool = pool
        self._chunk_size = chunk_size
        self._max_pending = max(1, max_pending)
        self._pieces: list[bytes | memoryview] = []
        self._buffered = 0
        self._pending: deque[Future[bytes | memoryview]] = deque()
        #: Whether the buffered bytes include machine code, and the same for the chunk that
        #: ``_task`` is building (a chunk is "native" if any of its bytes is).
        self._buffer_native = False
        self._chunk_native = False

    def write(self, data: bytes | memoryview, /, *, native: bool = False) -> None:
        # Kept by reference until the chunk is joined: only immutable bytes may be kept.
        view = memoryview(data if isinstance(data, bytes) else bytes(data))
        while view.nbytes:
            piece, view = view[: self._chunk_size - self._buffered], view[self._chunk_size - self._buffered :]
            self._pieces.append(piece)
            self._buffered += piece.nbytes
            self._buffer_native = self._buffer_native or native
            if self._buffered == self._chunk_size:
                self._submit_buffered()

    def finish(self) -> None:
        if self._buffered:
            self._submit_buffered()
        while self._pending:
            self._out.write(self._pending.popleft().result())
        self._out.write(self._trailer())

    def _submit_buffered(self) -> None:
        chunk = b"".join(self._pieces)
        self._pieces.clear()
        self._buffered = 0
        self._chunk_native, self._buffer_native = self._buffer_native, False
        self._pending.append(self._pool.submit(self._task(chunk)))
        # With every worker busy, the next chunk is gathered only once the oldest is done:
        # gathering takes milliseconds, compressing seconds, and memory holds one chunk less.
        while len(self._pending) >= self._max_pending:
            self._out.write(self._pending.popleft().result())

    def _task(self, chunk: bytes) -> Callable[[], bytes | memoryview]:
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
        # xz can be memory hungry (~100 MB per preset-6 compressor): at most XZ_MAX_PARALLEL
        # blocks are compressed at once, whatever the number of cores.
        super().__init__(out, pool, XZ_CHUNK, max_pending=min(workers, XZ_MAX_PARALLEL))
        self._preset = preset
        self._records: list[tuple[int, int]] = []
        flags = bytes([0, self._CHECK])
        out.write(b"\xfd7zXZ\x00" + flags + struct.pack("<I", zlib.crc32(flags)))

    def _task(self, chunk: bytes) -> Callable[[], bytes | memoryview]:
        preset, records, check = self._preset, self._records, self._CHECK
        slot = len(records)
        records.append((0, 0))

        filters = xz_filters(preset, native=self._chunk_native)

        def compress() -> memoryview:
            stream = lzma.compress(chunk, format=lzma.FORMAT_XZ, check=check, filters=filters)
            block, unpadded, uncompressed = _single_block(stream)
            records[slot] = (unpadded, uncompressed)
            return block

        return compress

    def _trailer(self) -> bytes:
        index = bytearray(b"\x00") + encode_varint(len(self._records))
        for unpadded, uncompressed in self._records:
            index += encode_varint(unpadded) + encode_varint(uncompressed)
        index += b"\x00" * (-len(index) % 4)
        index += struct.pack("<I", zlib.crc32(index))
        footer_fields = struct.pack("<I", len(index) // 4 - 1) + bytes([0, self._CHECK])
        return bytes(index) + struct.pack("<I", zlib.crc32(footer_fields)) + footer_fields + b"YZ"


def xz_filters(preset: int = XZ_PRESET, *, native: bool = False) -> list[dict[str, int]]:
    """The filter chain of one block: x86 BCJ first if the block holds any machine code."""
    lzma2 = {"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": XZ_DICT}
    return [{"id": lzma.FILTER_X86}, lzma2] if native else [lzma2]


def is_x86_64_elf(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts an x86-64 ELF object (e_machine 62)."""
    return head.startswith(ELF64_LE) and head[18:20] == b"\x3e\x00"


def _single_block(stream: bytes) -> tuple[memoryview, int, int]:
    """The block of a one-block xz stream, with its index record (unpadded, uncompressed size)."""
    backward_size = (struct.unpack_from("<I", stream, len(stream) - 8)[0] + 1) * 4
    index_start = len(stream) - 12 - backward_size
    index = stream[index_start : len(stream) - 12]
    count, pos = read_varint(index, 1)
    if index[0] != 0 or count != 1:  # pragma: no cover - liblzma's single-threaded encoder
        raise RuntimeError("liblzma wrote an unexpected xz stream layout")
    unpadded, pos = read_varint(index, pos)
    uncompressed, _ = read_varint(index, pos)
    return memoryview(stream)[12:index_start], unpadded, uncompressed  # no copy of the block


class Zstd:
    """One zstd frame, compressed by libzstd's own worker threads.

    libzstd's multi-threaded output depends on the parameters, not on the number of workers, so
    at least one worker is always used: a single-core machine writes the same bytes.
    """

    def __init__(self, out: Sink, *, level: int = ZSTD_LEVEL, workers: int = 2) -> None:
        import zstandard

        compressor = zstandard.ZstdCompressor(level=level, threads=max(1, workers), write_checksum=True)
        self._writer = compressor.stream_writer(out, write_return_read=True, closefd=False)  # type: ignore[arg-type]

    def write(self, data: bytes | memoryview, /, *, native: bool = False) -> None:
        self._writer.write(data)

    def finish(self) -> None:
        import zstandard

        self._writer.flush(zstandard.FLUSH_FRAME)

    def cancel(self) -> None:
        return None
