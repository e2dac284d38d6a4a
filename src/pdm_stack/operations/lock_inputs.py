"""The project-wide inputs of every lock: indexes and the date cutoff.

A lock records the indexes it was resolved from, so every front end must list them in the same
order or locks made by one would be stale for the other: the front end's own sources first (PDM's
``[[tool.pdm.source]]`` and config; PyPI for Hatch, as PDM's default), then the spec's
``[[tool.uv.index]]`` and ``find_links`` folders.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pdm_stack.errors import StackError
from pdm_stack.indexes import PackageIndex, mask_credentials, url_problem
from pdm_stack.lock.stack_lock import LockOptions, lock_statuses
from pdm_stack.stack_spec.loader import _EXCLUDE_NEWER as EXCLUDE_NEWER

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack

#: What PDM searches when nothing else is configured; front ends without sources of their own
#: use it so their locks agree with PDM's.
PYPI = PackageIndex("pypi", "https://pypi.org/simple")


def stack_indexes(stack: Stack, front_end_indexes: Sequence[PackageIndex]) -> tuple[PackageIndex, ...]:
    """The front end's indexes first, then the spec's ``[[tool.uv.index]]`` and ``find_links``."""
    indexes = list(front_end_indexes)
    defaults = [index for index in stack.settings.uv_indexes if index.default]
    if defaults:
        # A uv index marked ``default = true`` replaces PyPI, and is searched last as PyPI would be.
        indexes = [index for index in indexes if index.name != "pypi"]
    names = {index.name for index in indexes}
    indexes += [index for index in stack.settings.uv_indexes if index.name not in names and not index.default]
    indexes += [index for index in defaults if index.name not in names]
    for number, folder in enumerate(stack.settings.find_links, start=1):
        indexes.append(PackageIndex(f"find-links-{number}", folder.as_uri(), "find_links"))
    for index in indexes:
        problem = url_problem(index)
        if problem is not None:
            raise StackError(
                f"index '{index.name}': malformed URL {mask_credentials(index.url)!r}: {problem}"
            )
    return tuple(_in_project(index, stack) for index in indexes)


def _in_project(index: PackageIndex, stack: Stack) -> PackageIndex:
    """A ``file:`` index inside the project is identified by its path relative to the project.

    "The project" is the folder holding the lock folder (the spec's folder by default): a spec
    moved elsewhere with its locks kept in place (``pdm stack import``) keeps its locks valid.
    """
    parts = urlsplit(index.url)
    if parts.scheme != "file":
        return index
    path = Path(url2pathname(parts.path)).resolve()
    base = stack.settings.requirements_dir.resolve().parent
    if not (path.is_relative_to(base) or path.is_relative_to(stack.spec.root.resolve())):
        return index
    relative = Path(os.path.relpath(path, base)).as_posix()
    return dataclasses.replace(index, identity=f"<project>/{relative}")


def lock_options(
    stack: Stack,
    front_end_indexes: Sequence[PackageIndex],
    *,
    exclude_newer: str | None = None,
    option_name: str = "--exclude-newer",
) -> LockOptions:
    """Precedence of the cutoff: the front end's option, then ``UV_EXCLUDE_NEWER``, then the spec.

    Only absolute dates and times are accepted (as in the spec): a relative one (uv's ``1 week``)
    would change what a lock resolves to while its hash, and ``locked_at``, stayed the same.
    """
    cutoff, where = exclude_newer, option_name
    if not cutoff:
        cutoff, where = os.environ.get("UV_EXCLUDE_NEWER"), "UV_EXCLUDE_NEWER"
    if cutoff and EXCLUDE_NEWER.match(cutoff) is None:
        raise StackError(
            f"{where} {cutoff!r} is not a date or time: expected e.g. '2025-06-01' or '2025-06-01T00:00:00Z'"
        )
    return LockOptions(
        indexes=stack_indexes(stack, front_end_indexes),
        exclude_newer=cutoff or stack.settings.exclude_newer,
    )


def stale_locks(stack: Stack, layers: Sequence[Layer], options: LockOptions) -> list[str]:
    """``"<env name> (<reasons>)"`` for each selected layer whose lock is missing or stale.

    What a CI check ("locks are current or fail") reports; layers without target platforms have
    nothing to lock and are left out.
    """
    statuses = lock_statuses(stack, options)
    return [
        f"{layer.env_name} ({'; '.join(statuses[layer.env_name].reasons)})"
        for layer in layers
        if layer.platforms and not statuses[layer.env_name].valid
    ]
