"""What is known about a layer on disk: its lock and its build.

Locking and building are separate capabilities; until a capability exists its fields stay
``None``/``False`` rather than being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.build.records import is_built
from pdm_stack.spec.model import LayerKind

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack


@dataclass(frozen=True)
class LayerStatus:
    install_target: str | None
    lock_file: Path | None
    lock_valid: bool
    build_dir: Path | None
    built: bool


def layer_status(stack: Stack, layer: Layer) -> LayerStatus:
    # A versioned layer's install target carries its lock version, which only a lock can provide.
    install_target = None if layer.spec.versioned else layer.env_name
    build_dir = stack.settings.build_dir
    # Only runtime layers can be built so far; the others stay unknown rather than "not built".
    buildable = layer.kind is LayerKind.RUNTIME
    return LayerStatus(
        install_target=install_target,
        lock_file=None,
        lock_valid=False,
        build_dir=build_dir / layer.env_name if buildable else None,
        built=buildable and is_built(build_dir, layer.env_name),
    )
