"""Parsing one layer table into a :class:`LayerSpec`, recording every problem found.

A layer with bad fields is still returned (the bad values replaced by defaults) so that layers
built on it do not report spurious "unknown layer" errors; the loader discards the whole spec if
any error was recorded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from packaging.requirements import InvalidRequirement, Requirement

from pdm_stack.runtimes.requests import RuntimeRequest
from pdm_stack.stack_spec.field_values import PLATFORMS, glibc_floor
from pdm_stack.stack_spec.fields import KEYS_BY_KIND, ErrorSink, FieldReader, suggest
from pdm_stack.stack_spec.model import LayerKind, LayerSpec, RuntimeArchiveSpec
from pdm_stack.stack_spec.modules import check_app_modules

if TYPE_CHECKING:
    from pathlib import Path

#: Longest layer name: its derived names (``.framework-<name>@<n>.staging-<hex>``,
#: ``pylock.framework-<name>.meta.json``, tagged archive names) must stay far below 255 bytes.
MAX_NAME_LENGTH = 100
NAME_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
MACOSX_TARGET_PATTERN = re.compile(r"^(\d+)(?:\.(\d+))?$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class LayerContext:
    """What a layer may refer to: the layers defined before it, and the known index names."""

    def __init__(self, known_indexes: frozenset[str] | None) -> None:
        self.known_indexes = known_indexes
        self.defined: dict[LayerKind, list[LayerSpec]] = {kind: [] for kind in LayerKind}
        #: Names declared anywhere in the spec, to tell forward references from unknown ones.
        self.declared: dict[LayerKind, set[str]] = {kind: set() for kind in LayerKind}

    def names(self, kind: LayerKind) -> list[str]:
        return [layer.name for layer in self.defined[kind]]

    def find(self, kind: LayerKind, name: str) -> LayerSpec | None:
        return next((layer for layer in self.defined[kind] if layer.name == name), None)


def parse_layer(
    kind: LayerKind,
    index: int,
    table: object,
    spec_dir: Path,
    context: LayerContext,
    sink: ErrorSink,
    warnings: list[str],
) -> LayerSpec | None:
    """Parse ``[[<kind>s]]`` entry number ``index``; ``None`` if it has no usable name."""
    position = f"{kind.table}[{index}]"
    if not isinstance(table, Mapping):
        sink.add("expected a table", layer=position)
        return None
    reader = FieldReader(table, sink, position)
    name = reader.string("name")
    if name is None:
        if "name" not in table:
            reader.error("name", "required")
        return None
    label = f"{kind.value} '{name}'"
    reader.label = label
    if not NAME_PATTERN.match(name):
        reader.error("name", "use letters, digits, '.', '_' and '-' only (it becomes a folder name)")
    elif len(name) > MAX_NAME_LENGTH:
        reader.error(
            "name",
            f"is {len(name)} characters long; use at most {MAX_NAME_LENGTH} (it names folders,"
            " lock files and archives, and file systems limit a name to 255 bytes)",
        )
    reader.unknown_keys(KEYS_BY_KIND[kind])

    requirements = _requirements(reader)
    platforms = _platforms(reader)
    linux_target = _linux_target(reader)
    macosx_target = _target(reader, "macosx_target", MACOSX_TARGET_PATTERN, "a version like '13.0'")
    indexes = _indexes(reader, context.known_indexes)

    fields: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "requirements": requirements,
        "platforms": platforms,
        "linux_target": linux_target,
        "macosx_target": macosx_target,
        "dynlib_exclude": tuple(reader.string_list("dynlib_exclude") or ()),
        "versioned": bool(reader.boolean("versioned")),
        **indexes,
    }
    if kind is LayerKind.RUNTIME:
        fields.update(_runtime_fields(reader, spec_dir, warnings, label))
    else:
        fields.update(_base_fields(reader, kind, name, context))
    if kind is LayerKind.APPLICATION:
        launch, support = check_app_modules(reader, spec_dir)
        fields.update(launch_module=launch, support_modules=support)
    return LayerSpec(**fields)


def _requirements(reader: FieldReader) -> tuple[str, ...]:
    if "requirements" not in reader.table:
        reader.error("requirements", "required (use [] for a layer without packages)")
        return ()
    values = reader.string_list("requirements") or []
    valid = []
    for text in values:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            first_line = str(exc).splitlines()[0]
            reader.error("requirements", f"invalid requirement {text!r}: {first_line}")
        else:
            valid.append(text)
    return tuple(valid)


def _platforms(reader: FieldReader) -> tuple[str, ...] | None:
    values = reader.string_list("platforms")
    if values is None:
        return None
    for value in values:
        if value not in PLATFORMS:
            reader.error("platforms", f"unknown platform '{value}'{suggest(value, PLATFORMS)}")
    return tuple(p for p in PLATFORMS if p in values)


def _linux_target(reader: FieldReader) -> str | None:
    value = reader.string("linux_target")
    try:
        glibc_floor(value)
    except ValueError as exc:
        reader.error("linux_target", str(exc))
        return None
    return value


def _target(reader: FieldReader, field: str, pattern: re.Pattern[str], expected: str) -> str | None:
    value = reader.string(field)
    if value is not None and not pattern.match(value):
        reader.error(field, f"invalid value {value!r}: expected {expected}")
        return None
    return value


def _indexes(reader: FieldReader, known: frozenset[str] | None) -> dict[str, Any]:
    package_indexes = reader.string_table("package_indexes") or {}
    priority_indexes = reader.string_list("priority_indexes") or []
    index_overrides = reader.string_table("index_overrides") or {}
    if known is not None:
        hint = ", ".join(sorted(known)) or "none defined"
        named = [("package_indexes", i) for i in package_indexes.values()]
        named += [("priority_indexes", i) for i in priority_indexes]
        named += [("index_overrides", i) for pair in index_overrides.items() for i in pair]
        for field, index in named:
            if index not in known:
                reader.error(field, f"unknown index '{index}'{suggest(index, known)} (known: {hint})")
    return {
        "package_indexes": package_indexes,
        "priority_indexes": tuple(priority_indexes),
        "index_overrides": index_overrides,
    }


def _runtime_fields(reader: FieldReader, spec_dir: Path, warnings: list[str], label: str) -> dict[str, Any]:
    implementation = reader.string("python_implementation")
    legacy = reader.string("fully_versioned_name")
    if legacy is not None:
        warnings.append(
            f"{reader.sink.file}: {label}: field 'fully_versioned_name' is deprecated;"
            " use 'python_implementation'"
        )
        if implementation is None:
            implementation = legacy
    if "build_requirements" in reader.table:
        warnings.append(
            f"{reader.sink.file}: {label}: field 'build_requirements' is deprecated and ignored"
            " (layers are installed from wheels only)"
        )
    field = "python_implementation" if "python_implementation" in reader.table else "fully_versioned_name"
    if implementation is None:
        if field not in reader.table:
            reader.error("python_implementation", "required for runtime layers (e.g. 'cpython@3.11')")
    else:
        try:
            request = RuntimeRequest.parse(implementation)
        except ValueError as exc:
            reader.error(field, str(exc))
            implementation = None
    archive = _runtime_archive(reader, spec_dir)
    if implementation is not None and archive is None and "runtime_archive" not in reader.table:
        _check_series_exists(reader, field, request)
    return {"python_implementation": implementation, "runtime_archive": archive}


def _check_series_exists(reader: FieldReader, field: str, request: RuntimeRequest) -> None:
    from pdm_stack.runtimes.pbs import pbs_installer_version, series_is_known

    if not series_is_known(request):
        series = ".".join(request.version.split(".")[:2])
        reader.error(
            field,
            f"there is no CPython {series} (python-build-standalone has no build of it, per"
            f" pbs-installer {pbs_installer_version()}); use a released version such as 'cpython@3.12'",
        )


def _runtime_archive(reader: FieldReader, spec_dir: Path) -> RuntimeArchiveSpec | None:
    table = reader.table_value("runtime_archive")
    if table is None:
        return None
    sub = FieldReader(table, reader.sink, reader.label)
    sub.unknown_keys(frozenset({"url", "sha256"}))
    url, sha256 = sub.string("url"), sub.string("sha256")
    if url is None or sha256 is None:
        reader.error("runtime_archive", "needs both 'url' (a URL or a path) and 'sha256'")
        return None
    if not SHA256_PATTERN.match(sha256.lower()):
        reader.error("runtime_archive", f"invalid sha256 {sha256!r}: expected 64 hex digits")
        return None
    if "://" not in url:
        url = str((spec_dir / url).resolve())
    return RuntimeArchiveSpec(url=url, sha256=sha256.lower())


def _base_fields(reader: FieldReader, kind: LayerKind, name: str, context: LayerContext) -> dict[str, Any]:
    runtime = reader.string("runtime")
    frameworks = reader.string_list("frameworks")
    has_runtime, has_frameworks = "runtime" in reader.table, "frameworks" in reader.table
    if has_runtime and has_frameworks:
        reader.error("frameworks", "set either 'runtime' or 'frameworks', not both")
    elif not has_runtime and not has_frameworks:
        reader.error("runtime", "set either 'runtime' (a runtime layer) or 'frameworks' (a list)")
    if runtime is not None and not has_frameworks:
        runtime = _reference(reader, "runtime", LayerKind.RUNTIME, runtime, context)
    if frameworks is not None:
        if not frameworks:
            reader.error("frameworks", "must name at least one framework (or use 'runtime')")
        resolved = [_reference(reader, "frameworks", LayerKind.FRAMEWORK, f, context) for f in frameworks]
        frameworks = [f for f in resolved if f is not None]
        if len(set(frameworks)) != len(frameworks):
            reader.error("frameworks", "lists the same framework twice")
            frameworks = list(dict.fromkeys(frameworks))
        if kind is LayerKind.FRAMEWORK and name in frameworks:
            frameworks.remove(name)
        runtime = _shared_runtime(reader, frameworks, context)
    return {"runtime": runtime, "frameworks": tuple(frameworks or ())}


def _reference(
    reader: FieldReader, field: str, kind: LayerKind, name: str, context: LayerContext
) -> str | None:
    if context.find(kind, name) is not None:
        return name
    if name in context.declared[kind]:
        reader.error(
            field,
            f"{kind.value} '{name}' is defined later in the spec; a layer may only build on"
            " layers defined before it",
        )
    else:
        known = context.names(kind)
        hint = ", ".join(known) or "none"
        reader.error(field, f"unknown {kind.value} '{name}'{suggest(name, known)} (defined before: {hint})")
    return None


def _shared_runtime(reader: FieldReader, frameworks: Sequence[str], context: LayerContext) -> str | None:
    runtimes: dict[str, list[str]] = {}
    for name in frameworks:
        layer = context.find(LayerKind.FRAMEWORK, name)
        if layer is not None and layer.runtime is not None:
            runtimes.setdefault(layer.runtime, []).append(name)
    if len(runtimes) > 1:
        detail = "; ".join(f"{', '.join(fws)} on '{rt}'" for rt, fws in runtimes.items())
        reader.error("frameworks", f"frameworks must share one runtime: {detail}")
        return None
    return next(iter(runtimes), None)
