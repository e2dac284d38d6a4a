"""Running ``uv pip compile`` for one layer on one target platform.

uv resolves for a single concrete target with ``--python-platform``; pdm-stack runs it once per
target platform (in parallel) and merges the results itself, because only a per-platform
resolution proves that wheels exist for every platform the layer is built for. Credentials reach
uv only through the environment (see :mod:`pdm_stack.indexes`), never through argv or files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit
from packaging.utils import canonicalize_name

from pdm_stack.errors import StackError
from pdm_stack.indexes import mask_credentials, strip_credentials
from pdm_stack.lock.pylock import read_pylock
from pdm_stack.uv_tool import find_uv, uv_error_summary

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pdm_stack.indexes import PackageIndex

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
    # Only what pdm-stack passes (and hashes) may influence a lock: no uv.toml, no [tool.uv].
    "--no-config",
)

#: Resolver settings of the spec (``[tool.pdm-stack]`` name) and the uv flag passing each one.
UV_OPTION_FLAGS = {
    "prerelease": "--prerelease",
    "resolution": "--resolution",
    "index_strategy": "--index-strategy",
}

#: ``UV_*`` variables that change how uv works, never what it resolves.
UV_PASSTHROUGH = frozenset(
    {
        "UV_CACHE_DIR",
        "UV_NO_CACHE",
        "UV_NATIVE_TLS",
        "UV_OFFLINE",
        "UV_HTTP_TIMEOUT",
        "UV_REQUEST_TIMEOUT",
        "UV_HTTP_RETRIES",
        "UV_CONCURRENT_DOWNLOADS",
        "UV_CONCURRENT_BUILDS",
        "UV_CONCURRENT_INSTALLS",
        "UV_NO_PROGRESS",
        "UV_KEYRING_PROVIDER",
    }
)

#: Credentials of a named index (uv's documented way to authenticate): they never change a resolution.
_UV_CREDENTIALS = re.compile(r"^UV_INDEX_[A-Z0-9_]+_(?:USERNAME|PASSWORD)$")

#: Name of the throwaway project whose dependencies are the layer's requirements.
INPUT_PROJECT = "pdm-stack-layer-input"

#: A version specifier list after a name: ``>=2.32.0,<=2.32.1``.
_SPECIFIERS = r"(?:[<>=!~]=?[^\s,]*(?:,[<>=!~]=?[^\s,]*)*)?"
_NO_WHEELS = re.compile(
    r"(?<![\w.<>=!~,*+-])(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)" + _SPECIFIERS + r"\s+(?:has|have)\s+no\s+"
    r"(?:usable wheels|wheels with a matching (?:platform|Python ABI|Python implementation)"
    r"(?: tag| tags)?)"
)
_FAILED_FETCH = re.compile(r"Failed to (?:fetch|read|query)[^:]*: `?(?P<url>[a-z+]+://[^\s`]+)")
#: Package names as uv's resolver report spells them: ``name>=1``, ``depends on name``,
#: ``versions of name``, ``name has no ...``.
_PACKAGE_MENTION = re.compile(
    r"(?<![\w.<>=!~,*+-])(?P<name>[A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z])(?=[<>=!~]|\s+(?:has|have)\s+no\s)"
    r"|(?:depends on|versions of|require)\s+(?P<bare>[A-Za-z][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z])(?![\w.-])"
)
#: What the layer itself requires in the conflict, from uv's last conclusion.
_LAYER_REQUIRES = re.compile(rf"{INPUT_PROJECT} depends on (?P<requires>.+?), we can conclude", re.DOTALL)
_NOT_FOUND = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry")


@dataclass(frozen=True)
class UvFailure:
    """uv's own explanation of a failed resolution, kept for ``-v`` output."""

    platform: str
    returncode: int
    stderr: str


class LockError(StackError):
    """A lock failed; ``details`` holds uv's full explanation for verbose output."""

    def __init__(
        self, message: str, *, layer: str | None = None, field: str | None = None, details: str = ""
    ) -> None:
        super().__init__(message, layer=layer, field=field)
        self.details = details


def compile_command(
    uv: str,
    input_file: Path,
    *,
    python_version: str,
    python_platform: str,
    output_file: Path,
    constraints_file: Path | None = None,
    exclude_newer: str | None = None,
    uv_options: Mapping[str, Any] | None = None,
    overrides_file: Path | None = None,
) -> list[str]:
    """The exact argv for one resolution (no secrets: indexes travel in the environment)."""
    command = [uv, "pip", "compile", str(input_file), *UV_COMPILE_FLAGS]
    command += ["--python", sys.executable, "--output-file", str(output_file)]
    command += ["--python-version", python_version, "--python-platform", python_platform]
    if constraints_file is not None:
        command += ["--constraints", str(constraints_file)]
    if exclude_newer:
        command += ["--exclude-newer", exclude_newer]
    for option, flag in UV_OPTION_FLAGS.items():
        value = (uv_options or {}).get(option)
        if value:
            command += [flag, str(value)]
    if overrides_file is not None:
        command += ["--overrides", str(overrides_file)]
    return command


def uv_environment(index_env: Mapping[str, str]) -> dict[str, str]:
    """The process environment for uv, minus any ``UV_*`` setting that could change a resolution.

    A lock must depend only on what pdm-stack hashes (spec, settings, indexes); a stray
    ``UV_PRERELEASE`` or ``UV_INDEX_URL`` in a developer's shell must not leak into it.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("UV_") or name in UV_PASSTHROUGH or _UV_CREDENTIALS.match(name)
    }
    # uv reads the macOS target from here; only the spec's macosx_target may set it.
    env.pop("MACOSX_DEPLOYMENT_TARGET", None)
    env.update(index_env)
    return env


def render_input(requirements: Sequence[str], pinned: Mapping[str, PackageIndex]) -> str:
    """uv's input file: the requirements, plus explicit indexes for ``package_indexes`` pins.

    A ``pyproject.toml`` is the only input through which ``uv pip compile`` accepts per-package
    indexes (``[tool.uv.sources]``); their URLs are written without credentials.
    """
    doc = tomlkit.document()
    doc["project"] = {"name": INPUT_PROJECT, "version": "0", "dependencies": list(requirements)}
    if pinned:
        indexes = tomlkit.aot()
        for index in {index.name: index for index in pinned.values()}.values():
            entry = {"name": index.name, "url": index.public_url, "explicit": True}
            if index.kind == "find_links":
                entry["format"] = "flat"
            indexes.append(tomlkit.item(entry))
        doc["tool"] = {
            "uv": {
                "index": indexes,
                "sources": {dist: {"index": index.name} for dist, index in sorted(pinned.items())},
            }
        }
    return tomlkit.dumps(doc)


def render_preferences(packages: Sequence[Mapping[str, Any]]) -> str:
    """A pylock.toml of the previous lock's pins, which uv reads back as preferred versions."""
    doc = tomlkit.document()
    doc["lock-version"] = "1.0"
    doc["created-by"] = "uv"
    entries = tomlkit.aot()
    for package in packages:
        entries.append(tomlkit.item(dict(package)))
    doc["packages"] = entries
    return tomlkit.dumps(doc)


def run_compile(
    *,
    layer: str,
    platform: str,
    requirements: Sequence[str],
    constraints: Mapping[str, str],
    python_version: str,
    python_platform: str,
    index_env: Mapping[str, str],
    pinned: Mapping[str, PackageIndex] | None = None,
    preferences: Sequence[Mapping[str, Any]] = (),
    providers: Mapping[str, str] | None = None,
    indexes: Mapping[str, str] | None = None,
    exclude_newer: str | None = None,
    macosx_target: str | None = None,
    uv_options: Mapping[str, Any] | None = None,
    uv: str | None = None,
) -> dict[str, Any]:
    """Resolve ``requirements`` for one platform; returns uv's pylock.toml as parsed TOML.

    ``constraints`` are ``{name: version}`` pins from lower layers; ``preferences`` are the
    layer's previous pins for this platform (kept unless a requirement forces a change).
    Failures become a :class:`LockError` naming the layer, the platform and (when uv says which)
    the package.
    """
    uv = uv or find_uv()
    with tempfile.TemporaryDirectory(prefix="pdm-stack-lock-") as tmp:
        folder = Path(tmp)
        input_file = folder / "pyproject.toml"
        input_file.write_text(render_input(requirements, pinned or {}), encoding="utf-8")
        output_file = folder / "pylock.toml"
        if preferences:
            output_file.write_text(render_preferences(preferences), encoding="utf-8")
        constraints_file = None
        if constraints:
            constraints_file = folder / "constraints.txt"
            lines = (f"{name}=={version}\n" for name, version in sorted(constraints.items()))
            constraints_file.write_text("".join(lines), encoding="utf-8")
        overrides_file = None
        overrides = (uv_options or {}).get("override_dependencies")
        if overrides:
            overrides_file = folder / "overrides.txt"
            overrides_file.write_text("".join(f"{line}\n" for line in overrides), encoding="utf-8")
        command = compile_command(
            uv,
            input_file,
            python_version=python_version,
            python_platform=python_platform,
            output_file=output_file,
            constraints_file=constraints_file,
            exclude_newer=exclude_newer,
            uv_options=uv_options,
            overrides_file=overrides_file,
        )
        env = uv_environment(index_env)
        if macosx_target and platform.startswith("macosx"):
            env["MACOSX_DEPLOYMENT_TARGET"] = macosx_target
        result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=folder, check=False)
        output = output_file.read_text(encoding="utf-8") if result.returncode == 0 else ""
    if result.returncode != 0:
        failure = UvFailure(platform, result.returncode, result.stderr)
        raise explain_failure(layer, failure, constraints, providers or {}, indexes or {})
    try:
        data = tomllib.loads(output)
        read_pylock(data)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise LockError(f"uv wrote an unreadable pylock.toml for {platform}: {exc}", layer=layer) from exc
    return data


def explain_failure(
    layer: str,
    failure: UvFailure,
    constraints: Mapping[str, str],
    providers: Mapping[str, str] | None = None,
    indexes: Mapping[str, str] | None = None,
) -> LockError:
    """Turn uv's resolver report into one actionable line; the full report goes in ``details``."""
    # uv may echo index URLs with their credentials; nothing we print or keep may contain them.
    text = mask_credentials(failure.stderr.strip())
    details = f"uv output for {failure.platform}:\n{text}"
    fetch = _FAILED_FETCH.search(text)
    if fetch:
        url = strip_credentials(fetch.group("url"))
        named = [(n, u) for u, n in (indexes or {}).items() if url.startswith(u.rstrip("/"))]
        where = f"index '{named[0][0]}' ({named[0][1]})" if named else strip_credentials(url, mask=True)
        return LockError(
            f"{where} is unreachable: {_last_cause(text)}; check the URL, the network or `pdm config`",
            layer=layer,
            details=details,
        )
    match = _NO_WHEELS.search(text)
    involved = involved_packages(text)
    # A missing wheel is only the cause when nothing else takes part: "requests 2.32.1 has no
    # wheels" inside a chain that also needs urllib3 is a conflict between requirements.
    if match and involved <= {canonicalize_name(match.group("name"))}:
        name = match.group("name")
        return LockError(
            f"no wheel of '{name}' is available for platform {failure.platform} "
            "(pdm-stack locks wheels only); pick another version or drop the platform",
            layer=layer,
            field="requirements",
            details=details,
        )
    match = _NOT_FOUND.search(text)
    if match:
        return LockError(
            f"package '{match.group('name')}' was not found on the configured indexes"
            f" (platform {failure.platform})",
            layer=layer,
            field="requirements",
            details=details,
        )
    if "No solution found" in text or "unsatisfiable" in text:
        pinned = sorted(name for name in constraints if _mentions(text, name))
        below = (
            "; pinned by lower layers: "
            + ", ".join(f"{n}=={constraints[n]}{_from(n, providers)}" for n in pinned)
            if pinned
            else ""
        )
        return LockError(
            f"requirements conflict on {failure.platform}:"
            f" {_conflict_reason(text, involved, constraints)}{below}",
            layer=layer,
            field="requirements",
            details=details,
        )
    summary = uv_error_summary(text) if text else f"exit status {failure.returncode}"
    return LockError(f"uv could not lock for {failure.platform}: {summary}", layer=layer, details=details)


def _last_cause(text: str) -> str:
    causes = [line.strip().removeprefix("cause:").strip() for line in text.splitlines() if "cause:" in line]
    return causes[-1] if causes else "request failed"


def _from(name: str, providers: Mapping[str, str] | None) -> str:
    layer = (providers or {}).get(name)
    return f" (from {layer})" if layer else ""


def _mentions(text: str, name: str) -> bool:
    pattern = re.escape(name).replace(r"\-", "[-_.]").replace("_", "[-_.]")
    return re.search(rf"(?<![\w-]){pattern}(?![\w-])", text, flags=re.IGNORECASE) is not None


def involved_packages(text: str) -> set[str]:
    """Normalised names of the packages uv's resolver report reasons about (not Python itself)."""
    names: set[str] = {
        canonicalize_name(m.group("name") or m.group("bare")) for m in _PACKAGE_MENTION.finditer(text)
    }
    return names - {INPUT_PROJECT, "python"}


def _conflict_reason(text: str, involved: set[str], constraints: Mapping[str, str]) -> str:
    """Which packages conflict, and what the layer itself asked for (the user's starting point).

    uv lists the lower layers' pins (passed as constraints) among what the input requires; they
    are reported separately as lower-layer pins, so they are left out here.
    """
    requires = _LAYER_REQUIRES.search(text)
    if not involved:
        return _cause_line(text)
    names = sorted(involved)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    what = (
        f"no version of {listed} satisfies every requirement"
        if len(names) == 1
        else f"the requirements on {listed} cannot all be met together"
    )
    if requires:
        pins = {f"{canonicalize_name(name)}=={version}" for name, version in constraints.items()}
        wanted = [
            item
            for item in re.split(r",\s+(?:and\s+)?|\s+and\s+", " ".join(requires.group("requires").split()))
            if item and _canonical_pin(item) not in pins
        ]
        if wanted:
            what += f" (the layer requires {' and '.join(wanted)})"
    return what


def _canonical_pin(requirement: str) -> str:
    name, separator, version = requirement.partition("==")
    return f"{canonicalize_name(name.strip())}=={version.strip()}" if separator else requirement


def _cause_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("cause:"):
            cause = stripped.removeprefix("cause:").strip().rstrip(".")
            # uv names the input project we feed it; users only know their layer.
            return cause.replace(f"{INPUT_PROJECT} depends on", "the layer requires")
    return "no set of versions satisfies every requirement"
