"""Atomic layer builds: build beside the old layer, swap in only when complete.

A layer folder that exists under its final name is always complete. A layer is staged in a
hidden sibling of its final folder (``<build dir>/.<name>.staging-<random>``): at the same depth,
so relative paths computed while staging (interpreter symlinks, ``sitecustomize.py`` entries,
run paths of shared libraries) are already right when the folder is renamed into place. The swap
is two renames on one file system; if a process dies between them, :func:`recover` restores the
previous build on the next run.
"""

from __future__ import annotations

import secrets
import shutil
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pdm_stack.building.layer_config import is_layer_folder
from pdm_stack.errors import StackError
from pdm_stack.folder_lock import LOCK_TIMEOUT_SECONDS, folder_lock

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pdm_stack.reporting import Reporter

STATE_DIR = ".pdm-stack"
#: Marks staging folders in the build dir; anything carrying it is a leftover once no build runs.
STAGING_MARK = ".staging-"
#: The lock file uv leaves at the top of an environment it installed into (created 0666 and
#: meaningless anywhere else): removed before a layer is swapped in, and never shipped.
UV_ENVIRONMENT_LOCK = ".lock"


def state_dir(build_dir: Path) -> Path:
    return build_dir / STATE_DIR


@contextmanager
def build_lock(build_dir: Path, reporter: Reporter, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Serialise builds of one build dir; a second build waits and says so."""
    path = state_dir(build_dir) / "build.lock"
    with folder_lock(path, reporter, activity="build of this stack", timeout=timeout):
        yield


def _parked(dest: Path) -> Path:
    return state_dir(dest.parent) / "previous" / dest.name


def recover(dest: Path) -> None:
    """Undo a swap that was interrupted after the old layer was moved aside."""
    parked = _parked(dest)
    if parked.exists() and not dest.exists():
        parked.rename(dest)
    elif parked.exists():
        shutil.rmtree(parked, ignore_errors=True)


def staging_path(dest: Path) -> Path:
    """A fresh, not yet existing sibling of ``dest`` to build it in."""
    return dest.parent / f".{dest.name}{STAGING_MARK}{secrets.token_hex(4)}"


@contextmanager
def staged_layer(dest: Path) -> Iterator[Path]:
    """Yield a not yet existing staging path beside ``dest``; on success it replaces ``dest``.

    The caller creates the folder. On any exception (Ctrl-C included) the staging folder is
    removed and ``dest`` is untouched; a killed process leaves the staging folder behind, which
    :func:`clean_stale_staging` removes before the next build.
    """
    recover(dest)
    if (dest.exists() or dest.is_symlink()) and not is_layer_folder(dest):
        raise StackError(
            f"{dest} is not a layer pdm-stack built, so a build will not replace it;"
            " move it away or choose another build_dir"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_path(dest)
    try:
        yield staging
        if not staging.is_dir():
            raise StackError(f"internal error: nothing was built for {dest.name}")
        uv_lock = staging / UV_ENVIRONMENT_LOCK
        if uv_lock.is_file() and not uv_lock.is_symlink():
            uv_lock.unlink()
        parked = _parked(dest)
        parked.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists() or dest.is_symlink():
            dest.replace(parked)
        staging.replace(dest)
        shutil.rmtree(parked, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def clean_stale_staging(build_dir: Path) -> None:
    """Remove leftovers of builds that were killed (their staging folders are never reused).

    Only called while holding the build lock, so no other build can be using them.
    """
    shutil.rmtree(state_dir(build_dir) / "staging", ignore_errors=True)  # layout of older versions
    if build_dir.is_dir():
        for leftover in build_dir.glob(f".*{STAGING_MARK}*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)


def remove_layer_folder(build_dir: Path, name: str) -> bool:
    """Delete the layer folder ``name`` (e.g. a versioned layer's previous install target).

    Refuses anything that is not a plain child of the build dir, so a corrupt record can never
    make a build delete something outside it.
    """
    if not name or name in {".", "..", STATE_DIR} or "/" in name or "\\" in name:
        return False
    folder = build_dir / name
    if not is_layer_folder(folder):
        return False
    shutil.rmtree(folder)
    return True
