"""A layer's lock in memory, merged from per-platform uv resolutions, and its pylock.toml form.

The pylock.toml holds exactly the layer's install set (so any PEP 751 installer installs the right
thing), each entry marked with the platforms it applies to. Packages a lower layer provides are
left out of ``[[packages]]`` but recorded under ``[tool.pdm-stack]`` with the layer providing
them, so the lock still says where everything the layer imports comes from.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import tomlkit
from packaging.pylock import Pylock, PylockValidationError
from packaging.utils import canonicalize_name

from pdm_stack.errors import StackError
from pdm_stack.indexes import strip_credentials
from pdm_stack.lock.platforms import PLATFORM_MARKERS, platforms_marker, sort_platforms

if TYPE_CHECKING:
    from collections.abc import Mapping

TOOL = "pdm-stack"


@dataclass(frozen=True)
class LockedPackage:
    """One entry of the install set: a version and its wheels, on some of the layer's platforms."""

    name: str
    version: str
    platforms: tuple[str, ...]
    #: PEP 751 ``wheels`` entries as uv wrote them (url, upload-time, size, hashes).
    wheels: tuple[dict[str, Any], ...] = ()
    #: Other PEP 751 keys uv set (``index``, ``requires-python`` ...), kept verbatim.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InheritedPackage:
    """A package the layer needs but a lower layer installs (same version, by construction)."""

    name: str
    version: str
    layer: str
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class LayerLock:
    env_name: str
    python_version: str
    platforms: tuple[str, ...]
    packages: tuple[LockedPackage, ...]
    inherited: tuple[InheritedPackage, ...] = ()

    def pins(self, platform: str) -> dict[str, tuple[str, str]]:
        """``{name: (version, providing layer)}`` of everything importable here on ``platform``."""
        pins = {p.name: (p.version, p.layer) for p in self.inherited if platform in p.platforms}
        pins.update({p.name: (p.version, self.env_name) for p in self.packages if platform in p.platforms})
        return pins

    @property
    def requirements_hash(self) -> str:
        """Hash of the locked content only, so reformatting the file never looks like a change."""
        content = {
            "packages": [
                [p.name, p.version, list(p.platforms), sorted(_wheel_hashes(p.wheels))] for p in self.packages
            ],
            "inherited": [[p.name, p.version, p.layer, list(p.platforms)] for p in self.inherited],
        }
        digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        return f"sha256:{digest}"


def _wheel_hashes(wheels: tuple[dict[str, Any], ...]) -> list[str]:
    hashes: list[str] = []
    for wheel in wheels:
        for algorithm, value in sorted(dict(wheel.get("hashes", {})).items()):
            hashes.append(f"{algorithm}:{value}")
    return hashes


def merge_resolutions(
    env_name: str,
    python_version: str,
    platforms: tuple[str, ...],
    resolutions: Mapping[str, dict[str, Any]],
    lower_pins: Mapping[str, Mapping[str, tuple[str, str]]],
    label: str | None = None,
) -> LayerLock:
    """Merge uv's per-platform pylock.toml documents into one :class:`LayerLock`.

    ``lower_pins`` maps each platform to ``{name: (version, layer)}`` provided below; those
    packages move to ``inherited``. A different version than the lower pin means the constraint
    did not hold, which would break the layer at run time, so it is an error.
    """
    own: dict[tuple[str, str], dict[str, Any]] = {}
    inherited: dict[tuple[str, str, str], set[str]] = {}
    for platform in platforms:
        pins = lower_pins.get(platform, {})
        for entry in resolutions[platform].get("packages", []):
            name, version = canonicalize_name(entry["name"]), str(entry["version"])
            if name in pins:
                pinned, layer = pins[name]
                if pinned != version:
                    raise StackError(
                        f"'{name}' resolved to {version} on {platform} but {layer} provides {pinned}",
                        layer=label,
                    )
                inherited.setdefault((name, version, layer), set()).add(platform)
                continue
            slot = own.setdefault((name, version), {"platforms": set(), "wheels": {}, "extra": {}})
            slot["platforms"].add(platform)
            for wheel in entry.get("wheels", []):
                url = strip_credentials(str(wheel["url"]))
                slot["wheels"].setdefault(url, {**wheel, "url": url})
            for key, value in entry.items():
                if key not in {"name", "version", "marker", "wheels"}:
                    slot["extra"].setdefault(key, strip_credentials(value) if key == "index" else value)
    packages = tuple(
        LockedPackage(
            name,
            version,
            sort_platforms(slot["platforms"]),
            tuple(slot["wheels"][url] for url in sorted(slot["wheels"])),
            dict(sorted(slot["extra"].items())),
        )
        for (name, version), slot in sorted(own.items())
    )
    inherited_packages = tuple(
        InheritedPackage(name, version, layer, sort_platforms(where))
        for (name, version, layer), where in sorted(inherited.items())
    )
    return LayerLock(env_name, python_version, sort_platforms(platforms), packages, inherited_packages)


def render_pylock(lock: LayerLock) -> str:
    """The PEP 751 text of ``lock``; the same lock always renders to the same bytes."""
    doc = tomlkit.document()
    doc["lock-version"] = "1.0"
    doc["environments"] = [PLATFORM_MARKERS[p] for p in lock.platforms]
    doc["requires-python"] = f"=={_minor(lock.python_version)}.*"
    doc["created-by"] = TOOL
    entries = tomlkit.aot()
    for package in lock.packages:
        table = tomlkit.table()
        table["name"] = package.name
        table["version"] = package.version
        marker = platforms_marker(package.platforms, lock.platforms)
        if marker:
            table["marker"] = marker
        for key, value in package.extra.items():
            table[key] = value
        wheels = tomlkit.array()
        for wheel in package.wheels:
            inline = tomlkit.inline_table()
            inline.update(wheel)
            wheels.append(inline)
        table["wheels"] = wheels.multiline(True)
        if marker:
            table["tool"] = {TOOL: {"platforms": list(package.platforms)}}
        entries.append(table)
    doc["packages"] = entries
    tool = tomlkit.table()
    tool["layer"] = lock.env_name
    tool["python"] = lock.python_version
    tool["platforms"] = list(lock.platforms)
    if lock.inherited:
        provided = tomlkit.aot()
        for item in lock.inherited:
            row = tomlkit.table()
            row["name"], row["version"], row["layer"] = item.name, item.version, item.layer
            row["platforms"] = list(item.platforms)
            provided.append(row)
        tool["inherited"] = provided
    doc["tool"] = {TOOL: tool}
    return tomlkit.dumps(doc)


def read_pylock(data: Mapping[str, Any]) -> Pylock:
    """A parsed pylock.toml document checked against PEP 751 (``packaging.pylock``); a
    ValueError names what is wrong. uv's output and our own lock files are both read so."""
    try:
        return Pylock.from_dict(data)
    except PylockValidationError as exc:
        raise ValueError(f"not a valid PEP 751 lock: {exc}") from None


def parse_pylock(text: str) -> LayerLock:
    """Read back a pylock.toml written by :func:`render_pylock`.

    Wheel tables are kept as written (they are rendered again and handed to uv verbatim).
    """
    data = tomllib.loads(text)
    pylock = read_pylock(data)
    tool = (pylock.tool or {}).get(TOOL)
    if not isinstance(tool, dict):
        raise ValueError("not a pdm-stack layer lock (no [tool.pdm-stack] table)")
    platforms = tuple(tool["platforms"])
    packages = []
    for package, entry in zip(pylock.packages, data.get("packages", []), strict=True):
        where = (package.tool or {}).get(TOOL, {}).get("platforms", platforms)
        extra = {k: v for k, v in entry.items() if k not in {"name", "version", "marker", "wheels", "tool"}}
        packages.append(
            LockedPackage(
                package.name, str(package.version), tuple(where), tuple(entry.get("wheels", [])), extra
            )
        )
    inherited = tuple(
        InheritedPackage(row["name"], row["version"], row["layer"], tuple(row["platforms"]))
        for row in tool.get("inherited", [])
    )
    return LayerLock(tool["layer"], tool["python"], platforms, tuple(packages), inherited)


def render_summary(lock: LayerLock) -> str:
    """The readable ``packages-<env name>.txt``: what this layer installs, and what comes from below."""
    lines = [f"# {lock.env_name}: python {lock.python_version}; platforms: {', '.join(lock.platforms)}"]
    lines.append("# installed by this layer")
    for package in lock.packages:
        only = "" if set(package.platforms) >= set(lock.platforms) else f"  # {', '.join(package.platforms)}"
        lines.append(f"{package.name}=={package.version}{only}")
    if lock.inherited:
        lines.append("# provided by lower layers")
        for item in lock.inherited:
            only = "" if set(item.platforms) >= set(lock.platforms) else f"; {', '.join(item.platforms)}"
            lines.append(f"{item.name}=={item.version}  # from {item.layer}{only}")
    return "\n".join(lines) + "\n"


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
