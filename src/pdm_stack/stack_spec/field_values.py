"""What a layer can be built for and how its runtime may be found: one definition of each rule.

The spec loader validates these fields; the graph, the lock and the runtime provider act on
them. Defining the values and their parsing once means a value the spec accepts is always one
the later stages understand (and a value they reject is refused when the spec is read).
"""

from __future__ import annotations

import re

#: Target platforms understood by the venvstacks layer format, in its canonical order.
PLATFORMS: tuple[str, ...] = (
    "win_amd64",
    "win_arm64",
    "linux_x86_64",
    "linux_aarch64",
    "macosx_arm64",
    "macosx_x86_64",
)

#: glibc floor used when a layer does not set ``linux_target`` (the manylinux_2_28 baseline).
DEFAULT_GLIBC = "2.28"
#: manylinux floors uv 0.9+ accepts in ``--python-platform`` (``x86_64-manylinux_2_28`` ...).
GLIBC_FLOORS: tuple[str, ...] = (
    "2.17",
    *(f"2.{minor}" for minor in (28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)),
)
_LINUX_TARGET = re.compile(r"^glibc(?:@(?P<version>\d+\.\d+))?$")

#: ``local_runtime`` values: use a CPython found on this machine first, only as a last resort
#: (the default), or never.
LOCAL_RUNTIME_MODES: tuple[str, ...] = ("prefer", "fallback", "never")
DEFAULT_LOCAL_RUNTIME = "fallback"


def glibc_floor(linux_target: str | None) -> str:
    """The glibc version (``2.28``) a ``linux_target`` value (``glibc`` / ``glibc@2.31``) asks for.

    Raises ValueError (the reason, for a message naming the field) for anything else,
    a floor uv cannot lock for included.
    """
    if linux_target is None:
        return DEFAULT_GLIBC
    match = _LINUX_TARGET.match(linux_target)
    if match is None:
        raise ValueError(f"invalid value {linux_target!r}: expected 'glibc' or 'glibc@X.Y'")
    floor = match.group("version") or DEFAULT_GLIBC
    if floor not in GLIBC_FLOORS:
        raise ValueError(f"uv cannot lock for glibc {floor}; supported floors: {', '.join(GLIBC_FLOORS)}")
    return floor
