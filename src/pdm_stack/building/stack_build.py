"""``build``: bring the selected layers of a stack up to date, one atomic layer at a time.

Layers are built in stack order (runtimes, frameworks, applications), so a selected lower layer
is always in place before the layers on it. A layer whose lower layers are neither selected nor
built from their current locks would be built against the wrong packages: that is reported
before anything is built, naming what to build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.app_modules import app_module_files
from pdm_stack.building.app_pitfalls import output_folder_warnings
from pdm_stack.building.build_records import built_record
from pdm_stack.building.runtime_layer import InstallOptions, RuntimeLayerBuilder
from pdm_stack.building.staging import build_lock, clean_stale_staging
from pdm_stack.building.venv_layer import LowerBuild, VenvLayerBuilder, read_lower_build
from pdm_stack.errors import StackError
from pdm_stack.stack_spec.model import LayerKind

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockedLayer
    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.provider import RuntimeSettings
    from pdm_stack.stack import Stack


def build_layers(
    stack: Stack,
    layers: Sequence[Layer],
    runtime_settings: RuntimeSettings,
    reporter: Reporter,
    *,
    clean: bool = False,
    install: InstallOptions | None = None,
    locks: Mapping[str, LockedLayer] | None = None,
) -> dict[str, str]:
    """Build ``layers`` in stack order; returns ``{env name: "built" | "up to date" | "skipped"}``.

    ``locks`` maps env names to valid locks for every selected layer and every layer below them.
    A runtime layer without a lock installs its declared requirements (with a warning); a
    framework or application layer cannot be built without its lock.
    """
    install = install or InstallOptions()
    locks = locks or {}
    build_dir: Path = stack.settings.build_dir
    platform = runtime_settings.platform
    selected = {layer.env_name for layer in layers}
    ordered = [layer for layer in stack.graph if layer.env_name in selected]
    to_build = [layer for layer in ordered if platform in layer.platforms]
    _check_locks(to_build, locks)
    for layer in to_build:
        if layer.kind is LayerKind.APPLICATION:
            for warning in output_folder_warnings(layer.spec, stack.settings):
                reporter.warn(warning)
    build_dir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, str] = {}
    with build_lock(build_dir, reporter):
        clean_stale_staging(build_dir)
        _check_lower_layers(stack, to_build, locks, build_dir)
        for layer in ordered:
            try:
                outcomes[layer.env_name] = _build_one(
                    stack, layer, build_dir, runtime_settings, reporter, clean, install, locks
                )
            except KeyboardInterrupt:
                # The staging folder is already gone; say what the user is left with.
                kept = (
                    "its previous build is kept" if built_record(build_dir, layer.env_name) else "not built"
                )
                done = [name for name, outcome in outcomes.items() if outcome == "built"]
                reporter.warn(
                    f"{layer.env_name}: build interrupted, {kept}"
                    + (f"; layers built before the interruption: {', '.join(done)}" if done else "")
                )
                raise
    return outcomes


def _build_one(
    stack: Stack,
    layer: Layer,
    build_dir: Path,
    runtime_settings: RuntimeSettings,
    reporter: Reporter,
    clean: bool,
    install: InstallOptions,
    locks: Mapping[str, LockedLayer],
) -> str:
    platform = runtime_settings.platform
    if platform not in layer.platforms:
        reporter.info(f"{layer.env_name}: skipped (not built for {platform})")
        return "skipped"
    if layer.kind is LayerKind.RUNTIME:
        runtime = RuntimeLayerBuilder(
            layer, build_dir, runtime_settings, reporter, install, locks.get(layer.env_name)
        )
        return runtime.build(clean=clean)
    lowers = [_lower_build(stack, name, build_dir, layer) for name in layer.depends_on]
    app_files = app_module_files(layer.spec, stack.spec.root) if layer.kind is LayerKind.APPLICATION else []
    builder = VenvLayerBuilder(
        layer, locks[layer.env_name], lowers, build_dir, reporter, platform, install, app_files
    )
    return builder.build(clean=clean)


def _check_locks(layers: Sequence[Layer], locks: Mapping[str, LockedLayer]) -> None:
    missing = [
        layer.env_name
        for layer in layers
        if layer.kind is not LayerKind.RUNTIME and layer.env_name not in locks
    ]
    if missing:
        raise StackError(f"not locked: {', '.join(missing)}; lock the stack before building these layers")


def _check_lower_layers(
    stack: Stack, layers: Sequence[Layer], locks: Mapping[str, LockedLayer], build_dir: Path
) -> None:
    """Every lower layer of a layer to build must be built now or already built from its lock."""
    selected = {layer.env_name for layer in layers}
    problems: dict[str, str] = {}
    needed_by: dict[str, list[str]] = {}
    for layer in layers:
        if layer.kind is LayerKind.RUNTIME:
            continue
        for name in layer.depends_on:
            if name in selected:
                continue
            reason = _not_built_reason(name, locks.get(name), build_dir)
            if reason is not None:
                problems.setdefault(name, reason)
                needed_by.setdefault(name, []).append(layer.env_name)
    if problems:
        names = [layer.env_name for layer in stack.graph if layer.env_name in problems]
        details = "; ".join(
            f"{name} {problems[name]} (needed by {', '.join(needed_by[name])})" for name in names
        )
        raise StackError(f"build {', '.join(names)} first (or select them too): {details}")


def _not_built_reason(env_name: str, locked: LockedLayer | None, build_dir: Path) -> str | None:
    record = built_record(build_dir, env_name)
    if record is None:
        return "is not built"
    if locked is None:
        return None
    if record.folder != locked.install_target or record.requirements_hash != locked.requirements_hash:
        return "was built from another lock"
    return None


def _lower_build(stack: Stack, env_name: str, build_dir: Path, upper: Layer) -> LowerBuild:
    lower = read_lower_build(build_dir, stack.graph.by_env_name(env_name))
    if lower is None:
        raise StackError(f"lower layer {env_name} is not built; build it first", layer=upper.label)
    return lower
