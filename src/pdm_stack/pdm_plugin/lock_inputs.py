"""Lock inputs from PDM's world: its sources (and the spec's uv indexes), the cutoff date.

Every command that needs locks (``lock``, ``build``, ``publish``, ``show``) computes them here, so
they all agree on which indexes a lock depends on and hence on whether it is stale.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pdm.cli.options import ArgumentGroup

from pdm_stack.errors import StackError
from pdm_stack.indexes import PackageIndex
from pdm_stack.lock.stack_lock import LockedLayer, LockOptions, load_locked_layers
from pdm_stack.pdm_plugin.runtime_config import package_indexes
from pdm_stack.stack_spec.loader import _EXCLUDE_NEWER as EXCLUDE_NEWER

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from pdm.project import Project

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack


#: Options of every command that locks (``lock``, ``build --lock``): declared once, so they agree.
locking_group = ArgumentGroup("Locking")
locking_group.add_argument(
    "--reset-lock",
    metavar="GLOB",
    action="append",
    default=[],
    help="Forget the previous pins of matching layers (name or env name glob, repeatable) and"
    " resolve them afresh; other layers keep their pinned versions where they can",
)
locking_group.add_argument(
    "--exclude-newer",
    metavar="DATE",
    help="Ignore packages uploaded after DATE (e.g. 2025-06-01); also recorded as locked_at. A lock"
    " made with a cutoff stays valid for later commands given none"
    " [env var: UV_EXCLUDE_NEWER; setting: exclude_newer]",
)


def project_indexes(project: Project, stack: Stack) -> tuple[PackageIndex, ...]:
    """PDM sources first, then the spec's ``[[tool.uv.index]]`` and ``find_links`` folders."""
    indexes = list(package_indexes(project))
    names = {index.name for index in indexes}
    indexes += [index for index in stack.settings.uv_indexes if index.name not in names]
    for number, folder in enumerate(stack.settings.find_links, start=1):
        indexes.append(PackageIndex(f"find-links-{number}", folder.as_uri(), "find_links"))
    root = stack.spec.path.parent
    return tuple(_in_project(index, root) for index in indexes)


def _in_project(index: PackageIndex, root: Path) -> PackageIndex:
    """A ``file:`` index inside the project is identified by its path relative to the project."""
    parts = urlsplit(index.url)
    if parts.scheme != "file":
        return index
    try:
        relative = Path(url2pathname(parts.path)).resolve().relative_to(root.resolve())
    except ValueError:
        return index
    return dataclasses.replace(index, identity=f"<project>/{relative.as_posix()}")


def lock_options(project: Project, stack: Stack, options: argparse.Namespace | None = None) -> LockOptions:
    """Precedence of the cutoff: ``--exclude-newer``, then ``UV_EXCLUDE_NEWER``, then the spec.

    Only absolute dates and times are accepted (as in the spec): a relative one (uv's ``1 week``)
    would change what a lock resolves to while its hash, and ``locked_at``, stayed the same.
    """
    cutoff = getattr(options, "exclude_newer", None)
    where = "--exclude-newer"
    if not cutoff:
        cutoff, where = os.environ.get("UV_EXCLUDE_NEWER"), "UV_EXCLUDE_NEWER"
    if cutoff and EXCLUDE_NEWER.match(cutoff) is None:
        raise StackError(
            f"{where} {cutoff!r} is not a date or time: expected e.g. '2025-06-01' or '2025-06-01T00:00:00Z'"
        )
    return LockOptions(
        indexes=project_indexes(project, stack),
        exclude_newer=cutoff or stack.settings.exclude_newer,
    )


def valid_locks(project: Project, stack: Stack, layers: Sequence[Layer]) -> dict[str, LockedLayer]:
    """Valid locks of ``layers`` and everything below them; a stale one says what to run."""
    return load_locked_layers(stack, layers, lock_options(project, stack))
