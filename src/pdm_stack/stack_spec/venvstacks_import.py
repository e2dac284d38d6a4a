"""Moving a venvstacks.toml into ``[tool.venvstacks]`` of a pyproject.toml, losing nothing.

The layer tables move as they are (tomlkit keeps their comments and formatting); only relative
paths change, so each still names the same file from the pyproject's folder. ``[tool.uv]`` (or the
``venvstacks.uv.toml`` beside the spec) becomes ``[tool.pdm-stack]`` settings, because a
pyproject's own ``[tool.uv]`` belongs to the project's uv use; its index definitions become
``[[tool.uv.index]]`` entries of the pyproject, which pdm-stack reads. The lock folder, build and
output folders keep pointing where they pointed, so existing locks stay where pdm-stack looks for
them, and locks it made from the venvstacks.toml stay valid. What cannot be carried over is
reported, never dropped silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit
from tomlkit.items import Array, Comment, Table

from pdm_stack.atomic_files import replacement
from pdm_stack.errors import StackError
from pdm_stack.stack_spec.fields import ErrorSink
from pdm_stack.stack_spec.loader import SETTINGS_TABLE, display_path, load_stack
from pdm_stack.stack_spec.model import LayerKind
from pdm_stack.stack_spec.uv_config import SETTING_NAMES, UV_CONFIG_FILE, uv_settings, venvstacks_uv_table

if TYPE_CHECKING:
    from collections.abc import Iterable

    from tomlkit.container import Container
    from tomlkit.toml_document import TOMLDocument

#: ``[tool.pdm-stack]`` settings holding a path relative to the spec file.
PATH_SETTINGS = ("build_dir", "output_dir", "export_dir", "requirements_dir")
#: Default of each folder setting, relative to the spec file (the venvstacks layout).
FOLDER_DEFAULTS = {
    "build_dir": "_build",
    "output_dir": "_artifacts",
    "export_dir": "_export",
    "requirements_dir": "requirements",
}


@dataclass
class ImportResult:
    """The new pyproject.toml text and what the user must know about the conversion."""

    text: str
    #: Things not converted (the user must act on them).
    not_converted: list[str] = field(default_factory=list)
    #: Changes made on the way (paths rewritten, settings renamed), for the report.
    changes: list[str] = field(default_factory=list)


def import_venvstacks(
    spec_path: Path, pyproject_path: Path, *, extra_indexes: Iterable[str] = ()
) -> ImportResult:
    """Convert ``spec_path`` into ``[tool.venvstacks]`` of ``pyproject_path`` (which may not exist).

    ``extra_indexes`` are index names known from elsewhere (PDM's configured sources).
    """
    if spec_path.name == "pyproject.toml":
        raise StackError("expected a venvstacks.toml, not a pyproject.toml", file=display_path(spec_path))
    # An invalid spec is reported as such, before anything is converted.
    load_stack(spec_path, extra_indexes=extra_indexes)
    source = tomlkit.parse(spec_path.read_text(encoding="utf-8"))
    target = _read_target(pyproject_path)
    tool = target.setdefault("tool", tomlkit.table(is_super_table=True))
    if "venvstacks" in tool:
        raise StackError(
            "already has a [tool.venvstacks] table; remove it to import another stack",
            file=display_path(pyproject_path),
        )
    result = ImportResult("")
    paths = _PathMover(spec_path.parent, pyproject_path.parent, result)

    stack = tomlkit.table()
    for comment in [*_leading_comments(source.body), *_uv_table_comments(source)]:
        stack.add(comment)
    for kind in LayerKind:
        if kind.table in source:
            layers = source[kind.table]
            if kind is LayerKind.APPLICATION:
                for layer in layers:
                    _move_app_paths(layer, paths)
            if kind is LayerKind.RUNTIME:
                for layer in layers:
                    archive = layer.get("runtime_archive")
                    if isinstance(archive, dict) and "://" not in str(archive.get("url", "://")):
                        archive["url"] = paths.move(str(archive["url"]), "runtime_archive url")
            stack.append(kind.table, layers)

    settings = _stack_settings(source, spec_path, paths, result)
    _merge_settings(tool, settings, pyproject_path, result)
    _carry_indexes(source, spec_path, tool, result)
    for name in source.get("tool", {}):
        if name not in {"uv", "pdm-stack"}:
            result.not_converted.append(f"[tool.{name}] of {spec_path.name} (not a stack setting)")
    tool.append("venvstacks", stack)
    result.text = tomlkit.dumps(target)
    return result


class _PathMover:
    """Rewrites paths relative to the spec's folder into paths relative to the pyproject's."""

    def __init__(self, old_root: Path, new_root: Path, result: ImportResult) -> None:
        self.old_root, self.new_root, self.result = old_root.resolve(), new_root.resolve(), result

    @property
    def moved(self) -> bool:
        return self.old_root != self.new_root

    def move(self, text: str, what: str) -> str:
        if not self.moved or Path(text).is_absolute():
            return text
        new = Path(os.path.relpath(self.old_root / text, self.new_root)).as_posix()
        if new != text:
            self.result.changes.append(f"{what}: '{text}' -> '{new}'")
        return new


def _read_target(pyproject_path: Path) -> TOMLDocument:
    if not pyproject_path.is_file():
        return tomlkit.document()
    try:
        return tomlkit.parse(pyproject_path.read_text(encoding="utf-8"))
    except tomlkit.exceptions.ParseError as exc:
        raise StackError(f"invalid TOML: {exc}", file=display_path(pyproject_path)) from exc


def _leading_comments(body: list[tuple[Any, Any]]) -> list[Comment]:
    """Comments at the top of the file, before its first table (they describe the stack)."""
    comments = []
    for key, item in body:
        if key is not None:
            break
        if isinstance(item, Comment):
            comments.append(item)
    return comments


def _uv_table_comments(source: TOMLDocument) -> list[Comment]:
    """Comment lines inside ``[tool.uv]``: the table goes away, what they say should not."""
    table = source.get("tool", {}).get("uv")
    if not isinstance(table, Table):
        return []
    return [item for key, item in table.value.body if key is None and isinstance(item, Comment)]


def write_imported(pyproject_path: Path, result: ImportResult, *, extra_indexes: Iterable[str] = ()) -> None:
    """Write the new pyproject.toml only once it reads back as a valid stack (atomically)."""
    try:
        with replacement(pyproject_path) as candidate:
            candidate.write_text(result.text, encoding="utf-8", newline="")
            load_stack(candidate, extra_indexes=extra_indexes)
    except StackError as exc:
        raise StackError(
            f"the converted stack does not validate, so the file was left unchanged: {exc}",
            file=display_path(pyproject_path),
        ) from exc


def _move_app_paths(layer: Table, paths: _PathMover) -> None:
    name = layer.get("name", "?")
    if "launch_module" in layer:
        layer["launch_module"] = paths.move(
            str(layer["launch_module"]), f"application '{name}' launch_module"
        )
    modules = layer.get("support_modules")
    if isinstance(modules, Array):
        for index, module in enumerate(list(modules)):
            modules[index] = paths.move(str(module), f"application '{name}' support_modules")


def _stack_settings(
    source: TOMLDocument, spec_path: Path, paths: _PathMover, result: ImportResult
) -> dict[str, Any]:
    """``[tool.pdm-stack]`` of the spec plus its converted uv settings, paths relative to the pyproject."""
    sink = ErrorSink(display_path(spec_path), [])
    settings: dict[str, Any] = {}
    uv_table = venvstacks_uv_table(source.unwrap(), spec_path, sink, [])
    if uv_table is not None:
        converted = uv_settings(uv_table, sink)
        comments = _uv_comments(source, spec_path, uv_table.where)
        for uv_key, name in SETTING_NAMES.items():
            if name in converted:
                value = converted[name]
                if name == "find_links":
                    value = [paths.move(str(folder), "find-links folder") for folder in value]
                settings[name] = _with_comment(value, comments.get(uv_key))
                result.changes.append(f"{uv_table.where} {uv_key} -> [{SETTINGS_TABLE}] {name}")
    own = source.get("tool", {}).get("pdm-stack", {})
    for key, value in own.items():
        if key == "find_links":
            value = [paths.move(str(folder), "find-links folder") for folder in value]
        settings[key] = value
    for key in PATH_SETTINGS:
        if key in settings:
            settings[key] = paths.move(str(settings[key]), f"[{SETTINGS_TABLE}] {key}")
        elif paths.moved:
            # The venvstacks layout keeps these beside the spec: keep them there.
            settings[key] = paths.move(FOLDER_DEFAULTS[key], f"[{SETTINGS_TABLE}] {key}")
    mirror = settings.get("runtime_mirror")
    if isinstance(mirror, str) and "://" not in mirror:
        settings["runtime_mirror"] = paths.move(mirror, f"[{SETTINGS_TABLE}] runtime_mirror")
    if sink.errors:  # load_stack accepted the file, so this is only reached for a raced edit
        raise StackError(str(sink.errors[0]))
    return settings


def _uv_comments(source: TOMLDocument, spec_path: Path, where: str) -> dict[str, str]:
    """Inline comments of the uv settings, to keep them on the converted settings."""
    if where == UV_CONFIG_FILE:
        table: Any = tomlkit.parse((spec_path.parent / UV_CONFIG_FILE).read_text(encoding="utf-8"))
    else:
        table = source.get("tool", {}).get("uv")
    comments = {}
    for key in table or {}:
        item = table.item(key)
        comment = getattr(getattr(item, "trivia", None), "comment", "")
        if comment:
            comments[key] = comment.lstrip("# ")
    return comments


def _with_comment(value: Any, comment: str | None) -> Any:
    if isinstance(value, dict):
        inline = tomlkit.inline_table()
        inline.update(value)
        value = inline
    item = tomlkit.item(value)
    if comment:
        item.comment(comment)
    return item


def _merge_settings(
    tool: Container | Table, settings: dict[str, Any], pyproject: Path, result: ImportResult
) -> None:
    if not settings:
        return
    table = tool.setdefault("pdm-stack", tomlkit.table())
    for key, value in settings.items():
        if key in table and table[key] != value:
            result.not_converted.append(
                f"[{SETTINGS_TABLE}] {key} = {value!r}: {display_path(pyproject)} already sets {table[key]!r}"
            )
            continue
        table[key] = value


def _carry_indexes(
    source: TOMLDocument, spec_path: Path, tool: Container | Table, result: ImportResult
) -> None:
    """The spec's uv index definitions become the pyproject's ``[[tool.uv.index]]`` entries."""
    inline = source.get("tool", {}).get("uv")
    if inline is not None:
        entries = inline.get("index", [])
    else:
        config = spec_path.parent / UV_CONFIG_FILE
        entries = (
            tomlkit.parse(config.read_text(encoding="utf-8")).get("index", []) if config.is_file() else []
        )
    if not entries:
        return
    uv = tool.setdefault("uv", tomlkit.table())
    existing = uv.setdefault("index", tomlkit.aot())
    names = {entry.get("name") for entry in existing}
    for entry in entries:
        if entry.get("name") in names:
            same = next(e for e in existing if e.get("name") == entry.get("name"))
            if same.unwrap() != entry.unwrap():
                result.not_converted.append(
                    f"index '{entry.get('name')}': the pyproject defines another index of that name"
                )
            continue
        existing.append(entry)
        result.changes.append(f"index '{entry.get('name')}' -> [[tool.uv.index]]")
