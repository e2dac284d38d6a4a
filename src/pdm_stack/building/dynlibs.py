"""Let compiled code in a layer find shared libraries installed in the layers below it.

Wheels that split native code over several distributions (PyTorch and the ``nvidia-*`` CUDA wheels
are the common case) find each other's libraries through run paths such as
``$ORIGIN/../../nvidia/cublas/lib``: relative to one shared site-packages. Once the libraries live in
a lower layer's site-packages, that path leads nowhere. Other tools export ``LD_LIBRARY_PATH`` from a
shell wrapper around the interpreter, which costs a shell start on every launch. Here the problem
is solved once, at build time, with the loader's own mechanism: every shared object of the layer
whose ``DT_NEEDED`` entries its own run path cannot satisfy, but a lower layer exports, gets
``$ORIGIN``-relative run path entries to the lower layer's library folders. Start-up then costs
exactly what it costs in a single environment. docs/shared-libraries.md explains the design.

Relative paths are computed between the folders' build locations, which are at the same depth and
under the same parent as their deployed locations, so they stay right wherever the whole
deployment is moved.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING

from pdm_stack.atomic_files import replacement
from pdm_stack.building.elf import ElfDynamic, ElfError, is_elf, read_dynamic
from pdm_stack.errors import StackError, StackErrors
from pdm_stack.file_digests import file_sha256
from pdm_stack.runtimes.relocate import find_patchelf

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.reporting import Reporter

# Extension module names carry an interpreter ABI tag (PEP 3149): "_C.cpython-311-x86_64-linux-gnu.so",
# "_foo.abi3.so", "_bar.pypy310-pp73-x86_64-linux-gnu.so".
_TAGGED_EXTENSION = re.compile(r"^[^.]+\.(?:cpython-[^.]+|abi3|pypy[^.]*|graalpy[^.]*)\.so$")
# An untagged "<identifier>.so" is also importable; libraries are named "lib<name>.so" by the
# linker's "-l" convention, so only such plain names without that prefix count as extension modules.
_PLAIN_EXTENSION = re.compile(r"^(?!lib)[A-Za-z_][A-Za-z0-9_]*\.so$")


@dataclass(frozen=True)
class DynlibSource:
    """A lower layer whose shared libraries the layer being built may link against."""

    env_name: str
    #: The lower layer's built folder (a sibling of the layer being built).
    layer_dir: Path
    #: Its ``dynlib_exclude`` globs: libraries it keeps to itself.
    exclude: tuple[str, ...]


@dataclass(frozen=True)
class ExportedLibrary:
    """A shared library a layer offers to the layers above it."""

    source: DynlibSource
    path: Path
    #: Path relative to the layer's site-packages, with ``/`` separators (what globs match).
    relative: str

    @property
    def name(self) -> str:
        return self.path.name


def site_packages_dir(layer_dir: Path) -> Path | None:
    """A runtime's or virtual environment's ``lib/python3.X/site-packages``, if it has one."""
    lib = layer_dir / "lib"
    found = (
        sorted(path for path in lib.glob("python3*/site-packages") if path.is_dir()) if lib.is_dir() else []
    )
    return found[0] if found else None


def is_shared_library_name(name: str) -> bool:
    """``*.so`` or ``*.so.*``: the names a Linux shared object can have."""
    return name.endswith(".so") or ".so." in name


def is_extension_module_name(name: str) -> bool:
    """Whether a ``.so`` file is (by its name) a Python extension module rather than a library."""
    return bool(_TAGGED_EXTENSION.match(name) or _PLAIN_EXTENSION.match(name))


def _shared_objects(site_packages: Path) -> list[Path]:
    """Every file under ``site_packages`` named like a shared object, in a stable order.

    Symlinked folders are not followed (they would list the same files twice); symlinked files
    are kept, since a library is found under every name it has in a folder.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(site_packages):
        dirnames.sort()
        dirnames[:] = [name for name in dirnames if name != "__pycache__"]
        for name in sorted(filenames):
            if is_shared_library_name(name):
                found.append(Path(dirpath, name))
    return found


def exported_libraries(source: DynlibSource) -> list[ExportedLibrary]:
    """The shared libraries ``source`` exports: everything under its site-packages named like a
    shared library that is an ELF file and not an extension module, minus ``dynlib_exclude``
    (globs matched against the path relative to site-packages and against the file name)."""
    site = site_packages_dir(source.layer_dir)
    if site is None:
        return []
    exports = []
    for path in _shared_objects(site):
        if is_extension_module_name(path.name):
            continue
        relative = path.relative_to(site).as_posix()
        if any(
            fnmatchcase(relative, pattern) or fnmatchcase(path.name, pattern) for pattern in source.exclude
        ):
            continue
        if path.is_file() and is_elf(path):
            exports.append(ExportedLibrary(source, path, relative))
    return exports


def _same_file_content(first: Path, second: Path) -> bool:
    if first.resolve() == second.resolve():
        return True
    if first.stat().st_size != second.stat().st_size:
        return False
    return file_sha256(first) == file_sha256(second)


def resolve_exports(lower: Sequence[DynlibSource], *, label: str) -> dict[str, ExportedLibrary]:
    """Library file name -> the copy the layer links against, from layers in sys.path order.

    A name offered more than once is fine when every copy has the same content (the first one is
    used); otherwise every such clash is reported in one :class:`StackErrors`, each with the
    ``dynlib_exclude`` line that would settle it.
    """
    chosen: dict[str, ExportedLibrary] = {}
    clashes: list[StackError] = []
    for source in lower:
        for export in exported_libraries(source):
            first = chosen.setdefault(export.name, export)
            if first is export or _same_file_content(first.path, export.path):
                continue
            fix = f'dynlib_exclude = ["{glob.escape(export.relative)}"]'
            clashes.append(
                StackError(
                    f"{export.relative} differs from {first.relative} in {first.source.env_name}, "
                    f"and {label} can only link one {export.name}; add {fix} to {export.source.env_name} "
                    f"(or exclude the other copy from {first.source.env_name})",
                    layer=export.source.env_name,
                    field="dynlib_exclude",
                )
            )
    if clashes:
        raise StackErrors(clashes)
    return chosen


def _satisfied(elf_dir: Path, search_path: Sequence[str], name: str) -> bool:
    """Whether the loader finds ``name`` through the object's own run path."""
    origin = os.fspath(elf_dir)
    for entry in search_path:
        expanded = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
        # $LIB / $PLATFORM depend on the target; relative entries on the working directory.
        if "$" in expanded or not Path(expanded).is_absolute():
            continue
        if (Path(expanded) / name).exists():
            return True
    return False


def _relative(target: Path, start: Path) -> str:
    """``target`` seen from ``start``, computed on the path strings: symlinks are not resolved,
    because the layout (not where a link happens to point on this machine) is what is deployed."""
    return Path(os.path.relpath(target.absolute(), start.absolute())).as_posix()


def _origin_entry(elf_dir: Path, library_dir: Path) -> str:
    relative = _relative(library_dir, elf_dir)
    return "$ORIGIN" if relative == "." else f"$ORIGIN/{relative}"


def _rewrite_search_path(patchelf: Path, path: Path, dynamic: ElfDynamic, entries: list[str]) -> None:
    """Set the run path of ``path`` to ``entries`` on a copy renamed over the original.

    Installed files may be hard links into uv's cache: patching in place would change the cached
    file (and every other environment linked to it). The kind of entry is kept: ``DT_RPATH``
    (auditwheel's choice) also applies to the dependencies' dependencies, ``DT_RUNPATH`` does not.
    """
    force_rpath = dynamic.runpath is None and dynamic.rpath is not None
    mode = stat.S_IMODE(path.stat().st_mode)
    with replacement(path, mode=mode) as tmp:
        shutil.copyfile(path, tmp)
        tmp.chmod(mode | stat.S_IWUSR)
        command = [os.fspath(patchelf), *(["--force-rpath"] if force_rpath else []), "--set-rpath"]
        proc = subprocess.run(
            [*command, ":".join(entries), os.fspath(tmp)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise StackError(f"patchelf could not set the run path of {path}: {proc.stderr.strip()}")


def link_lower_dynlibs(
    layer_dir: Path, lower: Sequence[DynlibSource], *, label: str, reporter: Reporter
) -> list[str]:
    """Patch layer_dir's ELF files to find lower layers' libraries; return dynlib dirs relative to layer_dir.

    ``lower`` lists the lower layers in sys.path priority order (frameworks, then the runtime).
    Only files whose ``DT_NEEDED`` names their own run path misses and a lower layer exports are
    rewritten; running it again changes nothing. The returned folders (every folder holding a
    library the lower layers export, highest priority first) are the layer config's
    ``dynlib_dirs``.
    """
    if sys.platform != "linux":
        reporter.detail(
            f"{label}: linking shared libraries across layers is only implemented for Linux; "
            f"nothing done on {sys.platform}"
        )
        return []
    exports = resolve_exports(lower, label=label)
    dynlib_dirs: list[str] = []
    for export in exports.values():
        relative = _relative(export.path.parent, layer_dir)
        if relative not in dynlib_dirs:
            dynlib_dirs.append(relative)
    site = site_packages_dir(layer_dir.absolute())
    if not exports or site is None:
        return dynlib_dirs

    patchelf: Path | None = None
    examined = patched = 0
    for path in _shared_objects(site):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            dynamic = read_dynamic(path)
        except (ElfError, OSError) as exc:
            reporter.warn(f"{label}: cannot read {path.relative_to(site)} as ELF, left as it is ({exc})")
            continue
        if dynamic is None:
            continue
        examined += 1
        own = dynamic.search_path
        missing = [
            exports[name]
            for name in dynamic.needed
            if "/" not in name and name in exports and not _satisfied(path.parent, own, name)
        ]
        additions: list[str] = []
        for export in missing:
            entry = _origin_entry(path.parent, export.path.parent)
            if entry not in own and entry not in additions:
                additions.append(entry)
        if not additions:
            continue
        if patchelf is None:
            patchelf = find_patchelf()
        _rewrite_search_path(patchelf, path, dynamic, [*own, *additions])
        patched += 1
        names = ", ".join(f"{e.name} ({e.source.env_name})" for e in missing)
        reporter.detail(f"{label}: {path.relative_to(site)} now finds {names}")
    reporter.detail(
        f"{label}: {patched} of {examined} shared objects linked to lower layers' libraries "
        f"({len(exports)} exported from {len(dynlib_dirs)} folders)"
    )
    return dynlib_dirs
