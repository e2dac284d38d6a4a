"""Lock inputs from PDM's world: its sources (and the spec's uv indexes), the cutoff date.

Every command that needs locks (``lock``, ``build``, ``publish``, ``show``) computes them here, so
they all agree on which indexes a lock depends on and hence on whether it is stale. The ordering
and validation rules are the core's (:mod:`pdm_stack.operations.lock_inputs`), shared with Hatch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.cli.options import ArgumentGroup

from pdm_stack.pdm_plugin.runtime_config import package_indexes

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from pdm.project import Project

    from pdm_stack.graph import Layer
    from pdm_stack.indexes import PackageIndex
    from pdm_stack.lock.stack_lock import LockedLayer, LockOptions
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
    # The core loads when a command runs, not on every pdm run (see common.py).
    from pdm_stack.operations import lock_inputs

    return lock_inputs.stack_indexes(stack, package_indexes(project))


def lock_options(project: Project, stack: Stack, options: argparse.Namespace | None = None) -> LockOptions:
    """Precedence of the cutoff: ``--exclude-newer``, then ``UV_EXCLUDE_NEWER``, then the spec."""
    from pdm_stack.operations import lock_inputs

    return lock_inputs.lock_options(
        stack, package_indexes(project), exclude_newer=getattr(options, "exclude_newer", None)
    )


def valid_locks(project: Project, stack: Stack, layers: Sequence[Layer]) -> dict[str, LockedLayer]:
    """Valid locks of ``layers`` and everything below them; a stale one says what to run."""
    from pdm_stack.lock.stack_lock import load_locked_layers

    return load_locked_layers(stack, layers, lock_options(project, stack))
