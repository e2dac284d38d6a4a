"""Reading a lock venvstacks 0.8 wrote, so moving a stack to pdm-stack keeps its pins.

venvstacks writes the same file names as pdm-stack (``requirements/<env>/pylock.<stem>.toml`` and
``.meta.json``), but one universal lock with environment markers, and hashes computed its own way.
pdm-stack therefore does not accept such a lock as current: it relocks the layer with the lock's
pins as preferences (uv keeps each one unless a requirement forces a change), and when the result
has exactly those pins, the new lock keeps venvstacks' ``lock_version`` and ``locked_at``.
"""

from __future__ import annotations

import tomllib
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from pdm_stack.lock.platforms import sort_platforms
from pdm_stack.lock.pylock import TOOL, LayerLock, LockedPackage

#: What a reason says about a lock venvstacks wrote (shown by ``show`` and stale-lock errors).
FOREIGN_REASON = "written by venvstacks; 'pdm stack lock' adopts it, keeping its pins"

#: venvstacks marks packages a lower layer provides with this never-true marker clause.
_SHARED_MARKER = "from_lower_layer"

#: Marker environment of each target platform (what ``sys_platform`` etc. are there).
_ENVIRONMENTS: dict[str, dict[str, str]] = {
    "win_amd64": {"sys_platform": "win32", "platform_machine": "AMD64", "platform_system": "Windows"},
    "win_arm64": {"sys_platform": "win32", "platform_machine": "ARM64", "platform_system": "Windows"},
    "linux_x86_64": {"sys_platform": "linux", "platform_machine": "x86_64", "platform_system": "Linux"},
    "linux_aarch64": {"sys_platform": "linux", "platform_machine": "aarch64", "platform_system": "Linux"},
    "macosx_arm64": {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"},
    "macosx_x86_64": {"sys_platform": "darwin", "platform_machine": "x86_64", "platform_system": "Darwin"},
}


def is_venvstacks_lock(text: str) -> bool:
    """Whether ``text`` is a pylock.toml that venvstacks (not pdm-stack) wrote."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return isinstance(data.get("packages"), list) and TOOL not in data.get("tool", {})


def platform_environment(platform: str, python_version: str) -> dict[str, str]:
    """PEP 508 marker variables on ``platform`` for a CPython ``X.Y``."""
    series = ".".join(python_version.split(".")[:2])
    return {
        **_ENVIRONMENTS[platform],
        "os_name": "nt" if platform.startswith("win") else "posix",
        "python_version": series,
        "python_full_version": python_version if python_version.count(".") == 2 else f"{series}.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }


def read_venvstacks_lock(
    text: str, env_name: str, python_version: str, platforms: tuple[str, ...]
) -> LayerLock:
    """The layer's own pins on each of ``platforms`` (packages from lower layers left out).

    Only names and versions are kept: they are preferences for a new resolution, whose wheels
    (and hashes) uv records afresh.
    """
    data = tomllib.loads(text)
    packages = []
    for entry in data.get("packages", []):
        marker_text = str(entry.get("marker", "") or "")
        if _SHARED_MARKER in marker_text:
            continue
        where = tuple(p for p in platforms if _applies(marker_text, platform_environment(p, python_version)))
        if where:
            packages.append(
                LockedPackage(canonicalize_name(entry["name"]), str(entry["version"]), sort_platforms(where))
            )
    return LayerLock(env_name, python_version, sort_platforms(platforms), tuple(packages))


def same_pins(old: LayerLock, new: LayerLock) -> bool:
    """Whether two locks install the same versions on the same platforms."""
    return _pins(old) == _pins(new)


def _pins(lock: LayerLock) -> set[tuple[str, str, str]]:
    return {(p.name, p.version, platform) for p in lock.packages for platform in p.platforms}


def _applies(marker_text: str, environment: dict[str, Any]) -> bool:
    if not marker_text:
        return True
    try:
        return Marker(marker_text).evaluate(environment)
    except InvalidMarker:
        return True
