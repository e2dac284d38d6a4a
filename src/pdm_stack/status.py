"""What is known about a layer on disk: its lock and its build.

Fields a caller cannot know stay ``None``/``False`` rather than being guessed: a versioned
layer's install target (hence its folder) comes from its lock, and the lock fields are filled by
the caller that checked the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.building.build_records import built_record

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockedLayer
    from pdm_stack.stack import Stack


@dataclass(frozen=True)
class LayerStatus:
    install_target: str | None
    lock_file: Path | None
    lock_valid: bool
    build_dir: Path | None
    built: bool


def layer_status(stack: Stack, layer: Layer, locked: LockedLayer | None = None) -> LayerStatus:
    """The layer's build state; ``locked`` (its valid lock, if known) names its install target.

    ``built`` means complete (swapped into place) and recorded, for the current install target
    and, when the lock is known, from that lock (a build of an older lock is not its build).
    Without a lock, a versioned layer reports the folder of its last build, if any.
    """
    build_dir = stack.settings.build_dir
    if locked is not None:
        install_target: str | None = locked.install_target
    else:
        install_target = None if layer.spec.versioned else layer.env_name
    record = built_record(build_dir, layer.env_name)
    folder = install_target or (record.folder if record is not None else None)
    return LayerStatus(
        install_target=install_target,
        lock_file=None,
        lock_valid=False,
        build_dir=build_dir / folder if folder else None,
        built=record is not None
        and record.folder == folder
        and (locked is None or record.requirements_hash == locked.requirements_hash),
    )
