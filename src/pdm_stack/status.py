"""What is known about a layer on disk: its lock and its build.

Locking and building are separate capabilities; until a capability exists its fields stay
``None``/``False`` rather than being guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    return LayerStatus(
        install_target=install_target,
        lock_file=None,
        lock_valid=False,
        build_dir=None,
        built=False,
    )
