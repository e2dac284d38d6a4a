"""Immutable data model of a validated stack spec.

Nothing here reads files or validates: the loader builds these objects only from values it has
already checked, so every consumer (graph, lock, build, show) can trust them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.indexes import PackageIndex


class LayerKind(enum.StrEnum):
    RUNTIME = "runtime"
    FRAMEWORK = "framework"
    APPLICATION = "application"

    @property
    def table(self) -> str:
        """Name of the spec array holding layers of this kind (``runtimes`` etc.)."""
        return {"runtime": "runtimes", "framework": "frameworks", "application": "applications"}[self.value]


@dataclass(frozen=True)
class RuntimeArchiveSpec:
    """A custom runtime archive named by a runtime layer instead of a python-build-standalone one."""

    url: str
    sha256: str


@dataclass(frozen=True)
class LayerSpec:
    """One layer as declared. Inherited and derived properties live on the graph's ``Layer``."""

    kind: LayerKind
    name: str
    requirements: tuple[str, ...] = ()
    #: Platforms as declared; ``None`` means "inherit" (all platforms for a runtime).
    platforms: tuple[str, ...] | None = None
    linux_target: str | None = None
    macosx_target: str | None = None
    dynlib_exclude: tuple[str, ...] = ()
    package_indexes: dict[str, str] = field(default_factory=dict)
    priority_indexes: tuple[str, ...] = ()
    index_overrides: dict[str, str] = field(default_factory=dict)
    versioned: bool = False
    # Runtime layers
    python_implementation: str | None = None
    runtime_archive: RuntimeArchiveSpec | None = None
    # Framework and application layers: exactly one of these is set.
    runtime: str | None = None
    frameworks: tuple[str, ...] = ()
    # Application layers; paths are absolute (resolved against the spec file's folder).
    launch_module: Path | None = None
    support_modules: tuple[Path, ...] = ()
    #: Ship the app's console scripts (relocatable) in published archives; from
    #: ``[tool.pdm-stack] keep_console_scripts``, a pdm-stack extension of the format.
    keep_console_scripts: bool = False

    @property
    def env_name(self) -> str:
        """Folder and archive base name of the layer, as the venvstacks format names it."""
        if self.kind is LayerKind.FRAMEWORK:
            return f"framework-{self.name}"
        if self.kind is LayerKind.APPLICATION:
            return f"app-{self.name}"
        return self.name

    @property
    def label(self) -> str:
        """How messages refer to the layer: ``framework 'numpy'``."""
        return f"{self.kind.value} '{self.name}'"


@dataclass(frozen=True)
class StackSettings:
    """Project-wide options from ``[tool.pdm-stack]``; paths are absolute."""

    build_dir: Path
    output_dir: Path
    export_dir: Path
    requirements_dir: Path
    #: Base URL or local folder holding python-build-standalone archives under their own names.
    runtime_mirror: str | None = None
    #: When to make a runtime from a CPython already on this machine: prefer | fallback | never.
    local_runtime: str | None = None
    #: Whether downloaded runtimes are also installed into PDM's ``python.install_root``.
    register_runtimes: bool | None = None
    #: Ignore packages uploaded after this date or time (uv's ``--exclude-newer``).
    exclude_newer: str | None = None
    #: Extra local folders of wheels, searched like PDM ``find_links`` sources (absolute paths).
    find_links: tuple[Path, ...] = ()
    #: Application names whose console scripts are kept in published archives.
    keep_console_scripts: tuple[str, ...] = ()
    #: ``[[tool.uv.index]]`` entries of the spec file, usable by name like PDM sources.
    uv_indexes: tuple[PackageIndex, ...] = ()
    #: uv resolver settings passed to every lock (``--prerelease``, ``--resolution``,
    #: ``--index-strategy``); ``None`` leaves uv's default.
    prerelease: str | None = None
    resolution: str | None = None
    index_strategy: str | None = None
    #: Requirements that replace what any package declares (uv's ``override-dependencies``).
    override_dependencies: tuple[str, ...] = ()
    #: ``{distribution: index name}`` for every layer; a layer's own ``package_indexes`` win.
    package_indexes: dict[str, str] = field(default_factory=dict)

    def uv_options(self) -> dict[str, Any]:
        """The uv resolver settings in force, by ``[tool.pdm-stack]`` name (unset ones left out)."""
        options: dict[str, Any] = {
            "prerelease": self.prerelease,
            "resolution": self.resolution,
            "index_strategy": self.index_strategy,
            "override_dependencies": list(self.override_dependencies) or None,
        }
        return {key: value for key, value in options.items() if value is not None}

    @classmethod
    def defaults(cls, root: Path) -> StackSettings:
        return cls(
            build_dir=root / "_build",
            output_dir=root / "_artifacts",
            export_dir=root / "_export",
            requirements_dir=root / "requirements",
        )


@dataclass(frozen=True)
class StackSpec:
    """A whole validated stack: its layers in definition order plus project-wide settings."""

    path: Path
    #: Human-readable location of the stack inside the file (``[tool.venvstacks]`` or top level).
    table: str
    layers: tuple[LayerSpec, ...]
    settings: StackSettings
    #: Deprecation notices and other non-fatal findings, for the front end to show.
    warnings: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent

    def layers_of(self, kind: LayerKind) -> tuple[LayerSpec, ...]:
        return tuple(layer for layer in self.layers if layer.kind is kind)
