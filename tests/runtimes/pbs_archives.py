"""Builders for small fake python-build-standalone archives and runtime trees.

The real archives are tens of megabytes and live on GitHub, which tests must not touch; the code
under test only cares about the layout (top ``python/`` folder, ``bin/python3`` link, stdlib beside
it), so a few bytes per file reproduce everything it looks at. Checksums are computed here and
handed to the code under test, exactly as pbs-installer's table would.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

ARCHIVE_MTIME = 1_700_000_000
PBS_TAG = "20240107"


def pbs_filename(version: str = "3.11.7", ext: str = "tar.gz") -> str:
    free_threaded = version.endswith("t")
    plain = version.rstrip("t")
    flavour = "freethreaded-install_only" if free_threaded else "install_only"
    return f"cpython-{plain}+{PBS_TAG}-x86_64-unknown-linux-gnu-{flavour}.{ext}"


def runtime_members(version: str = "3.11.7") -> dict[str, bytes | str | None]:
    """Archive members: bytes for files, str for symlink targets, None for folders."""
    plain = version.rstrip("t")
    minor = ".".join(plain.split(".")[:2]) + ("t" if version.endswith("t") else "")
    return {
        "python": None,
        "python/bin": None,
        f"python/bin/python{minor}": b"#!/bin/sh\necho fake python\n",
        "python/bin/python3": f"python{minor}",
        f"python/lib/python{minor}/os.py": b"# fake os module\n",
        f"python/lib/python{minor}/site-packages": None,
        f"python/include/python{minor}/patchlevel.h": f'#define PY_VERSION "{plain}"\n'.encode(),
    }


def build_tar_gz(
    path: Path, members: dict[str, bytes | str | None], *, hardlinks: dict[str, str] | None = None
) -> str:
    """Write a .tar.gz with ``members`` (see :func:`runtime_members`); return its sha256."""
    with tarfile.open(path, "w:gz") as tf:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.mtime = ARCHIVE_MTIME
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tf.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                tf.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o755 if "/bin/" in name else 0o644
                tf.addfile(info, io.BytesIO(content))
        for name, target in (hardlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.LNKTYPE
            info.linkname = target
            info.mtime = ARCHIVE_MTIME
            tf.addfile(info)
    return sha256_of(path)


def build_zip(path: Path, members: dict[str, bytes | str | None]) -> str:
    """Write a .zip (symlinks become small files, as zipfile cannot store links)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            if content is None:
                zf.writestr(name + "/", b"")
                continue
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100755 if "/bin/" in name else 0o100644) << 16
            zf.writestr(info, content.encode() if isinstance(content, str) else content)
    return sha256_of(path)


def build_pbs_archive(directory: Path, version: str = "3.11.7", ext: str = "tar.gz") -> tuple[Path, str]:
    """A fake PBS install_only archive under its upstream-style name; returns (path, sha256)."""
    path = directory / pbs_filename(version, ext)
    members = runtime_members(version)
    sha = build_zip(path, members) if ext == "zip" else build_tar_gz(path, members)
    return path, sha


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_runtime_tree(folder: Path, version: str | None = "3.11.7", *, complete: bool = True) -> Path:
    """An unpacked runtime as PDM leaves it, with both POSIX and Windows interpreter markers.

    ``version=None`` leaves out ``patchlevel.h`` (a tree whose version cannot be read cheaply).
    """
    plain = (version or "3.11.0").rstrip("t")
    minor = ".".join(plain.split(".")[:2]) + ("t" if version and version.endswith("t") else "")
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python3").write_text("#!/bin/sh\n")
    (folder / "python.exe").write_bytes(b"MZ")
    if complete:
        (folder / "lib" / f"python{minor}").mkdir(parents=True)
        (folder / "lib" / f"python{minor}" / "os.py").write_text("")
        (folder / "Lib").mkdir(exist_ok=True)
        (folder / "Lib" / "os.py").write_text("")
    if version is not None:
        (folder / "include" / f"python{minor}").mkdir(parents=True)
        (folder / "include" / f"python{minor}" / "patchlevel.h").write_text(f'#define PY_VERSION "{plain}"\n')
    return folder
