"""Runtime requests in pbs-installer / ``pdm python install`` notation.

Users already type ``cpython@3.11.7`` for ``pdm python install`` and PDM names its install folders
the same way, so the stack spec reuses that notation instead of inventing its own. Only CPython is
accepted: the layered environments need relocatable python-build-standalone builds, and the PyPy
archives pbs-installer also knows about have a different layout.

Full versions are strings like ``3.11.7`` or, for free-threaded builds, ``3.13.1t``: the ``t`` suffix
is part of the version everywhere in this package, so a version string alone says which build it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RuntimeRequest", "parse_full_version"]

_IMPLEMENTATIONS = ("cpython",)
_REQUEST_RE = re.compile(
    r"""
    ^(?:(?P<impl>[A-Za-z]+)@)?
    (?P<version>\d+\.\d+(?:\.\d+)?)
    (?P<t>t)?$
    """,
    re.VERBOSE,
)
_FULL_VERSION_RE = re.compile(r"^(?:[A-Za-z]+@)?(?P<version>\d+\.\d+\.\d+)(?P<t>t)?$")


def parse_full_version(version: str) -> tuple[tuple[int, int, int], bool]:
    """Split ``3.13.1t`` / ``cpython@3.11.7`` into ``((3, 13, 1), True)``.

    Raises ValueError for anything that is not a complete X.Y.Z version, because callers use the
    result to name folders and compare builds, where a partial version would silently match too much.
    """
    match = _FULL_VERSION_RE.match(version.strip())
    if match is None:
        raise ValueError(f"invalid full Python version {version!r}: expected X.Y.Z, e.g. '3.11.7'")
    major, minor, micro = (int(part) for part in match["version"].split("."))
    return (major, minor, micro), match["t"] is not None


@dataclass(frozen=True)
class RuntimeRequest:
    """A wanted runtime: exact (``3.11.7``) or the newest of a series (``3.11``)."""

    implementation: str
    version: str
    free_threaded: bool = False

    @classmethod
    def parse(cls, text: str) -> RuntimeRequest:
        """Parse ``cpython@3.11.7``, ``cpython@3.13.1t``, ``3.12`` or ``3.13t``.

        A bare major version (``3``) is rejected: a runtime layer pins a minor series because
        every layer above it is locked against that ABI.
        """
        cleaned = text.strip()
        match = _REQUEST_RE.match(cleaned)
        if match is None:
            raise ValueError(
                f"invalid Python runtime request {text!r}: expected e.g. 'cpython@3.11', "
                "'cpython@3.11.7', 'cpython@3.13.1t' (free-threaded) or '3.12'"
            )
        implementation = (match["impl"] or "cpython").lower()
        if implementation not in _IMPLEMENTATIONS:
            raise ValueError(
                f"invalid Python runtime request {text!r}: implementation {implementation!r} is not "
                f"supported (only {', '.join(_IMPLEMENTATIONS)} has relocatable standalone builds)"
            )
        return cls(implementation, match["version"], free_threaded=match["t"] is not None)

    def __str__(self) -> str:
        return f"{self.implementation}@{self.version}{'t' if self.free_threaded else ''}"

    @property
    def is_exact(self) -> bool:
        """Whether the request names one X.Y.Z release rather than a series."""
        return self.version.count(".") == 2

    @property
    def pbs_request(self) -> str:
        """The version string pbs-installer's matcher expects (``3.13t`` for free-threaded)."""
        return f"{self.version}{'t' if self.free_threaded else ''}"

    def matches(self, version: str) -> bool:
        """Whether the full version ``version`` (``3.11.7``, ``3.13.1t``) satisfies the request.

        A version without the ``t`` suffix is a standard (GIL) build, so it never satisfies a
        free-threaded request and vice versa: the two builds are not ABI compatible.
        """
        numbers, free_threaded = parse_full_version(version)
        if free_threaded != self.free_threaded:
            return False
        wanted = tuple(int(part) for part in self.version.split("."))
        return numbers[: len(wanted)] == wanted

    def install_dir_name(self, full_version: str) -> str:
        """The folder name ``pdm python install`` would use, e.g. ``cpython@3.13.1t``.

        ``full_version`` may omit the ``t`` of a free-threaded request; it must otherwise satisfy
        the request, so a folder is never named after a version that was not asked for.
        """
        numbers, free_threaded = parse_full_version(full_version)
        free_threaded = free_threaded or self.free_threaded
        version = ".".join(str(n) for n in numbers) + ("t" if free_threaded else "")
        if not self.matches(version):
            raise ValueError(f"Python {version} does not satisfy the runtime request {self}")
        return f"{self.implementation}@{version}"
