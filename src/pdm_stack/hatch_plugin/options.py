"""The options of ``[tool.hatch.build.targets.venvstacks]`` (or ``[build.targets.venvstacks]`` in
hatch.toml), validated before anything runs.

Every problem is one line naming the file and the option. Unknown options are errors too, so a
typo (``tag_outputs``) does not silently publish with defaults. Hatch's own target options
(``dependencies``, ``versions``, ``directory`` ...) are Hatch's business and pass through.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pdm_stack.errors import StackError
from pdm_stack.publish.formats import ARCHIVE_FORMATS, DEFAULT_FORMAT, ArchiveFormat
from pdm_stack.stack_spec.field_values import LOCAL_RUNTIME_MODES

if TYPE_CHECKING:
    from collections.abc import Mapping

#: What a build does with stale locks: refuse (``never``) or lock them first (``if-stale``).
LOCK_POLICIES = ("never", "if-stale")
#: Overrides the ``lock`` option, e.g. ``PDM_STACK_LOCK=never`` in CI: locks must be current.
LOCK_ENV_VAR = "PDM_STACK_LOCK"

#: Options hatchling reads for every target; this builder leaves them to Hatch.
HATCH_TARGET_OPTIONS = frozenset(
    {
        "dependencies",
        "require-runtime-dependencies",
        "require-runtime-features",
        "versions",
        "hooks",
        "directory",
    }
)


@dataclass(frozen=True)
class TargetOptions:
    """The target's options with defaults applied; names follow the TOML keys."""

    spec: str | None = None
    include: tuple[str, ...] = ()
    include_dependencies: bool = False
    include_derived: bool = False
    lock: str = "never"
    archive_format: ArchiveFormat = DEFAULT_FORMAT
    tag_outputs: bool = False
    postinstall: bool = True
    local_runtime: str | None = None
    runtime_mirror: str | None = None


@dataclass(frozen=True)
class OptionsLocation:
    """Where the target table is, for messages: the file and the table's dotted name."""

    file: str = "pyproject.toml"
    table: str = "tool.hatch.build.targets.venvstacks"


class _Reader:
    def __init__(self, table: Mapping[str, Any], where: OptionsLocation) -> None:
        self.table = table
        self.where = where

    def error(self, name: str, message: str) -> StackError:
        return StackError(message, file=self.where.file, field=f"{self.where.table}.{name}")

    def string(self, name: str, choices: tuple[str, ...] = ()) -> str | None:
        value = self.table.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.error(name, f"must be a non-empty string, not {value!r}")
        if choices and value not in choices:
            raise self.error(name, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"must be true or false, not {value!r}")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        value = self.table.get(name, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.error(name, f"must be a list of layer names or globs, not {value!r}")
        return tuple(value)


def parse_target_options(
    table: Mapping[str, Any], where: OptionsLocation | None = None, env: Mapping[str, str] | None = None
) -> TargetOptions:
    """Validate the target table; ``PDM_STACK_LOCK`` (from ``env``) overrides ``lock``."""
    where = where or OptionsLocation()
    env = os.environ if env is None else env
    reader = _Reader(table, where)
    known = {field.replace("_", "-") for field in TargetOptions.__dataclass_fields__} - {"archive-format"}
    known.add("format")
    unknown = sorted(set(table) - known - HATCH_TARGET_OPTIONS)
    if unknown:
        raise reader.error(unknown[0], f"unknown option (known: {', '.join(sorted(known))})")
    lock = reader.string("lock", LOCK_POLICIES) or "never"
    if env.get(LOCK_ENV_VAR):
        lock = env[LOCK_ENV_VAR]
        if lock not in LOCK_POLICIES:
            raise StackError(f"{LOCK_ENV_VAR} must be one of {', '.join(LOCK_POLICIES)}, not {lock!r}")
    return TargetOptions(
        spec=reader.string("spec"),
        include=reader.strings("include"),
        include_dependencies=reader.boolean("include-dependencies", False),
        include_derived=reader.boolean("include-derived", False),
        lock=lock,
        archive_format=cast("ArchiveFormat", reader.string("format", ARCHIVE_FORMATS) or DEFAULT_FORMAT),
        tag_outputs=reader.boolean("tag-outputs", False),
        postinstall=reader.boolean("postinstall", True),
        local_runtime=reader.string("local-runtime", LOCAL_RUNTIME_MODES),
        runtime_mirror=reader.string("runtime-mirror"),
    )
