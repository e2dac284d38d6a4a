"""Locking a whole stack: every selected layer in dependency order, each against its lower locks.

Building and publishing read locks through :func:`load_locked_layers`, so they never see a lock
that no longer matches the spec (a stale lock is an error telling the user what to run).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

from pdm_stack.app_modules import app_modules_hash
from pdm_stack.errors import StackError
from pdm_stack.lock.layer_lock import (
    LockInputs,
    LockPaths,
    LockResult,
    LockStatus,
    check_lock,
    load_layer_lock,
    lock_layer,
)
from pdm_stack.lock.venvstacks_lock import is_venvstacks_lock, read_venvstacks_lock
from pdm_stack.reporting import ConcurrentReporter
from pdm_stack.runtimes.requests import RuntimeRequest
from pdm_stack.stack_spec.loader import display_path

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from pdm_stack.graph import Layer
    from pdm_stack.indexes import PackageIndex
    from pdm_stack.lock.pylock import LayerLock
    from pdm_stack.reporting import Reporter
    from pdm_stack.stack import Stack


@dataclass(frozen=True)
class LockedLayer:
    """A layer's valid lock, as later stages (build, publish) consume it."""

    env_name: str
    lock: LayerLock
    #: The ``.meta.json`` content: hashes, ``lock_version`` (int), ``locked_at`` (ISO time).
    meta: dict[str, Any]
    paths: LockPaths
    #: Folder name of the layer in builds and deployments: the env name, or
    #: ``<env name>@<lock_version>`` for a ``versioned`` layer.
    install_target: str

    @property
    def lock_version(self) -> int:
        return int(self.meta["lock_version"])

    @property
    def locked_at(self) -> str:
        return str(self.meta["locked_at"])

    @property
    def requirements_hash(self) -> str:
        return str(self.meta["requirements_hash"])


class StaleLocksError(StackError):
    """Locks that a build or publish needs are missing or out of date.

    The message names the layers with their reasons; ``remedy`` is what the user should run,
    which differs between front ends (``pdm stack lock`` or a Hatch target version).
    """

    PDM_REMEDY = "run 'pdm stack lock' (or build with --lock)"

    def __init__(self, stale: Sequence[str], *, file: str | None = None, remedy: str = PDM_REMEDY) -> None:
        self.stale = tuple(stale)
        super().__init__(f"locks are missing or out of date: {', '.join(self.stale)}; {remedy}", file=file)

    def with_remedy(self, remedy: str) -> StaleLocksError:
        return StaleLocksError(self.stale, file=self.file, remedy=remedy)


#: Layers locked at the same time (each runs uv once per target platform, also in parallel).
LAYER_JOBS = 4


@dataclass(frozen=True)
class LockOptions:
    """Project-wide inputs of every lock: where packages come from and the date cutoff."""

    #: Indexes in the project's order (PDM sources, spec ``[[tool.uv.index]]``, find-links dirs).
    indexes: tuple[PackageIndex, ...] = ()
    #: ``exclude-newer`` cutoff (ISO date or time); it also becomes ``locked_at``.
    exclude_newer: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerLockOutcome:
    layer: Layer
    #: ``locked`` (uv ran), ``up to date`` (valid lock kept), ``skipped`` (no target platform).
    outcome: str
    result: LockResult | None = None

    @property
    def changed(self) -> bool:
        return bool(self.result and self.result.written)


def requested_python_version(stack: Stack, layer: Layer) -> str:
    """The Python version of the layer's runtime as requested: ``X.Y`` or the exact ``X.Y.Z``.

    A lock depends on it (markers such as ``python_full_version`` resolve differently), so
    pinning another patch release (``3.11.7`` -> ``3.11.9``) makes the locks stale; a series
    request (``3.11``) keeps its locks across the patch releases a build may pick.
    """
    runtime = stack.graph.runtime_of(layer).spec
    return RuntimeRequest.parse(runtime.python_implementation or "").version


def version_inputs_hash(layer: Layer, spec_root: Path) -> str:
    """Hash of what names a versioned layer: its name, ``versioned`` and its app modules as they
    ship (the build's rule: files git ignores do not count)."""
    names = f"{layer.env_name}\0{layer.spec.versioned}\0"
    modules = app_modules_hash(layer.spec, spec_root) or ""
    return "sha256:" + hashlib.sha256(f"{names}{modules}".encode()).hexdigest()


def layer_inputs(
    stack: Stack,
    layer: Layer,
    lower: Sequence[LayerLock],
    options: LockOptions,
    preferences: LayerLock | None = None,
) -> LockInputs:
    """Everything ``layer``'s lock depends on; ``lower`` are its lower layers' locks, in order."""
    spec = layer.spec
    lower_specs = [stack.graph.by_env_name(name).spec for name in layer.depends_on]
    linux_target = spec.linux_target or next((s.linux_target for s in lower_specs if s.linux_target), None)
    macosx_target = spec.macosx_target or next(
        (s.macosx_target for s in lower_specs if s.macosx_target), None
    )
    return LockInputs(
        env_name=layer.env_name,
        requirements=spec.requirements,
        python_version=requested_python_version(stack, layer),
        platforms=layer.platforms,
        linux_target=linux_target,
        macosx_target=macosx_target,
        lower=tuple(lower),
        indexes=options.indexes,
        exclude_newer=options.exclude_newer,
        # Stack-wide pins (a venvstacks [tool.uv.sources]) apply where the layer sets none.
        package_indexes=tuple(sorted({**stack.settings.package_indexes, **layer.package_indexes}.items())),
        priority_indexes=spec.priority_indexes,
        version_inputs_hash=version_inputs_hash(layer, stack.spec.root),
        versioned=spec.versioned,
        preferences=preferences,
        label=layer.label,
        extra_env=options.extra_env,
        uv_options=stack.settings.uv_options(),
        local_root=stack.spec.root,
    )


def install_target(layer: Layer, meta: Mapping[str, Any]) -> str:
    if layer.spec.versioned:
        return f"{layer.env_name}@{meta['lock_version']}"
    return layer.env_name


def lock_statuses(stack: Stack, options: LockOptions) -> dict[str, LockStatus]:
    """Whether each layer's lock on disk is valid, lower layers first (for show and build).

    A layer is only valid if every layer below it is: its constraints came from their locks.
    """
    requirements_dir = stack.settings.requirements_dir
    statuses: dict[str, LockStatus] = {}
    for layer in stack.graph:
        if not layer.platforms:
            statuses[layer.env_name] = LockStatus(False, ("the layer has no target platforms",))
            continue
        broken = [name for name in layer.depends_on if not statuses[name].valid]
        if broken:
            statuses[layer.env_name] = LockStatus(
                False, (f"lower layer {', '.join(broken)}: lock missing or out of date",)
            )
            continue
        lower = [_lock_of(statuses[name]) for name in layer.depends_on]
        statuses[layer.env_name] = check_lock(layer_inputs(stack, layer, lower, options), requirements_dir)
    return statuses


def load_locked_layers(stack: Stack, layers: Sequence[Layer], options: LockOptions) -> dict[str, LockedLayer]:
    """Valid locks of ``layers`` and of every layer below them; stale locks are one error."""
    statuses = lock_statuses(stack, options)
    wanted: dict[str, Layer] = {}
    for layer in layers:
        for name in (*layer.depends_on, layer.env_name):
            wanted.setdefault(name, stack.graph.by_env_name(name))
    stale = [
        f"{name} ({'; '.join(statuses[name].reasons)})"
        for name in (layer.env_name for layer in stack.graph)
        if name in wanted and wanted[name].platforms and not statuses[name].valid
    ]
    if stale:
        raise StaleLocksError(stale, file=display_path(stack.spec.path))
    requirements_dir = stack.settings.requirements_dir
    locked: dict[str, LockedLayer] = {}
    for name, layer in wanted.items():
        status = statuses[name]
        if status.lock is None or status.meta is None:
            continue
        locked[name] = LockedLayer(
            name,
            status.lock,
            status.meta,
            LockPaths.of(requirements_dir, name),
            install_target(layer, status.meta),
        )
    return locked


def with_lower_layers(stack: Stack, layers: Sequence[Layer]) -> list[Layer]:
    """``layers`` plus every layer below them, in stack order."""
    names = {name for layer in layers for name in (layer.env_name, *layer.depends_on)}
    return [layer for layer in stack.graph if layer.env_name in names]


def lock_stack(
    stack: Stack,
    layers: Sequence[Layer],
    options: LockOptions,
    reporter: Reporter,
    *,
    reset: Sequence[str] = (),
    force: bool = False,
) -> list[LayerLockOutcome]:
    """Lock ``layers`` (in stack order) against their lower layers' current locks.

    Layers below the selection are not relocked: their locks must already be valid, or the user
    is told to include them. ``reset`` globs name layers whose previous pins are forgotten.
    """
    requirements_dir = stack.settings.requirements_dir
    selected = {layer.env_name for layer in layers}
    for glob in reset:
        if not any(fnmatchcase(layer.name, glob) or fnmatchcase(layer.env_name, glob) for layer in layers):
            names = ", ".join(layer.name for layer in layers)
            raise StackError(
                f"--reset-lock '{glob}' matches no selected layer (selected: {names})",
                file=display_path(stack.spec.path),
            )
    locks: dict[str, LayerLock] = {}
    outcomes: dict[str, LayerLockOutcome] = {}
    needed = {name for layer in layers for name in layer.depends_on} | selected
    pending = [layer for layer in stack.graph if layer.env_name in needed]
    disabled = {layer.env_name for layer in pending if not layer.platforms}
    for layer in pending:
        if layer.env_name in disabled and layer.env_name in selected:
            reporter.info(f"{layer.env_name}: skipped (no target platforms)")
            outcomes[layer.env_name] = LayerLockOutcome(layer, "skipped")
    pending = [layer for layer in pending if layer.env_name not in disabled]

    def lock_one(layer: Layer, lower: list[LayerLock], report: Reporter) -> LayerLockOutcome:
        name = layer.env_name
        forget = any(fnmatchcase(layer.name, g) or fnmatchcase(name, g) for g in reset)
        previous = (
            None
            if forget
            else _previous_lock(requirements_dir, layer, requested_python_version(stack, layer))
        )
        inputs = layer_inputs(stack, layer, lower, options, preferences=previous)
        try:
            result = lock_layer(inputs, requirements_dir, force=force or forget, reporter=report)
        except StackError as exc:
            exc.file = exc.file or display_path(stack.spec.path)
            raise
        outcome = LayerLockOutcome(layer, "locked" if result.resolved else "up to date", result)
        _report(outcome, report)
        return outcome

    # Layers whose lower layers are locked run at once: apps on one framework lock in parallel.
    shared = ConcurrentReporter(reporter)
    running: dict[Future[LayerLockOutcome], Layer] = {}
    by_name = {layer.env_name: layer for layer in pending}
    order = TopologicalSorter({layer.env_name: layer.depends_on for layer in pending})
    order.prepare()
    with ThreadPoolExecutor(max_workers=LAYER_JOBS, thread_name_prefix="lock") as pool:
        try:
            while order.is_active():
                for name in order.get_ready():
                    layer = by_name[name]
                    lower = [locks[below] for below in layer.depends_on]
                    if name in selected:
                        running[pool.submit(lock_one, layer, lower, shared)] = layer
                    else:
                        locks[name] = _valid_lower_lock(stack, layer, lower, options, layers)
                        order.done(name)
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    layer = running.pop(future)
                    outcome = future.result()
                    assert outcome.result is not None
                    locks[layer.env_name] = outcome.result.lock
                    outcomes[layer.env_name] = outcome
                    order.done(layer.env_name)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [outcomes[layer.env_name] for layer in stack.graph if layer.env_name in outcomes]


def _valid_lower_lock(
    stack: Stack, layer: Layer, lower: list[LayerLock], options: LockOptions, layers: Sequence[Layer]
) -> LayerLock:
    """The lock of a layer below the selection, which must still be valid."""
    status = check_lock(layer_inputs(stack, layer, lower, options), stack.settings.requirements_dir)
    if not status.valid or status.lock is None:
        users = sorted(other.env_name for other in layers if layer.env_name in other.depends_on)
        raise StackError(
            f"{', '.join(users)} builds on {layer.env_name}, whose lock is {'; '.join(status.reasons)};"
            " lock it too (add --include-dependencies)",
            file=display_path(stack.spec.path),
        )
    return status.lock


def _report(outcome: LayerLockOutcome, reporter: Reporter) -> None:
    result = outcome.result
    name = outcome.layer.env_name
    if result is None:
        return
    version = result.meta.get("lock_version")
    count = len(result.lock.packages)
    inherited = len(result.lock.inherited)
    what = f"{count} package(s)" + (f", {inherited} from lower layers" if inherited else "")
    if not result.written:
        reporter.info(f"{name}: up to date (lock_version {version}; {what})")
    elif result.resolved:
        reporter.info(f"{name}: locked (lock_version {version}; {what})")
    else:
        reporter.info(f"{name}: metadata refreshed (lock_version {version})")


def _previous_lock(requirements_dir: Path, layer: Layer, python_version: str) -> LayerLock | None:
    """The layer's current pins, from a pdm-stack lock or from one venvstacks wrote."""
    try:
        return load_layer_lock(requirements_dir, layer.env_name)
    except StackError:
        pass
    try:
        text = LockPaths.of(requirements_dir, layer.env_name).pylock.read_text(encoding="utf-8")
        if is_venvstacks_lock(text):
            return read_venvstacks_lock(text, layer.env_name, python_version, layer.platforms)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _lock_of(status: LockStatus) -> LayerLock:
    assert status.lock is not None  # valid statuses always carry their lock
    return status.lock
