"""The sha256 of a file, read in chunks by the standard library (layers hold gigabyte files).

One function for the whole core: runtime archives in the cache, shared libraries compared
across layers, runtime trees and application modules all hash files the same way. The
standalone deployer keeps its own stdlib copy in ``deploy/common.py`` (it runs without
pdm-stack, on Python versions before ``hashlib.file_digest``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file's content."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()
