"""Which keys each part of a spec accepts, and small typed readers for TOML values.

The readers report a wrong type as a user error and return ``None`` so the loader can keep going
and report every problem of a spec in one run.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pdm_stack.errors import StackError
from pdm_stack.stack_spec.model import LayerKind

COMMON_KEYS = frozenset(
    {
        "name",
        "requirements",
        "platforms",
        "linux_target",
        "macosx_target",
        "dynlib_exclude",
        "package_indexes",
        "priority_indexes",
        "index_overrides",
        "versioned",
    }
)
LEGACY_KEYS = frozenset({"fully_versioned_name", "build_requirements"})
KEYS_BY_KIND: dict[LayerKind, frozenset[str]] = {
    LayerKind.RUNTIME: COMMON_KEYS | LEGACY_KEYS | {"python_implementation", "runtime_archive"},
    LayerKind.FRAMEWORK: COMMON_KEYS | {"runtime", "frameworks"},
    LayerKind.APPLICATION: COMMON_KEYS | {"runtime", "frameworks", "launch_module", "support_modules"},
}
STACK_KEYS = frozenset(kind.table for kind in LayerKind)
SETTINGS_KEYS = frozenset(
    {
        "build_dir",
        "output_dir",
        "export_dir",
        "requirements_dir",
        "runtime_mirror",
        "local_runtime",
        "register_runtimes",
        "exclude_newer",
        "find_links",
        "keep_console_scripts",
        "prerelease",
        "resolution",
        "index_strategy",
        "override_dependencies",
        "package_indexes",
    }
)
#: Allowed values of the uv resolver settings, as uv spells them.
UV_CHOICES: dict[str, tuple[str, ...]] = {
    "prerelease": ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit"),
    "resolution": ("highest", "lowest", "lowest-direct"),
    "index_strategy": ("first-index", "unsafe-first-match", "unsafe-best-match"),
}


def suggest(key: str, known: Iterable[str]) -> str:
    """A ``did you mean`` hint for a misspelt key, or an empty string."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass
class ErrorSink:
    """Collects user errors of one spec file so all of them are reported together."""

    file: str
    errors: list[StackError]

    def add(self, message: str, *, layer: str | None = None, field: str | None = None) -> None:
        self.errors.append(StackError(message, file=self.file, layer=layer, field=field))


class FieldReader:
    """Reads the fields of one TOML table, recording type errors against that table's label."""

    def __init__(self, table: Mapping[str, Any], sink: ErrorSink, label: str | None) -> None:
        self.table = table
        self.sink = sink
        self.label = label

    def error(self, field: str, message: str) -> None:
        self.sink.add(message, layer=self.label, field=field)

    def _typed(self, field: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = self.table.get(field)
        if value is None:
            return None
        if not check(value):
            self.error(field, f"expected {expected}, got {_describe(value)}")
            return None
        return value

    def string(self, field: str) -> str | None:
        value = self._typed(field, lambda v: isinstance(v, str), "a string")
        if value is not None and not value.strip():
            self.error(field, "must not be empty")
            return None
        return value  # type: ignore[no-any-return]

    def boolean(self, field: str) -> bool | None:
        return self._typed(field, lambda v: isinstance(v, bool), "true or false")  # type: ignore[no-any-return]

    def string_list(self, field: str) -> list[str] | None:
        value = self._typed(
            field,
            lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
            "a list of strings",
        )
        return list(value) if value is not None else None

    def string_table(self, field: str) -> dict[str, str] | None:
        value = self._typed(
            field,
            lambda v: isinstance(v, Mapping) and all(isinstance(item, str) for item in v.values()),
            "a table of strings",
        )
        return dict(value) if value is not None else None

    def table_value(self, field: str) -> Mapping[str, Any] | None:
        return self._typed(field, lambda v: isinstance(v, Mapping), "a table")  # type: ignore[no-any-return]

    def unknown_keys(self, known: frozenset[str]) -> None:
        for key in self.table:
            if key not in known:
                self.error(key, f"unknown key{suggest(key, known)}")


def _describe(value: Any) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    for kind, text in kinds.items():
        if isinstance(value, kind):
            return f"{text} ({value!r})" if kind is not list else text
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__
