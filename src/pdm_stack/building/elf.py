"""A minimal reader for the dynamic section of ELF files (Linux shared libraries and extensions).

Linking layers reads ``DT_NEEDED`` and the run path of every shared object in a layer, and most of
them need no change. Asking ``patchelf`` costs two process starts per file (about 3 ms each,
seconds for a layer with a thousand extension modules); reading the few structures the dynamic
loader itself reads takes a few microseconds and only touches the headers, the dynamic segment and
the strings it names. ``patchelf`` is only started for the files that really have to be rewritten.

Only what the loader uses is read: program headers (``PT_LOAD`` to map addresses to file offsets,
``PT_DYNAMIC``) and the dynamic entries. Section headers are ignored, as the loader ignores them
(they may even be stripped). 32/64-bit and both byte orders are handled.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

ELF_MAGIC = b"\x7fELF"

_PT_LOAD = 1
_PT_DYNAMIC = 2
_DT_NULL = 0
_DT_NEEDED = 1
_DT_STRTAB = 5
_DT_STRSZ = 10
_DT_SONAME = 14
_DT_RPATH = 15
_DT_RUNPATH = 29
_PN_XNUM = 0xFFFF
_MAX_STRING = 1 << 16  # a library name or run path longer than this is a corrupt file


class ElfError(ValueError):
    """The file starts like an ELF file but its dynamic structures cannot be read."""


@dataclass(frozen=True)
class ElfDynamic:
    """What the dynamic loader reads from an object to find its dependencies."""

    needed: tuple[str, ...]
    #: ``DT_RUNPATH`` entries, or None when the object has no such entry.
    runpath: tuple[str, ...] | None
    #: ``DT_RPATH`` entries (the old form; ignored by the loader when a RUNPATH exists).
    rpath: tuple[str, ...] | None
    soname: str | None

    @property
    def search_path(self) -> tuple[str, ...]:
        """The object's own search directories, as the loader uses them for its DT_NEEDED."""
        if self.runpath is not None:
            return self.runpath
        return self.rpath or ()


@dataclass(frozen=True)
class _Layout:
    order: str  # "<" or ">"
    is64: bool

    def unpack(self, fmt: str, data: bytes, offset: int = 0) -> tuple[int, ...]:
        return struct.unpack_from(self.order + fmt, data, offset)


def is_elf(path: Path) -> bool:
    """Whether ``path`` is a regular file starting with the ELF magic number."""
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def read_dynamic(path: Path) -> ElfDynamic | None:
    """The dynamic-linking facts of ``path``; None if it is not ELF or has no dynamic segment
    (a static executable, an object file).

    Raises :class:`ElfError` for a truncated or inconsistent ELF file.
    """
    with path.open("rb") as handle:
        ident = handle.read(16)
        if len(ident) < 16 or ident[:4] != ELF_MAGIC:
            return None
        if ident[4] not in (1, 2) or ident[5] not in (1, 2):
            raise ElfError(f"{path}: unknown ELF class or byte order")
        layout = _Layout(order="<" if ident[5] == 1 else ">", is64=ident[4] == 2)
        try:
            return _read_dynamic(handle, layout)
        except struct.error as exc:
            raise ElfError(f"{path}: truncated ELF file ({exc})") from None
        except ElfError as exc:
            raise ElfError(f"{path}: {exc}") from None


def _read_exact(handle: IO[bytes], offset: int, size: int) -> bytes:
    handle.seek(offset)
    data = handle.read(size)
    if len(data) != size:
        raise ElfError(f"truncated file (wanted {size} bytes at offset {offset})")
    return data


def _read_dynamic(handle: IO[bytes], layout: _Layout) -> ElfDynamic | None:
    header = _read_exact(handle, 16, 48 if layout.is64 else 36)
    if layout.is64:
        phoff, phentsize, phnum = (layout.unpack("HHIQQQIHHHHHH", header)[i] for i in (4, 8, 9))
    else:
        phoff, phentsize, phnum = (layout.unpack("HHIIIIIHHHHHH", header)[i] for i in (4, 8, 9))
    if phnum == _PN_XNUM:
        raise ElfError("more than 65534 program headers are not supported")
    if phnum == 0:
        return None
    table = _read_exact(handle, phoff, phentsize * phnum)
    loads: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz)
    dynamic: tuple[int, int] | None = None  # (offset, filesz)
    for index in range(phnum):
        if layout.is64:
            p_type, _flags, offset, vaddr, _paddr, filesz = layout.unpack("IIQQQQ", table, index * phentsize)
        else:
            p_type, offset, vaddr, _paddr, filesz = layout.unpack("IIIII", table, index * phentsize)
        if p_type == _PT_LOAD:
            loads.append((vaddr, offset, filesz))
        elif p_type == _PT_DYNAMIC:
            dynamic = (offset, filesz)
    if dynamic is None:
        return None

    entry_fmt, entry_size = ("qQ", 16) if layout.is64 else ("iI", 8)
    data = _read_exact(handle, dynamic[0], dynamic[1] - dynamic[1] % entry_size)
    entries: list[tuple[int, int]] = []
    for offset in range(0, len(data), entry_size):
        tag, value = layout.unpack(entry_fmt, data, offset)
        if tag == _DT_NULL:
            break
        entries.append((tag, value))
    values = dict(entries)  # single-valued tags (STRTAB, STRSZ, SONAME, RPATH, RUNPATH)
    if _DT_STRTAB not in values:
        if any(tag in (_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH) for tag, _ in entries):
            raise ElfError("dynamic segment names strings but has no DT_STRTAB")
        return ElfDynamic(needed=(), runpath=None, rpath=None, soname=None)
    strtab = _file_offset(values[_DT_STRTAB], loads)
    strsz = values.get(_DT_STRSZ, _MAX_STRING)

    def string(index: int) -> str:
        if index >= strsz:
            raise ElfError(f"string index {index} is outside the string table")
        handle.seek(strtab + index)
        raw = handle.read(min(_MAX_STRING, strsz - index))
        end = raw.find(b"\0")
        if end < 0:
            raise ElfError(f"unterminated string at index {index}")
        return raw[:end].decode("utf-8", "surrogateescape")

    def path_list(tag: int) -> tuple[str, ...] | None:
        if tag not in values:
            return None
        return tuple(part for part in string(values[tag]).split(":") if part)

    return ElfDynamic(
        needed=tuple(string(value) for tag, value in entries if tag == _DT_NEEDED),
        runpath=path_list(_DT_RUNPATH),
        rpath=path_list(_DT_RPATH),
        soname=string(values[_DT_SONAME]) if _DT_SONAME in values else None,
    )


def _file_offset(vaddr: int, loads: list[tuple[int, int, int]]) -> int:
    """Map a virtual address to a file offset through the loadable segment that contains it."""
    for seg_vaddr, seg_offset, seg_filesz in loads:
        if seg_vaddr <= vaddr < seg_vaddr + seg_filesz:
            return vaddr - seg_vaddr + seg_offset
    raise ElfError(f"address {vaddr:#x} is in no loadable segment")
