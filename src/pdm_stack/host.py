"""Facts about the machine pdm-stack runs on, in the vocabulary of the layer format."""

from __future__ import annotations

import platform
import sys

_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}


def host_platform() -> str:
    """The venvstacks platform name of this machine (``linux_x86_64``, ``win_amd64``, ...)."""
    machine = _MACHINES.get(platform.machine().lower(), platform.machine().lower())
    if sys.platform == "win32":
        return "win_amd64" if machine == "x86_64" else "win_arm64"
    if sys.platform == "darwin":
        return "macosx_arm64" if machine == "aarch64" else "macosx_x86_64"
    return f"linux_{machine}"
