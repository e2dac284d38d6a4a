"""Reusing runtimes that ``pdm python install`` already unpacked.

PDM keeps one folder per runtime in ``python.install_root`` (``cpython@3.11.7``) and ``pdm python
list`` treats every child holding ``bin/python3`` (``python.exe`` on Windows, optionally below an
``install/`` folder for full builds) as an interpreter. We look at the same places so a runtime the
user installed with PDM is not downloaded again, but we read versions from folder names and headers
instead of starting every interpreter, which keeps the lookup cheap and works for runtimes of another
platform too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pdm_stack.runtimes.installed import InstalledRuntimes
from pdm_stack.runtimes.requests import RuntimeRequest, parse_full_version

__all__ = ["PdmInstalls", "default_pdm_install_root", "find_pdm_installs", "interpreter_path"]

_PATCHLEVEL_RE = re.compile(r'^#define\s+PY_VERSION\s+"(\d+\.\d+\.\d+)[^"]*"', re.MULTILINE)


def default_pdm_install_root() -> Path:
    """PDM's default ``python.install_root``; the configured value wins when PDM is available."""
    import platformdirs

    return Path(platformdirs.user_data_dir("pdm")) / "python"


def interpreter_path(folder: Path, *, windows: bool | None = None) -> Path | None:
    """The interpreter ``pdm python list`` would report for ``folder``, or None.

    Folders without their standard library next to the interpreter are ignored: a crash while
    unpacking leaves ``bin/python3`` early in the archive order and such a runtime would fail later
    in a far more confusing way.
    """
    if windows is None:
        windows = sys.platform == "win32"
    for base in (folder, folder / "install"):
        if windows:
            exe = base / "python.exe"
            has_stdlib = (base / "Lib" / "os.py").is_file()
        else:
            exe = base / "bin" / "python3"
            has_stdlib = any(base.glob("lib/python3*/os.py"))
        if exe.exists() and has_stdlib:
            return exe
    return None


def version_from_headers(base: Path) -> str | None:
    """Read ``PY_VERSION`` from ``patchlevel.h``, which every CPython build installs."""
    for header in sorted(base.glob("include/python3*/patchlevel.h")):
        try:
            text = header.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        match = _PATCHLEVEL_RE.search(text)
        if match is not None:
            suffix = "t" if header.parent.name.endswith("t") else ""
            return match[1] + suffix
    return None


def version_from_interpreter(exe: Path) -> str | None:
    """Last resort for linked interpreters without headers: ask the interpreter itself."""
    code = (
        "import sys, sysconfig; v = sys.version_info; "
        "print(f'{v[0]}.{v[1]}.{v[2]}' + ('t' if sysconfig.get_config_var('Py_GIL_DISABLED') else ''))"
    )
    try:
        result = subprocess.run(
            [os.fspath(exe), "-I", "-c", code], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _full_version(folder: Path, exe: Path) -> str | None:
    """The runtime's full version: folder name first (what PDM wrote), then headers, then a run."""
    try:
        parse_full_version(folder.name)
    except ValueError:
        pass
    else:
        return folder.name.partition("@")[2] or folder.name
    base = exe.parent.parent if exe.parent.name == "bin" else exe.parent
    version = version_from_headers(base) or version_from_interpreter(exe)
    if version is None:
        return None
    try:
        parse_full_version(version)
    except ValueError:
        return None
    return version


def _implementation(folder: Path) -> str:
    name, at, _ = folder.name.partition("@")
    return name.lower() if at else "cpython"


def find_pdm_installs(install_root: Path, request: RuntimeRequest) -> list[tuple[str, Path]]:
    """Runtimes in ``install_root`` matching ``request`` as ``(full version, folder)``, newest first.

    Hidden folders are skipped: they are the temporary siblings this package (and other tools)
    unpack into before renaming, and may be incomplete.
    """
    root = install_root.expanduser()
    try:
        children = sorted(root.iterdir())
    except OSError:
        return []
    found: list[tuple[tuple[int, int, int], str, Path]] = []
    for child in children:
        if child.name.startswith(".") or not child.is_dir():
            continue
        if _implementation(child) != request.implementation:
            continue
        exe = interpreter_path(child)
        if exe is None:
            continue
        version = _full_version(child, exe)
        if version is None or not request.matches(version):
            continue
        numbers, _ = parse_full_version(version)
        found.append((numbers, version, child))
    found.sort(key=lambda item: item[0], reverse=True)
    return [(version, folder) for _, version, folder in found]


class PdmInstalls(InstalledRuntimes):
    """``pdm python install``'s ``python.install_root``."""

    kind = "pdm-install"
    tool = "PDM"

    def find(self, request: RuntimeRequest) -> list[tuple[str, Path]]:
        return find_pdm_installs(self.root, request)
