"""A venvstacks.toml's ``[tool.uv]`` (or ``venvstacks.uv.toml``), read the way venvstacks reads it.

venvstacks passes its spec's ``[tool.uv]`` table to every layer's uv run (falling back to a
``venvstacks.uv.toml`` beside the spec when the table is absent). pdm-stack translates each setting
into its own ``[tool.pdm-stack]`` form, so the same setting means the same thing whichever file it
was written in, counts as a lock input, and ``pdm stack import`` can write it into pyproject.toml.
A setting pdm-stack cannot honour is an error naming it: ignoring it would change the pins.

In a pyproject.toml, ``[tool.uv]`` belongs to the project's own uv use; only its ``[[tool.uv.index]]``
definitions are shared with the stack (see :func:`~pdm_stack.stack_spec.loader.spec_uv_indexes`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pdm_stack.stack_spec.fields import suggest

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.stack_spec.fields import ErrorSink

#: The file venvstacks reads when the spec has no ``[tool.uv]`` table.
UV_CONFIG_FILE = "venvstacks.uv.toml"

#: uv setting -> the ``[tool.pdm-stack]`` key with the same meaning.
SETTING_NAMES: dict[str, str] = {
    "exclude-newer": "exclude_newer",
    "find-links": "find_links",
    "prerelease": "prerelease",
    "resolution": "resolution",
    "index-strategy": "index_strategy",
    "override-dependencies": "override_dependencies",
    "sources": "package_indexes",
}
#: Read where it is: index definitions (``[[tool.uv.index]]``), usable by name from every layer.
INDEX_KEY = "index"
#: Keys of one ``[[tool.uv.index]]`` entry that pdm-stack honours.
INDEX_ENTRY_KEYS = frozenset({"name", "url", "format", "explicit", "default"})
#: Settings venvstacks itself always overrides, so only the value it forces is accepted.
FORCED: dict[str, object] = {"no-build": True}

SUPPORTED = frozenset({*SETTING_NAMES, INDEX_KEY, *FORCED})


@dataclass(frozen=True)
class UvTable:
    """The uv settings that apply to a venvstacks.toml, and where they were written."""

    values: Mapping[str, Any]
    #: ``[tool.uv]`` or ``venvstacks.uv.toml``, for messages.
    where: str


def venvstacks_uv_table(
    document: Mapping[str, Any], spec_path: Path, sink: ErrorSink, warnings: list[str]
) -> UvTable | None:
    """The spec's ``[tool.uv]``, else the ``venvstacks.uv.toml`` beside it (as venvstacks chooses)."""
    config_file = spec_path.parent / UV_CONFIG_FILE
    inline = document.get("tool", {}).get("uv")
    if inline is not None:
        if not isinstance(inline, Mapping):
            sink.add("expected a table", layer="[tool.uv]")
            return None
        if config_file.is_file():
            warnings.append(
                f"{sink.file}: {UV_CONFIG_FILE} is ignored because the spec has a [tool.uv] table"
                " (venvstacks reads only one of them)"
            )
        return UvTable(inline, "[tool.uv]")
    if not config_file.is_file():
        return None
    try:
        return UvTable(tomllib.loads(config_file.read_text(encoding="utf-8")), UV_CONFIG_FILE)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        sink.add(f"cannot read {UV_CONFIG_FILE}: {exc}")
        return None


def uv_settings(table: UvTable, sink: ErrorSink) -> dict[str, Any]:
    """The table's settings in ``[tool.pdm-stack]`` form; every unsupported key is an error."""
    settings: dict[str, Any] = {}
    for key, value in table.values.items():
        if key in SETTING_NAMES:
            converted = _convert(key, value, table.where, sink)
            if converted is not None:
                settings[SETTING_NAMES[key]] = converted
        elif key in FORCED:
            if value != FORCED[key]:
                sink.add(
                    f"only {key} = {str(FORCED[key]).lower()} is supported (layers are installed from wheels"
                    " only, as venvstacks does)",
                    layer=table.where,
                    field=key,
                )
        elif key == INDEX_KEY:
            _check_indexes(value, table.where, sink)
        else:
            sink.add(
                f"uv setting not supported by pdm-stack{suggest(key, SUPPORTED)}; supported:"
                f" {', '.join(sorted(SUPPORTED))}",
                layer=table.where,
                field=key,
            )
    return settings


def _convert(key: str, value: Any, where: str, sink: ErrorSink) -> Any:
    if key == "sources":
        if not isinstance(value, Mapping):
            sink.add("expected a table of {dist = { index = name }}", layer=where, field=key)
            return None
        indexes: dict[str, str] = {}
        for dist, source in value.items():
            if (
                not isinstance(source, Mapping)
                or set(source) != {"index"}
                or not isinstance(source["index"], str)
            ):
                sink.add(
                    f"'{dist}': only {{ index = \"<name>\" }} sources are supported (wheels from indexes)",
                    layer=where,
                    field=key,
                )
                continue
            indexes[dist] = source["index"]
        return indexes
    if key == "find-links":
        links = [value] if isinstance(value, str) else value
        if not isinstance(links, list) or not all(isinstance(link, str) for link in links):
            sink.add("expected a list of folders", layer=where, field=key)
            return None
        remote = [link for link in links if "://" in link and not link.startswith("file:")]
        if remote:
            sink.add(
                f"only local folders are supported (got {remote[0]!r}); declare a remote flat index as"
                ' [[tool.uv.index]] with format = "flat"',
                layer=where,
                field=key,
            )
            return None
        return [link.removeprefix("file://") for link in links]
    return value


def _check_indexes(value: Any, where: str, sink: ErrorSink) -> None:
    if not isinstance(value, list):
        sink.add("expected an array of tables ([[tool.uv.index]])", layer=where, field=INDEX_KEY)
        return
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        for key in entry:
            if key not in INDEX_ENTRY_KEYS:
                sink.add(
                    f"index '{entry.get('name', '?')}': key '{key}' is not supported by pdm-stack"
                    f" (supported: {', '.join(sorted(INDEX_ENTRY_KEYS))})",
                    layer=where,
                    field=INDEX_KEY,
                )
