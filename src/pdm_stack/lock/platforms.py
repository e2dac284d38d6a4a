"""Target platforms as uv and PEP 508 markers see them.

A layer names its targets with venvstacks' short names (``linux_x86_64`` ...). uv resolves for one
concrete target at a time (``--python-platform``), and the merged pylock.toml tells installers
which entries apply where with environment markers; both translations live here so lock files and
uv invocations can never disagree about what a platform means.
"""

from __future__ import annotations

from pdm_stack.errors import StackError
from pdm_stack.stack_spec.field_values import DEFAULT_GLIBC, GLIBC_FLOORS, PLATFORMS

#: uv ``--python-platform`` per venvstacks platform; ``{glibc}`` is the manylinux floor (``2_28``).
_UV_PLATFORMS: dict[str, str] = {
    "win_amd64": "x86_64-pc-windows-msvc",
    "win_arm64": "aarch64-pc-windows-msvc",
    "linux_x86_64": "x86_64-manylinux_{glibc}",
    "linux_aarch64": "aarch64-manylinux_{glibc}",
    "macosx_arm64": "aarch64-apple-darwin",
    "macosx_x86_64": "x86_64-apple-darwin",
}

#: PEP 508 marker selecting each platform (``platform_machine`` spellings are the OS's own).
PLATFORM_MARKERS: dict[str, str] = {
    "win_amd64": "sys_platform == 'win32' and platform_machine == 'AMD64'",
    "win_arm64": "sys_platform == 'win32' and platform_machine == 'ARM64'",
    "linux_x86_64": "sys_platform == 'linux' and platform_machine == 'x86_64'",
    "linux_aarch64": "sys_platform == 'linux' and platform_machine == 'aarch64'",
    "macosx_arm64": "sys_platform == 'darwin' and platform_machine == 'arm64'",
    "macosx_x86_64": "sys_platform == 'darwin' and platform_machine == 'x86_64'",
}


def uv_python_platform(platform: str, glibc: str = DEFAULT_GLIBC) -> str:
    """uv's ``--python-platform`` value for a venvstacks platform name and glibc floor."""
    template = _UV_PLATFORMS.get(platform)
    if template is None:
        raise StackError(f"unknown target platform '{platform}' (expected one of {', '.join(PLATFORMS)})")
    if "{glibc}" not in template:
        return template
    if glibc not in GLIBC_FLOORS:
        raise StackError(
            f"uv cannot lock for glibc {glibc}; supported floors: {', '.join(GLIBC_FLOORS)}",
            field="linux_target",
        )
    return template.format(glibc=glibc.replace(".", "_"))


def platforms_marker(platforms: list[str] | tuple[str, ...], all_platforms: tuple[str, ...]) -> str | None:
    """Marker for an entry used on ``platforms`` only; ``None`` when it applies to every target."""
    if set(platforms) >= set(all_platforms):
        return None
    ordered = [p for p in PLATFORMS if p in platforms]
    if len(ordered) == 1:
        return PLATFORM_MARKERS[ordered[0]]
    return " or ".join(f"({PLATFORM_MARKERS[p]})" for p in ordered)


def sort_platforms(platforms: set[str] | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Platforms in the canonical venvstacks order, so output never depends on set iteration."""
    return tuple(p for p in PLATFORMS if p in platforms)
