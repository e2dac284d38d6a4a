"""Locking one layer against the layers below it, and telling whether a lock is still valid.

Cross-layer rule: every package a lower layer locked keeps that version in upper layers (lower
pins are passed to uv as constraints, per platform) and is left out of the upper layer's install
set, because at run time the lower layer's copy is the one on ``sys.path`` anyway.

Files (``requirements/<env name>/``): ``pylock.<stem>.toml``, ``pylock.<stem>.meta.json`` and
``packages-<env name>.txt``. They are only rewritten when their content changes, so relocking
unchanged inputs leaves the tree (and VCS diffs, mtimes, build caches) untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.requirements import InvalidRequirement, Requirement

from pdm_stack.atomic_files import write_if_changed
from pdm_stack.errors import StackError
from pdm_stack.indexes import PackageIndex, split_indexes, uv_index_environment
from pdm_stack.lock.input_changes import describe_changes
from pdm_stack.lock.platforms import sort_platforms, uv_python_platform
from pdm_stack.lock.pylock import LayerLock, merge_resolutions, parse_pylock, render_pylock, render_summary
from pdm_stack.lock.uv_compile import run_compile
from pdm_stack.lock.venvstacks_lock import FOREIGN_REASON, is_venvstacks_lock, same_pins
from pdm_stack.reporting import NullReporter, Reporter
from pdm_stack.stack_spec.field_values import glibc_floor
from pdm_stack.uv_tool import find_uv


@dataclass(frozen=True)
class LockInputs:
    """Everything a layer's lock depends on; two equal inputs must give the same lock."""

    env_name: str
    requirements: tuple[str, ...]
    #: ``X.Y`` or ``X.Y.Z`` of the layer's runtime.
    python_version: str
    platforms: tuple[str, ...]
    linux_target: str | None = None
    macosx_target: str | None = None
    #: Locks of the layers below, highest ``sys.path`` priority first.
    lower: tuple[LayerLock, ...] = ()
    indexes: tuple[PackageIndex, ...] = ()
    exclude_newer: str | None = None
    #: ``(distribution, index name)`` pins in force for this layer (inherited ones included).
    package_indexes: tuple[tuple[str, str], ...] = ()
    #: Index names searched first for this layer.
    priority_indexes: tuple[str, ...] = ()
    #: ``versioned_inputs_hash`` of the layer (name, ``versioned``, app module content).
    version_inputs_hash: str | None = None
    #: Whether the layer's ``lock_version`` is part of its deployed name (then version inputs count).
    versioned: bool = False
    #: The previous lock, whose pins uv keeps unless a requirement forces a change.
    preferences: LayerLock | None = field(default=None, compare=False)
    #: uv resolver settings (``prerelease``, ``resolution``, ``index_strategy``,
    #: ``override_dependencies``), by their ``[tool.pdm-stack]`` names; only set ones.
    uv_options: Mapping[str, Any] = field(default_factory=dict)
    #: How messages name the layer (``framework 'sci'``); defaults to the env name.
    label: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: The project folder: locked wheels found below it are recorded by lock-relative ``path``,
    #: so the lock works in every checkout (and never names a developer's home folder).
    local_root: Path | None = field(default=None, compare=False)

    @property
    def stem(self) -> str:
        return self.env_name.replace(".", "_")

    @property
    def who(self) -> str:
        return self.label or self.env_name

    @property
    def glibc(self) -> str:
        """The glibc floor of the Linux targets (the spec's rule; checked again for API callers)."""
        try:
            return glibc_floor(self.linux_target)
        except ValueError as exc:
            raise StackError(str(exc), layer=self.who, field="linux_target") from None


@dataclass(frozen=True)
class LockPaths:
    folder: Path
    pylock: Path
    meta: Path
    summary: Path

    @classmethod
    def of(cls, requirements_dir: Path, env_name: str) -> LockPaths:
        folder = requirements_dir / env_name
        stem = env_name.replace(".", "_")
        return cls(
            folder,
            folder / f"pylock.{stem}.toml",
            folder / f"pylock.{stem}.meta.json",
            folder / f"packages-{env_name}.txt",
        )


@dataclass(frozen=True)
class LockStatus:
    valid: bool
    reasons: tuple[str, ...] = ()
    lock: LayerLock | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class LockResult:
    lock: LayerLock
    meta: dict[str, Any]
    #: Files actually written (empty when nothing changed).
    written: tuple[Path, ...]
    #: Whether uv ran (``False`` when the existing lock was still valid).
    resolved: bool


def _sha256(payload: object) -> str:
    return "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def lock_input_hash(inputs: LockInputs) -> str:
    """Hash of the declared requirements, insensitive to order and spelling of spaces."""
    canonical = []
    for text in inputs.requirements:
        try:
            canonical.append(str(Requirement(text)))
        except InvalidRequirement as exc:
            raise StackError(
                f"invalid requirement '{text}': {exc}", layer=inputs.who, field="requirements"
            ) from exc
    return _sha256(sorted(canonical))


def other_inputs(inputs: LockInputs) -> dict[str, Any]:
    """The non-requirement inputs: Python, targets, lower locks, indexes, cutoff, uv settings.

    Recorded in ``.meta.json`` (no credentials in it) so a stale lock can say what changed.
    """
    general, pinned = layer_indexes(inputs)
    values: dict[str, Any] = {
        "python": inputs.python_version,
        "platforms": list(sort_platforms(inputs.platforms)),
        "glibc": inputs.glibc,
        "macosx": inputs.macosx_target,
        # A changed lower lock changes the constraints, so the upper lock must be redone.
        "lower": [[lock.env_name, lock.requirements_hash] for lock in inputs.lower],
        # Only the indexes this layer can resolve from, in search order: adding an explicit
        # index for another layer's pin must not relock this one.
        "indexes": [[i.name, i.lock_identity, i.kind, i.verify_ssl] for i in general],
        "pinned": sorted([dist, index.name, index.lock_identity] for dist, index in pinned.items()),
        "exclude_newer": inputs.exclude_newer,
    }
    if inputs.uv_options:
        # Only when set, so locks made before these settings existed keep their hash.
        values["uv"] = dict(sorted(inputs.uv_options.items()))
    return values


def other_inputs_hash(inputs: LockInputs) -> str:
    return _sha256(other_inputs(inputs))


#: The one staleness reason that needs a new ``lock_version`` but no new resolution.
VERSION_CHANGED = "versioned layer's name or app modules changed"


def check_lock(inputs: LockInputs, requirements_dir: Path) -> LockStatus:
    """Whether the lock on disk still matches ``inputs`` (all hashes equal, files consistent)."""
    paths = LockPaths.of(requirements_dir, inputs.env_name)
    if not paths.pylock.is_file() or not paths.meta.is_file():
        return LockStatus(False, ("not locked yet",))
    try:
        meta = json.loads(paths.meta.read_text(encoding="utf-8"))
        text = paths.pylock.read_text(encoding="utf-8")
        if is_venvstacks_lock(text):
            return LockStatus(False, (FOREIGN_REASON,))
        lock = parse_pylock(text)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return LockStatus(False, (f"unreadable lock files: {exc}",))
    reasons = []
    if meta.get("lock_input_hash") != lock_input_hash(inputs):
        reasons.append("requirements changed")
    current = accepted_inputs(inputs, meta)
    if meta.get("other_inputs_hash") != _sha256(current):
        reasons.extend(describe_changes(meta.get("other_inputs"), current))
    if meta.get("requirements_hash") != lock.requirements_hash:
        reasons.append(f"{paths.pylock.name} was edited by hand")
    if inputs.versioned and meta.get("version_inputs_hash") != inputs.version_inputs_hash:
        reasons.append(VERSION_CHANGED)
    return LockStatus(not reasons, tuple(reasons), lock, meta)


def accepted_inputs(inputs: LockInputs, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs a lock on disk must match; without a cutoff now, the lock's own cutoff stands.

    A cutoff given once (``lock --exclude-newer``) is not configured anywhere, so later commands
    run without one: the lock it made is still a correct lock of the same requirements.
    """
    current = other_inputs(inputs)
    recorded = meta.get("other_inputs")
    if inputs.exclude_newer is None and isinstance(recorded, Mapping) and recorded.get("exclude_newer"):
        current["exclude_newer"] = recorded["exclude_newer"]
    return current


def lower_pins(inputs: LockInputs) -> dict[str, dict[str, tuple[str, str]]]:
    """Per platform, ``{name: (version, providing layer)}`` from every lower layer.

    Two lower layers disagreeing on a version cannot both be on ``sys.path`` correctly, so that
    is reported rather than silently letting the higher-priority one win.
    """
    result: dict[str, dict[str, tuple[str, str]]] = {}
    for platform in inputs.platforms:
        merged: dict[str, tuple[str, str]] = {}
        for lower in inputs.lower:
            for name, (version, layer) in lower.pins(platform).items():
                seen = merged.get(name)
                if seen is not None and seen[0] != version:
                    raise StackError(
                        f"lower layers disagree on '{name}' for {platform}: {seen[1]} has {seen[0]},"
                        f" {layer} has {version}; lock them with a common constraint",
                        layer=inputs.who,
                    )
                merged.setdefault(name, (version, layer))
        result[platform] = merged
    return result


def resolve_layer(inputs: LockInputs, reporter: Reporter | None = None) -> LayerLock:
    """Run uv once per target platform (in parallel) and merge the results."""
    reporter = reporter or NullReporter()
    if not inputs.platforms:
        raise StackError("the layer has no target platforms to lock for", layer=inputs.who, field="platforms")
    glibc = inputs.glibc
    pins = lower_pins(inputs)
    general, pinned = layer_indexes(inputs)
    index_env = {
        **uv_index_environment(general, pinned=list(pinned.values()), ordered=True),
        **inputs.extra_env,
    }
    targets = {p: uv_python_platform(p, glibc) for p in sort_platforms(inputs.platforms)}
    uv = find_uv()

    def one(platform: str) -> dict[str, Any]:
        reporter.detail(f"{inputs.who}: resolving for {platform} ({targets[platform]})")
        return run_compile(
            layer=inputs.who,
            platform=platform,
            requirements=inputs.requirements,
            constraints={name: version for name, (version, _) in pins[platform].items()},
            providers={name: layer for name, (_, layer) in pins[platform].items()},
            indexes={index.public_url: index.name for index in (*general, *pinned.values())},
            python_version=inputs.python_version,
            python_platform=targets[platform],
            index_env=index_env,
            pinned=pinned,
            preferences=previous_pins(inputs.preferences, platform),
            exclude_newer=inputs.exclude_newer,
            macosx_target=inputs.macosx_target,
            uv_options=inputs.uv_options,
            uv=uv,
        )

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = {platform: pool.submit(one, platform) for platform in targets}
        resolutions = {platform: future.result() for platform, future in futures.items()}
    return merge_resolutions(
        inputs.env_name, inputs.python_version, tuple(targets), resolutions, pins, label=inputs.who
    )


def pinned_indexes(inputs: LockInputs) -> dict[str, PackageIndex]:
    """``{distribution: index}`` for the layer's ``package_indexes``; unknown names are errors."""
    by_name = {index.name: index for index in inputs.indexes}
    pinned: dict[str, PackageIndex] = {}
    for dist, name in inputs.package_indexes:
        index = by_name.get(name)
        if index is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise StackError(
                f"'{dist}' is pinned to index '{name}', which is not configured (known: {known})",
                layer=inputs.who,
                field="package_indexes",
            )
        pinned[dist] = index
    return pinned


def layer_indexes(inputs: LockInputs) -> tuple[list[PackageIndex], dict[str, PackageIndex]]:
    """``(search order, {distribution: index})`` of the indexes this layer resolves from."""
    pinned = pinned_indexes(inputs)
    general, _ = split_indexes(
        inputs.indexes, priority=inputs.priority_indexes, explicit={i.name for i in pinned.values()}
    )
    return general, pinned


def previous_pins(previous: LayerLock | None, platform: str) -> list[dict[str, Any]]:
    """The previous lock's entries for ``platform``, as uv reads preferences from an output file."""
    if previous is None:
        return []
    return [
        {"name": p.name, "version": p.version, "wheels": [dict(w) for w in p.wheels]}
        for p in previous.packages
        if platform in p.platforms
    ]


def localize_wheels(lock: LayerLock, lock_folder: Path, root: Path | None) -> LayerLock:
    """Record ``file:`` wheels inside ``root`` as PEP 751 ``path`` entries relative to the lock."""
    if root is None:
        return lock
    root = root.resolve()
    packages = []
    for package in lock.packages:
        wheels = tuple(_localized(wheel, lock_folder, root) for wheel in package.wheels)
        packages.append(replace(package, wheels=wheels))
    return replace(lock, packages=tuple(packages))


def _localized(wheel: dict[str, Any], lock_folder: Path, root: Path) -> dict[str, Any]:
    url = str(wheel.get("url", ""))
    if not url.startswith("file:"):
        return wheel
    path = Path(url2pathname(urlsplit(url).path)).resolve()
    if not path.is_relative_to(root):
        return wheel
    relative = Path(os.path.relpath(path, lock_folder.resolve())).as_posix()
    return {**{key: value for key, value in wheel.items() if key != "url"}, "path": relative}


def lock_layer(
    inputs: LockInputs,
    requirements_dir: Path,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
) -> LockResult:
    """Bring the layer's lock files up to date; no file is touched if nothing changed.

    Without ``force`` a still-valid lock is kept as is (uv does not even run). ``lock_version``
    only increases when the locked content (``requirements_hash``) changes.
    """
    reporter = reporter or NullReporter()
    paths = LockPaths.of(requirements_dir, inputs.env_name)
    status = check_lock(inputs, requirements_dir)
    if status.valid and not force and status.lock is not None and status.meta is not None:
        if status.meta.get("version_inputs_hash") == inputs.version_inputs_hash:
            reporter.detail(f"{inputs.who}: lock is up to date")
            return LockResult(status.lock, status.meta, (), False)
        # Only the layer's own files changed (an unversioned app's modules): refresh the metadata.
        meta = {**status.meta, "version_inputs_hash": inputs.version_inputs_hash}
        return LockResult(status.lock, meta, write_lock_files(paths, status.lock, meta), False)
    if status.reasons == (VERSION_CHANGED,) and not force and status.lock is not None and status.meta:
        # A versioned app's own modules changed: a new layer version, same packages (no uv run).
        meta = {
            **status.meta,
            "version_inputs_hash": inputs.version_inputs_hash,
            "lock_version": _next_version(status.meta, unchanged=False),
        }
        return LockResult(status.lock, meta, write_lock_files(paths, status.lock, meta), False)
    if status.reasons:
        reporter.detail(f"{inputs.who}: relocking ({'; '.join(status.reasons)})")
    with reporter.step(f"Locking {inputs.who}"):
        lock = localize_wheels(resolve_layer(inputs, reporter), paths.folder, inputs.local_root)
    old = _read_meta(paths.meta)
    unchanged = old is not None and (
        (
            old.get("requirements_hash") == lock.requirements_hash
            and (not inputs.versioned or old.get("version_inputs_hash") == inputs.version_inputs_hash)
        )
        # venvstacks hashes differently: the same pins keep its lock_version and locked_at.
        or _adopts_foreign_lock(paths, inputs, lock)
    )
    meta = {
        "lock_input_hash": lock_input_hash(inputs),
        "requirements_hash": lock.requirements_hash,
        "other_inputs_hash": other_inputs_hash(inputs),
        "other_inputs": other_inputs(inputs),
        "version_inputs_hash": inputs.version_inputs_hash,
        "lock_version": _next_version(old, unchanged),
        "locked_at": _locked_at(inputs, old if unchanged else None),
    }
    written = write_lock_files(paths, lock, meta)
    return LockResult(lock, meta, written, True)


def write_lock_files(paths: LockPaths, lock: LayerLock, meta: Mapping[str, Any]) -> tuple[Path, ...]:
    """Write the three lock files, each only if its content differs; returns those written."""
    contents = {
        paths.pylock: render_pylock(lock),
        paths.meta: json.dumps(dict(meta), indent=2, sort_keys=True) + "\n",
        paths.summary: render_summary(lock),
    }
    return tuple(path for path, text in contents.items() if write_if_changed(path, text))


def load_layer_lock(requirements_dir: Path, env_name: str) -> LayerLock:
    """The lock of an already locked layer, to pass as ``LockInputs.lower`` for layers above it."""
    path = LockPaths.of(requirements_dir, env_name).pylock
    try:
        return parse_pylock(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StackError(f"{env_name} is not locked yet ({path} is missing); lock it first") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError(f"cannot read the lock of {env_name} ({path}): {exc}") from exc


def _adopts_foreign_lock(paths: LockPaths, inputs: LockInputs, lock: LayerLock) -> bool:
    """Whether ``lock`` replaces a venvstacks lock with the very same pins (same version, then)."""
    if inputs.preferences is None:
        return False
    try:
        text = paths.pylock.read_text(encoding="utf-8")
    except OSError:
        return False
    return is_venvstacks_lock(text) and same_pins(inputs.preferences, lock)


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _next_version(old: Mapping[str, Any] | None, unchanged: bool) -> int:
    previous = old.get("lock_version") if old else None
    if not isinstance(previous, int):
        return 1
    return previous if unchanged else previous + 1


def _locked_at(inputs: LockInputs, old: Mapping[str, Any] | None) -> str:
    if old is not None and isinstance(old.get("locked_at"), str):
        return str(old["locked_at"])
    if inputs.exclude_newer:
        return inputs.exclude_newer
    return datetime.now(UTC).replace(microsecond=0).isoformat()
