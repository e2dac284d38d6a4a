"""Lock inputs from PDM's world: its sources (and the spec's uv indexes), the cutoff date.

Every command that needs locks (``lock``, ``build``, ``publish``, ``show``) computes them here, so
they all agree on which indexes a lock depends on and hence on whether it is stale.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pdm_stack.indexes import PackageIndex
from pdm_stack.lock.stack_lock import LockedLayer, LockOptions, load_locked_layers
from pdm_stack.pdm_plugin.runtime_config import package_indexes

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from pdm.project import Project

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack


def project_indexes(project: Project, stack: Stack) -> tuple[PackageIndex, ...]:
    """PDM sources first, then the spec's ``[[tool.uv.index]]`` and ``find_links`` folders."""
    indexes = list(package_indexes(project))
    names = {index.name for index in indexes}
    indexes += [index for index in stack.settings.uv_indexes if index.name not in names]
    for number, folder in enumerate(stack.settings.find_links, start=1):
        indexes.append(PackageIndex(f"find-links-{number}", folder.as_uri(), "find_links"))
    return tuple(indexes)


def lock_options(project: Project, stack: Stack, options: argparse.Namespace | None = None) -> LockOptions:
    """Precedence of the cutoff: ``--exclude-newer``, then ``UV_EXCLUDE_NEWER``, then the spec."""
    cutoff = getattr(options, "exclude_newer", None) or os.environ.get("UV_EXCLUDE_NEWER")
    return LockOptions(
        indexes=project_indexes(project, stack),
        exclude_newer=cutoff or stack.settings.exclude_newer,
    )


def valid_locks(project: Project, stack: Stack, layers: Sequence[Layer]) -> dict[str, LockedLayer]:
    """Valid locks of ``layers`` and everything below them; a stale one says what to run."""
    return load_locked_layers(stack, layers, lock_options(project, stack))
