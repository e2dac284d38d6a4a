"""The stack as a graph of layers, with everything a layer inherits from the layers below it.

Built once per command from a validated :class:`StackSpec`; lock, build and publish read the
effective values (platforms, sys.path order, indexes) from here rather than recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pdm_stack.errors import StackError
from pdm_stack.graph.c3 import C3Conflict, c3_merge
from pdm_stack.stack_spec.field_values import PLATFORMS
from pdm_stack.stack_spec.model import LayerKind, LayerSpec, StackSpec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@dataclass(frozen=True)
class Layer:
    """A layer with its inherited properties resolved."""

    spec: LayerSpec
    #: Spec name of the runtime layer it runs on (its own name for a runtime).
    runtime: str
    #: Framework spec names below this layer, in sys.path priority order (C3), self excluded.
    frameworks: tuple[str, ...]
    #: Env names of every lower layer in sys.path priority order: frameworks, then the runtime.
    depends_on: tuple[str, ...]
    platforms: tuple[str, ...]
    #: ``{distribution: index name}`` in force for this layer, inherited ones included.
    package_indexes: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> LayerKind:
        return self.spec.kind

    @property
    def env_name(self) -> str:
        return self.spec.env_name

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass(frozen=True)
class StackGraph:
    """All layers in stack order: runtimes, then frameworks, then applications."""

    layers: tuple[Layer, ...]

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def get(self, kind: LayerKind, name: str) -> Layer:
        for layer in self.layers:
            if layer.kind is kind and layer.name == name:
                return layer
        raise KeyError(f"{kind.value} '{name}'")

    def by_env_name(self, env_name: str) -> Layer:
        for layer in self.layers:
            if layer.env_name == env_name:
                return layer
        raise KeyError(env_name)

    def runtime_of(self, layer: Layer) -> Layer:
        return self.get(LayerKind.RUNTIME, layer.runtime)

    def lower_layers(self, layer: Layer) -> list[Layer]:
        """Layers ``layer`` imports from, highest priority first (the runtime last)."""
        return [self.by_env_name(name) for name in layer.depends_on]

    def derived_layers(self, layer: Layer) -> list[Layer]:
        """Layers that import from ``layer``, in stack order."""
        return [other for other in self.layers if layer.env_name in other.depends_on]


def build_graph(spec: StackSpec, file: str) -> tuple[StackGraph, list[StackError]]:
    """Resolve inheritance for every layer; returns the graph and the problems found."""
    errors: list[StackError] = []
    resolved: dict[tuple[LayerKind, str], Layer] = {}
    for layer_spec in spec.layers:
        layer = _resolve(layer_spec, resolved, file, errors)
        resolved[(layer_spec.kind, layer_spec.name)] = layer
    return StackGraph(tuple(resolved.values())), errors


def _resolve(
    spec: LayerSpec, resolved: dict[tuple[LayerKind, str], Layer], file: str, errors: list[StackError]
) -> Layer:
    def error(field: str, message: str) -> None:
        errors.append(StackError(message, file=file, layer=spec.label, field=field))

    if spec.kind is LayerKind.RUNTIME:
        platforms = spec.platforms if spec.platforms is not None else PLATFORMS
        return Layer(spec, spec.name, (), (), platforms, dict(spec.package_indexes))

    bases = [resolved[(LayerKind.FRAMEWORK, name)] for name in spec.frameworks]
    runtime_name = spec.runtime or (bases[0].runtime if bases else "")
    runtime = resolved.get((LayerKind.RUNTIME, runtime_name))
    try:
        order = c3_merge([[b.name, *b.frameworks] for b in bases] + [list(spec.frameworks)])
    except C3Conflict as exc:
        error("frameworks", f"cannot order the frameworks for sys.path (C3): {exc}")
        order = list(dict.fromkeys(n for b in bases for n in (b.name, *b.frameworks)))
    lower = [resolved[(LayerKind.FRAMEWORK, name)] for name in order]
    if runtime is not None:
        lower.append(runtime)
    depends_on = tuple(layer.env_name for layer in lower)

    inherited = [p for p in PLATFORMS if all(p in layer.platforms for layer in lower)]
    if spec.platforms is None:
        platforms = tuple(inherited)
    else:
        for platform in spec.platforms:
            if platform not in inherited:
                missing = [layer.env_name for layer in lower if platform not in layer.platforms]
                error(
                    "platforms", f"platform '{platform}' is not built by lower layer(s) {', '.join(missing)}"
                )
        platforms = tuple(p for p in spec.platforms if p in inherited)

    direct = [*bases, *([runtime] if runtime is not None else [])]
    indexes = _inherit_indexes(spec, direct, error)
    return Layer(spec, runtime_name, tuple(order), depends_on, platforms, indexes)


def _inherit_indexes(
    spec: LayerSpec, direct: list[Layer], report: Callable[[str, str], None]
) -> dict[str, str]:
    """Merge ``package_indexes`` upward; disagreements need an ``index_overrides`` entry."""
    overrides = spec.index_overrides
    merged: dict[str, str] = {}
    sources: dict[str, str] = {}
    for layer in direct:
        for dist, index in layer.package_indexes.items():
            current = merged.get(dist)
            if current is None or current == index or overrides.get(current) == index:
                merged[dist], sources[dist] = index, layer.env_name
            elif overrides.get(index) != current:
                report(
                    "package_indexes",
                    f"'{dist}' comes from index '{current}' in {sources[dist]} but from '{index}' in"
                    f' {layer.env_name}; add index_overrides = {{ {current} = "{index}" }} to accept one',
                )
    for dist, index in spec.package_indexes.items():
        current = merged.get(dist)
        if current is not None and current != index and overrides.get(current) != index:
            report(
                "package_indexes",
                f"'{dist}' is inherited from index '{current}' ({sources[dist]}); add"
                f" index_overrides = {{ {current} = \"{index}\" }} to take it from '{index}'",
            )
        merged[dist] = index
    return merged
