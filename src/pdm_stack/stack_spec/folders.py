"""The project's working folders (build, output, export, requirements) must stay apart.

Each command owns one folder and replaces what it made there: a build replaces layer folders,
an export replaces exported layers. Two settings naming the same folder, or one folder inside
another, would let one command replace the other's files (``build_dir = "requirements"`` once
turned every lock folder into a built layer), so the overlap is refused before anything runs,
for the settings and for the command line options that stand in for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.stack_spec.model import StackSettings

#: The ``[tool.pdm-stack]`` settings naming a working folder.
FOLDER_SETTINGS = ("build_dir", "output_dir", "export_dir", "requirements_dir")


@dataclass(frozen=True)
class Folder:
    #: How messages name it: a setting (``build_dir``) or an option (``--output-dir``).
    name: str
    path: Path


def folder_clash(first: Folder, second: Folder) -> tuple[Folder, str] | None:
    """Why ``first`` and ``second`` cannot both be used, with the folder the message is about
    (the inner one of two that nest); ``None`` when they are apart."""
    one, two = first.path.resolve(), second.path.resolve()
    if one == two:
        return first, f"{first.name} and {second.name} are the same folder ({first.path}); give each its own"
    for inner, outer in ((first, second), (second, first)):
        if outer.path.resolve() in inner.path.resolve().parents:
            where = f"{inner.name} ({inner.path}) is inside {outer.name} ({outer.path})"
            return inner, f"{where}; the two must not nest"
    return None


def not_a_folder(folder: Folder) -> str | None:
    """Why ``folder`` cannot be used as a folder (it is a file), or ``None``."""
    path = folder.path
    if path.exists() and not path.is_dir():
        return f"{folder.name} ({path}) is a file, not a folder"
    return None


def settings_folders(settings: StackSettings) -> list[Folder]:
    return [Folder(name, getattr(settings, name)) for name in FOLDER_SETTINGS]


def check_folder_option(settings: StackSettings, setting: str, option: str, path: Path) -> None:
    """Refuse a command line folder (``option``, standing in for ``setting``) that is a file or
    overlaps one of the other working folders."""
    chosen = Folder(option, path)
    problem = not_a_folder(chosen)
    for other in settings_folders(settings):
        clash = folder_clash(chosen, other) if other.name != setting else None
        if problem is None and clash is not None:
            problem = clash[1]
    if problem is not None:
        raise StackError(problem)
