"""What publish and export need to know about one layer, gathered once from graph, lock and build.

Publishing reads facts from three places (the spec graph, the layer's valid lock and the built
folder); collecting them into a :class:`PublishLayer` up front means a missing build or lock is
reported before any archive is written, and the archive code never touches the spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.app_modules import app_module_files, files_hash, module_files
from pdm_stack.building.build_records import built_record
from pdm_stack.building.layer_config import CONFIG_PATH, read_layer_config
from pdm_stack.building.venv_layer import read_lower_build, venv_inputs
from pdm_stack.errors import StackError
from pdm_stack.host import host_platform
from pdm_stack.publish.filters import Member, layer_members
from pdm_stack.stack_spec.model import LayerKind
from pdm_stack.stack_spec.modules import import_name

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from pdm_stack.graph import Layer, StackGraph
    from pdm_stack.lock.stack_lock import LockedLayer


@dataclass(frozen=True)
class PublishLayer:
    """One built layer ready to be archived or exported."""

    kind: LayerKind
    env_name: str
    install_target: str
    #: The built layer folder (``<build dir>/<install target>``).
    folder: Path
    lock_version: int
    locked_at: str
    requirements_hash: str
    #: Install target of the runtime layer (its own for a runtime).
    runtime_target: str
    #: Install targets of the frameworks below, in sys.path order.
    required_layers: tuple[str, ...]
    #: ``cpython@3.11.7``: implementation from the runtime spec, version from the build.
    python_implementation: str
    #: Import name of an application's launch module.
    launch_module: str | None = None
    keep_console_scripts: bool = False
    #: The build compiled the layer's bytecode in the deployment's own form (export links it).
    bytecode: bool = False

    @property
    def label(self) -> str:
        return self.env_name

    @property
    def bound_to_implementation(self) -> str:
        """The runtime interpreter, relative to this layer's folder."""
        if self.kind is LayerKind.RUNTIME:
            return "bin/python3"
        return f"../{self.runtime_target}/bin/python3"

    def members(self, *, bytecode: bool = False) -> list[Member]:
        """What of the built folder ships, sorted (validated: no escaping symlinks); with
        ``bytecode``, the build's compiled bytecode too (when the build compiled it)."""
        return layer_members(
            self.folder,
            keep_console_scripts=self.keep_console_scripts,
            keep_bytecode=bytecode and self.bytecode,
            label=self.label,
        )

    def launch_module_hash(self) -> str | None:
        """``sha256:<hex>`` of the launch module as shipped: the build copied exactly the files
        :mod:`pdm_stack.app_modules` selects, and the same rule hashes them here."""
        if self.launch_module is None:
            return None
        config = read_layer_config(self.folder) or {}
        site_dir = self.folder / str(config.get("site_dir", ""))
        for candidate in (site_dir / f"{self.launch_module}.py", site_dir / self.launch_module):
            if candidate.exists():
                return files_hash(module_files(candidate, candidate))
        raise StackError(
            f"launch module '{self.launch_module}' is missing from the built layer; run 'pdm stack build'",
            layer=self.env_name,
        )


def plan_layers(
    graph: StackGraph,
    layers: Sequence[Layer],
    locks: Mapping[str, LockedLayer],
    build_dir: Path,
    *,
    keep_console_scripts: Callable[[Layer], bool] | None = None,
    spec_root: Path | None = None,
    platform: str | None = None,
) -> list[PublishLayer]:
    """A :class:`PublishLayer` per selected layer, in the given (stack) order.

    ``locks`` must hold valid locks for the selected layers and every layer below them (their
    install targets are part of the metadata). A layer that is not built is an error telling
    the user to run ``pdm stack build``; nothing is published then. With ``spec_root`` (the
    folder of the spec file), so is a framework or application layer that ``pdm stack build``
    would rebuild: its application modules were edited, or a layer below it was rebuilt.
    """
    planned: list[PublishLayer] = []
    missing: list[str] = []
    outdated: list[str] = []
    changed: list[str] = []
    for layer in layers:
        locked = _lock_of(layer.env_name, locks)
        folder = build_dir / locked.install_target
        config = read_layer_config(folder)
        record = built_record(build_dir, layer.env_name)
        if config is None or record is None or record.folder != locked.install_target:
            missing.append(locked.install_target)
            continue
        if record.requirements_hash not in (None, locked.requirements_hash):
            # Publishing it would ship packages other than the lock (and its metadata) says.
            outdated.append(locked.install_target)
            continue
        if spec_root is not None and layer.kind is not LayerKind.RUNTIME:
            wanted = _venv_inputs(graph, layer, locked, build_dir, spec_root, platform or host_platform())
            if wanted != record.inputs_hash:
                # Publishing it would ship the application code (or links) of an older build.
                changed.append(locked.install_target)
                continue
        runtime = graph.runtime_of(layer)
        lower = [name for name in layer.depends_on if name != runtime.env_name]
        keep = keep_console_scripts(layer) if keep_console_scripts is not None else False
        launch = layer.spec.launch_module
        planned.append(
            PublishLayer(
                kind=layer.kind,
                env_name=layer.env_name,
                install_target=locked.install_target,
                folder=folder,
                lock_version=locked.lock_version,
                locked_at=locked.locked_at,
                requirements_hash=locked.requirements_hash,
                runtime_target=_lock_of(runtime.env_name, locks).install_target,
                required_layers=tuple(_lock_of(name, locks).install_target for name in lower),
                python_implementation=_implementation(runtime, config, folder),
                launch_module=import_name(launch) if launch is not None else None,
                keep_console_scripts=keep and layer.kind is LayerKind.APPLICATION,
                bytecode=record.bytecode,
            )
        )
    if missing:
        raise StackError(
            f"not built: {', '.join(missing)} (no complete build in {build_dir}); run 'pdm stack build'"
        )
    if outdated:
        raise StackError(f"built from an older lock: {', '.join(outdated)}; run 'pdm stack build'")
    if changed:
        raise StackError(
            f"changed since the last build (application modules or lower layers): {', '.join(changed)};"
            " run 'pdm stack build'"
        )
    return planned


def _venv_inputs(
    graph: StackGraph, layer: Layer, locked: LockedLayer, build_dir: Path, spec_root: Path, platform: str
) -> str | None:
    """The build inputs hash ``pdm stack build`` would give the layer now (``None``: cannot tell)."""
    lowers = [read_lower_build(build_dir, graph.by_env_name(name)) for name in layer.depends_on]
    if any(lower is None for lower in lowers):
        return None
    app_files = app_module_files(layer.spec, spec_root) if layer.kind is LayerKind.APPLICATION else []
    return venv_inputs(layer, locked, [lower for lower in lowers if lower is not None], app_files, platform)


def _lock_of(env_name: str, locks: Mapping[str, LockedLayer]) -> LockedLayer:
    try:
        return locks[env_name]
    except KeyError:
        raise StackError("no valid lock; run 'pdm stack lock'", layer=env_name) from None


def _implementation(runtime: Layer, config: Mapping[str, object], folder: Path) -> str:
    declared = runtime.spec.python_implementation or "cpython"
    name = declared.partition("@")[0] or "cpython"
    version = config.get("py_version")
    if not isinstance(version, str) or not version:
        raise StackError(f"{folder / CONFIG_PATH} has no py_version; run 'pdm stack build --clean'")
    return f"{name}@{version}"


def check_outside_build(target: Path, layers: Sequence[PublishLayer], *, export: bool = False) -> None:
    """Refuse an output folder that would write into the build it reads from.

    Publishing or exporting into a built layer folder would add files to the layer (shipped by
    the next publish); exporting into the build folder itself would replace each built layer
    with its exported copy.
    """
    option = "the export folder" if export else "the output folder"
    resolved = target.resolve()
    for layer in layers:
        folder = layer.folder.resolve()
        if resolved == folder or folder in resolved.parents:
            raise StackError(
                f"{option} {target} is inside the built layer {folder}; choose a folder outside it",
                layer=layer.env_name,
            )
        if export and resolved / layer.install_target == folder:
            raise StackError(
                f"{option} {target} is the build folder: exporting there would replace the built"
                " layers with their copies; choose another folder"
            )
