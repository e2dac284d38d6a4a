"""Reading a stack spec from ``pyproject.toml`` (``[tool.venvstacks]``) or a ``venvstacks.toml``.

Settings that are ours rather than the venvstacks format's live in ``[tool.pdm-stack]`` of the
same file, so a spec stays readable by other venvstacks-compatible tools.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from pdm_stack.errors import StackError, StackErrors
from pdm_stack.indexes import PackageIndex
from pdm_stack.stack_spec.field_values import LOCAL_RUNTIME_MODES
from pdm_stack.stack_spec.fields import (
    SETTINGS_KEYS,
    STACK_KEYS,
    UV_CHOICES,
    ErrorSink,
    FieldReader,
    suggest,
)
from pdm_stack.stack_spec.folders import FOLDER_SETTINGS, folder_clash, not_a_folder, settings_folders
from pdm_stack.stack_spec.layer_tables import LayerContext, parse_layer
from pdm_stack.stack_spec.model import LayerKind, LayerSpec, StackSettings, StackSpec
from pdm_stack.stack_spec.uv_config import uv_settings, venvstacks_uv_table

SETTINGS_TABLE = "tool.pdm-stack"


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_spec_file(project_root: Path, spec: str | os.PathLike[str] | None = None) -> Path:
    """The spec file to use: an explicit ``--spec`` path, else the project's pyproject.toml."""
    path = Path(spec) if spec is not None else project_root / "pyproject.toml"
    if not path.is_absolute():
        path = (Path.cwd() if spec is not None else project_root) / path
    if path.is_dir():
        raise StackError("is a directory, not a file", file=display_path(path))
    if not path.is_file():
        raise StackError("stack spec not found", file=display_path(path))
    return path


_TOML_POSITION = re.compile(
    r"^(?P<message>.*) \(at (?P<where>line \d+, column \d+|end of document)\)$", re.DOTALL
)


def read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; any problem reading it is one :class:`StackError` naming the position."""
    file = display_path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise StackError("is a directory, not a file", file=file) from None
    except OSError as exc:
        raise StackError(f"cannot read file: {exc.strerror or exc}", file=file) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise StackError(
            f"not UTF-8 text at line {line}, column {column} (byte 0x{data[exc.start]:02x});"
            " TOML files must be UTF-8",
            file=file,
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.match(str(exc))
        message, where = (match["message"], match["where"]) if match else (str(exc), "")
        if "overwrite" in message or "twice" in message:
            message += " (a key or table is defined twice)"
        raise StackError(f"invalid TOML{' at ' + where if where else ''}: {message}", file=file) from exc


def spec_index_names(document: Mapping[str, Any], uv_indexes: object = None) -> set[str]:
    """Index names the file defines (PDM sources and uv indexes), plus PyPI.

    ``uv_indexes`` are the ``[[tool.uv.index]]`` entries, when they come from elsewhere than the
    document's own ``[tool.uv]`` (a ``venvstacks.uv.toml``).
    """
    tool = document.get("tool", {})
    names = {"pypi"}
    if uv_indexes is None:
        uv_indexes = tool.get("uv", {}).get("index", [])
    for entries in (tool.get("pdm", {}).get("source", []), uv_indexes):
        if isinstance(entries, list):
            names.update(
                e["name"] for e in entries if isinstance(e, Mapping) and isinstance(e.get("name"), str)
            )
    return names


def load_stack(path: Path, *, extra_indexes: Iterable[str] = ()) -> StackSpec:
    """Read and validate the spec at ``path``; raises :class:`StackErrors` listing every problem.

    ``extra_indexes`` are index names known from elsewhere (PDM's global config sources).
    """
    spec, errors = parse_stack(path, extra_indexes=extra_indexes)
    if errors:
        raise StackErrors(errors)
    return spec


def parse_stack(path: Path, *, extra_indexes: Iterable[str] = ()) -> tuple[StackSpec, list[StackError]]:
    """Like :func:`load_stack`, but returns the errors so graph checks can be added to them."""
    document = read_toml(path)
    file = display_path(path)
    sink = ErrorSink(file, [])
    is_pyproject = "venvstacks" in document.get("tool", {}) or path.name == "pyproject.toml"
    if is_pyproject:
        table_name = "[tool.venvstacks]"
        stack = document.get("tool", {}).get("venvstacks")
        if stack is None:
            raise StackError(
                "no [tool.venvstacks] table; define [[tool.venvstacks.runtimes]] and friends"
                " (see docs/spec-reference.md) or pass --spec venvstacks.toml",
                file=file,
            )
        if not isinstance(stack, Mapping):
            raise StackError(f"{table_name} must be a table", file=file)
        top_level_extra: frozenset[str] = frozenset()
    else:
        table_name = "top level"
        stack = document
        top_level_extra = frozenset({"tool"})
    FieldReader(stack, sink, table_name).unknown_keys(STACK_KEYS | top_level_extra)

    warnings: list[str] = []
    uv_table = None if is_pyproject else venvstacks_uv_table(document, path, sink, warnings)
    index_entries = (uv_table.values if uv_table else document.get("tool", {}).get("uv", {})).get("index", [])
    known_indexes = frozenset(spec_index_names(document, index_entries) | set(extra_indexes))
    from_uv = uv_settings(uv_table, sink) if uv_table else {}
    settings = _settings(document, path.parent, sink, from_uv, known_indexes)
    settings = dataclasses.replace(settings, uv_indexes=spec_uv_indexes(index_entries))
    layers = _layers(stack, path.parent, known_indexes, sink, warnings)
    layers = _mark_console_scripts(layers, settings.keep_console_scripts, sink)
    spec = StackSpec(path=path, table=table_name, layers=layers, settings=settings, warnings=tuple(warnings))
    return spec, sink.errors


def _mark_console_scripts(
    layers: tuple[LayerSpec, ...], names: tuple[str, ...], sink: ErrorSink
) -> tuple[LayerSpec, ...]:
    """Apply ``keep_console_scripts`` (application names) to the application layers."""
    apps = {layer.name for layer in layers if layer.kind is LayerKind.APPLICATION}
    for name in names:
        if name not in apps:
            hint = suggest(name, apps)
            sink.add(
                f"'{name}' is not an application layer{hint}",
                layer=f"[{SETTINGS_TABLE}]",
                field="keep_console_scripts",
            )
    return tuple(
        dataclasses.replace(layer, keep_console_scripts=True)
        if layer.kind is LayerKind.APPLICATION and layer.name in names
        else layer
        for layer in layers
    )


def _layers(
    stack: Mapping[str, Any],
    spec_dir: Path,
    known_indexes: frozenset[str],
    sink: ErrorSink,
    warnings: list[str],
) -> tuple[LayerSpec, ...]:
    context = LayerContext(known_indexes)
    tables: list[tuple[LayerKind, list[Any]]] = []
    for kind in LayerKind:
        entries = stack.get(kind.table, [])
        if not isinstance(entries, list):
            sink.add(f"expected an array of tables ([[...{kind.table}]])", field=kind.table)
            entries = []
        tables.append((kind, entries))
        context.declared[kind] = {
            e["name"] for e in entries if isinstance(e, Mapping) and isinstance(e.get("name"), str)
        }

    layers: list[LayerSpec] = []
    env_names: dict[str, LayerSpec] = {}
    for kind, entries in tables:
        for index, table in enumerate(entries):
            layer = parse_layer(kind, index, table, spec_dir, context, sink, warnings)
            if layer is None:
                continue
            if context.find(kind, layer.name) is not None:
                sink.add(f"duplicate {kind.value} name '{layer.name}'", layer=layer.label, field="name")
                continue
            clash = env_names.get(layer.env_name)
            if clash is not None:
                sink.add(
                    f"its folder name '{layer.env_name}' clashes with {clash.label}",
                    layer=layer.label,
                    field="name",
                )
                continue
            env_names[layer.env_name] = layer
            context.defined[kind].append(layer)
            layers.append(layer)
    if not context.defined[LayerKind.RUNTIME] and not sink.errors:
        sink.add("the stack defines no runtime layer", field="runtimes")
    return tuple(layers)


def _settings(
    document: Mapping[str, Any],
    root: Path,
    sink: ErrorSink,
    from_uv: Mapping[str, Any],
    known_indexes: frozenset[str],
) -> StackSettings:
    """``[tool.pdm-stack]``, completed by the settings a venvstacks.toml's ``[tool.uv]`` gives."""
    defaults = StackSettings.defaults(root)
    table = document.get("tool", {}).get("pdm-stack", {})
    if not isinstance(table, Mapping):
        sink.add("expected a table", layer=f"[{SETTINGS_TABLE}]")
        return defaults
    for key, value in from_uv.items():
        if key in table and table[key] != value:
            sink.add(
                f"set differently in [tool.uv] ({value!r}); keep only one",
                layer=f"[{SETTINGS_TABLE}]",
                field=key,
            )
    table = {**from_uv, **table}
    reader = FieldReader(table, sink, f"[{SETTINGS_TABLE}]")
    reader.unknown_keys(SETTINGS_KEYS)
    values: dict[str, Any] = {}
    for field in FOLDER_SETTINGS:
        text = reader.string(field)
        if text is not None:
            values[field] = (root / text).resolve()
    mirror = reader.string("runtime_mirror")
    if mirror is not None:
        values["runtime_mirror"] = mirror if "://" in mirror else str((root / mirror).resolve())
    mode = reader.string("local_runtime")
    if mode is not None and mode not in LOCAL_RUNTIME_MODES:
        reader.error(
            "local_runtime", f"invalid value {mode!r}: expected one of {', '.join(LOCAL_RUNTIME_MODES)}"
        )
        mode = None
    values["local_runtime"] = mode
    values["register_runtimes"] = reader.boolean("register_runtimes")
    cutoff = reader.string("exclude_newer")
    if cutoff is not None and _EXCLUDE_NEWER.match(cutoff) is None:
        reader.error(
            "exclude_newer", f"invalid date {cutoff!r}: expected e.g. '2025-06-01' or '2025-06-01T00:00:00Z'"
        )
        cutoff = None
    values["exclude_newer"] = cutoff
    values["keep_console_scripts"] = tuple(reader.string_list("keep_console_scripts") or ())
    folders = reader.string_list("find_links") or []
    values["find_links"] = tuple((root / folder).resolve() for folder in folders)
    values.update(_uv_resolver_settings(reader, known_indexes))
    settings = StackSettings(**{**defaults.__dict__, **values})
    _check_folders(settings, set(values) & set(FOLDER_SETTINGS), reader)
    return settings


def _check_folders(settings: StackSettings, chosen: set[str], reader: FieldReader) -> None:
    """Report working folders that are files or overlap; each problem once, on a setting the
    user wrote (a clash of two defaults cannot happen)."""
    folders = settings_folders(settings)
    for folder in folders:
        problem = not_a_folder(folder)
        if problem is not None:
            reader.error(folder.name, problem)
    for index, first in enumerate(folders):
        for second in folders[index + 1 :]:
            clash = folder_clash(first, second)
            if clash is not None:
                blamed, problem = clash
                other = second if blamed is first else first
                reader.error(blamed.name if blamed.name in chosen else other.name, problem)


def _uv_resolver_settings(reader: FieldReader, known_indexes: frozenset[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, choices in UV_CHOICES.items():
        value = reader.string(key)
        if value is not None and value not in choices:
            reader.error(key, f"invalid value {value!r}: expected one of {', '.join(choices)}")
            value = None
        values[key] = value
    overrides = reader.string_list("override_dependencies") or []
    for text in overrides:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            reader.error("override_dependencies", f"invalid requirement {text!r}: {exc}")
    values["override_dependencies"] = tuple(overrides)
    package_indexes = reader.string_table("package_indexes") or {}
    for index in package_indexes.values():
        if index not in known_indexes:
            known = ", ".join(sorted(known_indexes))
            reader.error(
                "package_indexes", f"unknown index '{index}'{suggest(index, known_indexes)} (known: {known})"
            )
    values["package_indexes"] = package_indexes
    return values


_EXCLUDE_NEWER = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def spec_uv_indexes(entries: object) -> tuple[PackageIndex, ...]:
    """``[[tool.uv.index]]`` entries with a name and URL (``format = "flat"`` means find-links)."""
    indexes = []
    for entry in entries if isinstance(entries, list) else []:
        if (
            isinstance(entry, Mapping)
            and isinstance(entry.get("name"), str)
            and isinstance(entry.get("url"), str)
        ):
            kind = "find_links" if entry.get("format") == "flat" else "index"
            url = os.path.expandvars(entry["url"])
            indexes.append(
                PackageIndex(
                    entry["name"],
                    url,
                    kind,
                    explicit=entry.get("explicit") is True,
                    default=entry.get("default") is True,
                )
            )
    return tuple(indexes)
