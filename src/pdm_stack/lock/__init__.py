"""Integrated cross-layer locking with uv: one PEP 751 lock per layer, consistent across layers."""

from pdm_stack.lock.layer_lock import (
    LockInputs,
    LockPaths,
    LockResult,
    LockStatus,
    check_lock,
    load_layer_lock,
    lock_layer,
)
from pdm_stack.lock.pylock import InheritedPackage, LayerLock, LockedPackage
from pdm_stack.lock.uv_compile import LockError

__all__ = [
    "InheritedPackage",
    "LayerLock",
    "LockError",
    "LockInputs",
    "LockPaths",
    "LockResult",
    "LockStatus",
    "LockedPackage",
    "check_lock",
    "load_layer_lock",
    "lock_layer",
]
