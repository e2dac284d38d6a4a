"""The stack definition: what ``[tool.venvstacks]`` (or a ``venvstacks.toml``) declares.

``load_stack`` reads and validates a spec file into a :class:`StackSpec`; the layer graph built
from it lives in :mod:`pdm_stack.graph`.
"""

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
