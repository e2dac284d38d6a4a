"""Opening a project's stack: the spec and its layer graph, validated together.

Front ends call :func:`open_stack` once per command; every later stage (lock, build, publish)
takes the resulting :class:`Stack`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.errors import StackErrors
from pdm_stack.graph import StackGraph, build_graph
from pdm_stack.stack_spec.loader import display_path, parse_stack

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from pdm_stack.stack_spec.model import StackSettings, StackSpec


@dataclass(frozen=True)
class Stack:
    spec: StackSpec
    graph: StackGraph

    @property
    def settings(self) -> StackSettings:
        return self.spec.settings


def open_stack(path: Path, *, extra_indexes: Iterable[str] = ()) -> Stack:
    """Read, validate and resolve the spec at ``path``; all problems are raised together."""
    spec, errors = parse_stack(path, extra_indexes=extra_indexes)
    graph, graph_errors = build_graph(spec, display_path(path))
    errors.extend(graph_errors)
    if errors:
        raise StackErrors(errors)
    return Stack(spec, graph)
