"""User-facing errors.

Every problem a user can fix (a bad spec, a missing file, an unreachable index) is raised as a
:class:`StackError`. Front ends print its one-line message and exit non-zero; tracebacks are only
shown when asked for, because a traceback for a typo in pyproject.toml is noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable


class StackError(Exception):
    """A problem the user can fix, rendered as one line naming where it is.

    ``file``, ``layer`` and ``field`` are optional locators; they are kept separate from the
    message so tests and IDE integrations can match on them without parsing text.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        layer: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.layer = layer
        self.field = field

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.layer:
            where.append(self.layer)
        if self.field:
            where.append(f"field '{self.field}'")
        return ": ".join([*where, self.message]) if where else self.message


class StackErrors(StackError):
    """Several independent user errors found in one pass (e.g. every problem of a spec)."""

    def __init__(self, errors: Iterable[StackError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)
