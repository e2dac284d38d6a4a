"""Saying which lock input changed, so a stale-lock message tells the user what to look at.

A lock's ``.meta.json`` keeps the non-requirement inputs it was made from (``other_inputs``, the
values ``other_inputs_hash`` is computed over; never credentials). Comparing them with the current
inputs names the change: the cutoff, the indexes, Python, the platforms or a lower layer's lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Fallback for locks whose metadata does not record its inputs (venvstacks, older pdm-stack).
GENERIC = "python version, platforms, indexes, cutoff or lower layer locks changed"


def describe_changes(recorded: object, current: Mapping[str, Any]) -> list[str]:
    """One phrase per changed input group; ``[GENERIC]`` when the lock recorded no inputs."""
    if not isinstance(recorded, Mapping):
        return [GENERIC]
    changes: list[str] = []
    old_python, new_python = recorded.get("python"), current.get("python")
    if old_python != new_python:
        changes.append(f"Python changed ({old_python} -> {new_python})")
    old_platforms, new_platforms = set(recorded.get("platforms") or ()), set(current.get("platforms") or ())
    if old_platforms != new_platforms:
        parts = []
        if new_platforms - old_platforms:
            parts.append("added " + ", ".join(sorted(new_platforms - old_platforms)))
        if old_platforms - new_platforms:
            parts.append("removed " + ", ".join(sorted(old_platforms - new_platforms)))
        changes.append(f"platforms changed ({'; '.join(parts)})")
    for key, label in (("glibc", "linux_target"), ("macosx", "macosx_target")):
        if recorded.get(key) != current.get(key):
            changes.append(f"{label} changed ({_show(recorded.get(key))} -> {_show(current.get(key))})")
    lower = _lower_changes(recorded.get("lower"), current.get("lower"))
    if lower:
        changes.append(f"lower layer lock changed ({', '.join(lower)})")
    if recorded.get("indexes") != current.get("indexes") or recorded.get("pinned") != current.get("pinned"):
        changes.append(_index_changes(recorded, current))
    old_cutoff, new_cutoff = recorded.get("exclude_newer"), current.get("exclude_newer")
    if old_cutoff != new_cutoff:
        changes.append(f"cutoff changed ({_show(old_cutoff)} -> {_show(new_cutoff)})")
    old_uv, new_uv = recorded.get("uv") or {}, current.get("uv") or {}
    if old_uv != new_uv:
        keys = sorted(k for k in set(old_uv) | set(new_uv) if old_uv.get(k) != new_uv.get(k))
        changes.append(f"uv settings changed ({', '.join(keys)})")
    return changes or [GENERIC]


def _index_changes(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """``indexes changed (added 'corp'; 'pypi' moved)``: which index, as far as the record tells."""
    old = {row[0]: row for row in recorded.get("indexes") or [] if isinstance(row, list) and row}
    new = {row[0]: row for row in current.get("indexes") or [] if isinstance(row, list) and row}
    details = [f"added '{name}'" for name in new if name not in old]
    details += [f"removed '{name}'" for name in old if name not in new]
    details += [f"'{name}' changed" for name in new if name in old and old[name] != new[name]]
    if not details and list(old) != list(new):
        details.append("search order changed")
    if recorded.get("pinned") != current.get("pinned"):
        details.append("package_indexes pins changed")
    return "indexes changed" + (f" ({'; '.join(details)})" if details else "")


def _lower_changes(recorded: object, current: object) -> list[str]:
    old = {row[0]: row[1] for row in recorded} if isinstance(recorded, list) else {}
    new = {row[0]: row[1] for row in current} if isinstance(current, list) else {}
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


def _show(value: object) -> str:
    return "none" if value in (None, "") else str(value)
