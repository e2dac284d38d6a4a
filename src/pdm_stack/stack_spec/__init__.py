"""The stack definition: what ``[tool.venvstacks]`` (or a ``venvstacks.toml``) declares.

``load_stack`` reads and validates a spec file into a :class:`StackSpec`; the layer graph built
from it lives in :mod:`pdm_stack.graph`.

The names below load with their module on first use: the front ends' option parsers, set up on
every ``pdm`` run, need :mod:`~pdm_stack.stack_spec.field_values` but not the loader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.lazy_exports import lazy_attributes

if TYPE_CHECKING:
    from pdm_stack.stack_spec.field_values import PLATFORMS
    from pdm_stack.stack_spec.loader import load_stack
    from pdm_stack.stack_spec.model import (
        LayerKind,
        LayerSpec,
        RuntimeArchiveSpec,
        StackSettings,
        StackSpec,
    )

__all__ = [
    "PLATFORMS",
    "LayerKind",
    "LayerSpec",
    "RuntimeArchiveSpec",
    "StackSettings",
    "StackSpec",
    "load_stack",
]

_MODULES = {
    "PLATFORMS": "field_values",
    "load_stack": "loader",
    "LayerKind": "model",
    "LayerSpec": "model",
    "RuntimeArchiveSpec": "model",
    "StackSettings": "model",
    "StackSpec": "model",
}


__getattr__ = lazy_attributes(__name__, _MODULES)
