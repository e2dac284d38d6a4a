"""Running ``uv pip compile`` for one layer on one target platform.

uv resolves for a single concrete target with ``--python-platform``; pdm-stack runs it once per
target platform (in parallel) and merges the results itself, because only a per-platform
resolution proves that wheels exist for every platform the layer is built for. Credentials reach
uv only through the environment (see :mod:`pdm_stack.indexes`), never through argv or files.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Flags shared by every resolution: a PEP 751 lock with hashes, wheels only, no comments.
UV_COMPILE_FLAGS: tuple[str, ...] = (
    "--format",
    "pylock.toml",
    "--generate-hashes",
    "--only-binary",
    ":all:",
    "--no-header",
    "--no-annotate",
    "--quiet",
    # uv would otherwise look for (and try to download) an interpreter of the *target* version;
    # with wheels only it never runs one, so the current interpreter is enough (see compile_command).
    "--no-python-downloads",
)

_NO_WHEELS = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:[<>=!~]=?[^\s,]*)?\s+(?:has|have)\s+no\s+"
    r"(?:usable wheels|wheels with a matching (?:platform|Python ABI|Python implementation)"
    r"(?: tag| tags)?)"
)
_NOT_FOUND = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry")


@dataclass(frozen=True)
class UvFailure:
    """uv's own explanation of a failed resolution, kept for ``-v`` output."""

    platform: str
    returncode: int
    stderr: str


class LockError(StackError):
    """A lock failed; ``details`` holds uv's full explanation for verbose output."""

    def __init__(self, message: str, *, layer: str | None = None, details: str = "") -> None:
        super().__init__(message, layer=layer)
        self.details = details


@functools.cache
def find_uv() -> str:
    """Path of the uv binary shipped with the ``uv`` package (a declared dependency).

    Cached and called before any worker thread starts: ``uv.find_uv_bin`` reads
    ``sysconfig`` config vars, whose lazy initialisation is not thread-safe on Python 3.11.
    """
    from uv import find_uv_bin

    return os.fsdecode(find_uv_bin())


def compile_command(
    uv: str,
    requirements_file: Path,
    *,
    python_version: str,
    python_platform: str,
    constraints_file: Path | None = None,
    exclude_newer: str | None = None,
) -> list[str]:
    """The exact argv for one resolution (no secrets: indexes travel in the environment)."""
    command = [uv, "pip", "compile", str(requirements_file), *UV_COMPILE_FLAGS]
    command += ["--python", sys.executable]
    command += ["--python-version", python_version, "--python-platform", python_platform]
    if constraints_file is not None:
        command += ["--constraints", str(constraints_file)]
    if exclude_newer:
        command += ["--exclude-newer", exclude_newer]
    return command


def run_compile(
    *,
    layer: str,
    platform: str,
    requirements: Sequence[str],
    constraints: Mapping[str, str],
    python_version: str,
    python_platform: str,
    index_env: Mapping[str, str],
    exclude_newer: str | None = None,
    macosx_target: str | None = None,
    uv: str | None = None,
) -> dict[str, Any]:
    """Resolve ``requirements`` for one platform; returns uv's pylock.toml as parsed TOML.

    ``constraints`` are ``{name: version}`` pins from lower layers. Failures become a
    :class:`LockError` naming the layer, the platform and (when uv says which) the package.
    """
    uv = uv or find_uv()
    with tempfile.TemporaryDirectory(prefix="pdm-stack-lock-") as tmp:
        folder = Path(tmp)
        requirements_file = folder / "requirements.in"
        requirements_file.write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
        constraints_file = None
        if constraints:
            constraints_file = folder / "constraints.txt"
            lines = (f"{name}=={version}\n" for name, version in sorted(constraints.items()))
            constraints_file.write_text("".join(lines), encoding="utf-8")
        command = compile_command(
            uv,
            requirements_file,
            python_version=python_version,
            python_platform=python_platform,
            constraints_file=constraints_file,
            exclude_newer=exclude_newer,
        )
        env = {**os.environ, **index_env}
        if macosx_target and platform.startswith("macosx"):
            env["MACOSX_DEPLOYMENT_TARGET"] = macosx_target
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, check=False)
    if result.returncode != 0:
        raise explain_failure(layer, UvFailure(platform, result.returncode, result.stderr), constraints)
    try:
        return tomllib.loads(result.stdout)
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"uv printed an unreadable pylock.toml for {platform}: {exc}", layer=layer) from exc


def explain_failure(layer: str, failure: UvFailure, constraints: Mapping[str, str]) -> LockError:
    """Turn uv's resolver report into one actionable line; the full report goes in ``details``."""
    text = failure.stderr.strip()
    details = f"uv output for {failure.platform}:\n{text}"
    match = _NO_WHEELS.search(text)
    if match:
        name = match.group("name")
        return LockError(
            f"no wheel of '{name}' is available for platform {failure.platform} "
            "(pdm-stack locks wheels only); pick another version or drop the platform",
            layer=layer,
            details=details,
        )
    match = _NOT_FOUND.search(text)
    if match:
        return LockError(
            f"package '{match.group('name')}' was not found on the configured indexes"
            f" (platform {failure.platform})",
            layer=layer,
            details=details,
        )
    if "No solution found" in text or "unsatisfiable" in text:
        pinned = sorted(name for name in constraints if _mentions(text, name))
        below = (
            f"; pinned by lower layers: {', '.join(f'{n}=={constraints[n]}' for n in pinned)}"
            if pinned
            else ""
        )
        reason = _cause_line(text)
        return LockError(
            f"requirements conflict on {failure.platform}: {reason}{below}", layer=layer, details=details
        )
    last = text.splitlines()[-1] if text else f"exit status {failure.returncode}"
    return LockError(f"uv could not lock for {failure.platform}: {last}", layer=layer, details=details)


def _mentions(text: str, name: str) -> bool:
    pattern = re.escape(name).replace(r"\-", "[-_.]").replace("_", "[-_.]")
    return re.search(rf"(?<![\w-]){pattern}(?![\w-])", text, flags=re.IGNORECASE) is not None


def _cause_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("cause:"):
            return stripped.removeprefix("cause:").strip()
    return "no set of versions satisfies every requirement"
