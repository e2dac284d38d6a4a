"""Package attributes imported from their module on first use (PEP 562 ``__getattr__``).

PDM and Hatch import pdm-stack's plugins on every run; packages whose ``__init__`` re-exports
the core would load all of it just to register a command. Re-exports resolved on first access
keep ``from pdm_stack.publish import publish_layers`` working at no cost to the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_attributes(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` serving each name of ``modules`` from ``<package>.<module>``."""

    def __getattr__(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
