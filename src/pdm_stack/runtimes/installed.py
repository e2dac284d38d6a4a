"""Interpreters that a tool (PDM, Hatch) already installed on this machine, reused as runtimes.

Each tool keeps its installs in its own layout; one class per tool implements
:class:`InstalledRuntimes`, and a front end lists the ones it trusts, in order, in
``RuntimeSettings.installed``. The provider tries them before any download, so a runtime the
user installed is never fetched again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.runtimes.requests import RuntimeRequest


class InstalledRuntimes(ABC):
    """One tool's folder of interpreter installs."""

    #: ``RuntimeSource.kind`` recorded for runtimes taken from here (e.g. ``pdm-install``).
    kind: ClassVar[str]
    #: The tool's name, for messages.
    tool: ClassVar[str]

    def __init__(self, root: Path) -> None:
        self.root = root

    @abstractmethod
    def find(self, request: RuntimeRequest) -> list[tuple[str, Path]]:
        """Runtimes matching ``request`` as ``(full version, runtime tree)``, newest first.

        The tree is the runtime's prefix (the folder holding ``bin/python3``); it is copied,
        never modified. Incomplete or unreadable installs are skipped, not errors.
        """

    def describe(self) -> str:
        return f"{self.tool}'s installs in {self.root}"
