"""The uv binary pdm-stack runs (locking and installing) and the one line its failures become.

Locking and building both shell out to uv; finding the binary and summarising its errors live
here so the two stages can never disagree about which uv runs or how its errors read.
"""

from __future__ import annotations

import functools
import os

from pdm_stack.indexes import mask_credentials


@functools.cache
def find_uv() -> str:
    """Path of the uv binary shipped with the ``uv`` package (a declared dependency).

    Cached and called before any worker thread starts: ``uv.find_uv_bin`` reads
    ``sysconfig`` config vars, whose lazy initialisation is not thread-safe on Python 3.11.
    """
    from uv import find_uv_bin

    return os.fsdecode(find_uv_bin())


def uv_error_summary(stderr: str) -> str:
    """uv's error in one line: its first error line plus the innermost cause, credentials masked."""
    lines = [line.strip() for line in mask_credentials(stderr).splitlines() if line.strip()]
    # uv prefixes its error lines with "error:" or a cross mark, and causes with arrows or "cause:".
    first = next(
        (
            line.lstrip("\u00d7 ").removeprefix("error:").strip()
            for line in lines
            if line.lower().startswith(("error", "\u00d7"))
        ),
        lines[-1] if lines else "uv failed without a message",
    )
    causes = [
        line.lstrip("\u2570\u2500\u25b6 ").removeprefix("cause:").strip()
        for line in lines
        if line.startswith(("cause:", "\u2570"))
    ]
    if causes and causes[-1] not in first:
        return f"{first.rstrip('.:')}: {causes[-1]}"
    return first
