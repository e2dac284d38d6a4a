"""Choosing which layers a command works on, by name globs.

Every command takes the same selection options, so a user learns them once: ``--include`` globs
match spec names (``numpy``) and env names (``framework-numpy``); dependencies or derived layers
can be pulled in, e.g. to relock everything above a changed framework.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.graph.layer_graph import Layer, StackGraph


def select_layers(
    graph: StackGraph,
    patterns: Sequence[str] = (),
    *,
    include_dependencies: bool = False,
    include_derived: bool = False,
) -> list[Layer]:
    """Layers matching any pattern (all when none given), plus the requested relatives, in stack order."""
    if not patterns:
        return list(graph.layers)
    chosen: set[str] = set()
    for pattern in patterns:
        matched = [
            layer.env_name
            for layer in graph
            if fnmatchcase(layer.name, pattern) or fnmatchcase(layer.env_name, pattern)
        ]
        if not matched:
            names = ", ".join(layer.env_name for layer in graph)
            raise StackError(f"--include '{pattern}' matches no layer (layers: {names})")
        chosen.update(matched)
    if include_dependencies:
        chosen.update(dep for name in list(chosen) for dep in graph.by_env_name(name).depends_on)
    if include_derived:
        chosen.update(
            other.env_name for name in list(chosen) for other in graph.derived_layers(graph.by_env_name(name))
        )
    return [layer for layer in graph if layer.env_name in chosen]
