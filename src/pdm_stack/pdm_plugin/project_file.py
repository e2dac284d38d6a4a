"""A broken ``pyproject.toml`` is a one-line error for ``pdm stack``, not PDM's traceback.

PDM parses the project's pyproject.toml (for its per-command default options) before it runs any
command and outside its own error handling, so malformed TOML, a duplicate key, a non-UTF-8 file
or a folder named pyproject.toml end every ``pdm stack`` command in a traceback. The stack
commands read that file first, with the spec loader's reader, while PDM sets up the project; the
other PDM commands are left exactly as PDM runs them.
"""

from __future__ import annotations

import sys
import traceback
from typing import TYPE_CHECKING

from pdm.termui import Verbosity
from rich.markup import escape

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    import argparse

    from pdm.core import Core
    from pdm.project import Project


def _is_stack_command(options: argparse.Namespace) -> bool:
    command = getattr(options, "command", None)
    return command is not None and type(command).__module__.startswith(f"{__package__}.")


def check_project_file(core: Core, project: Project, options: argparse.Namespace) -> None:
    """Exit with one line naming the file and position if the project's pyproject.toml is unreadable."""
    # Only stack commands get here: the other pdm commands never load the spec loader.
    from pdm_stack.stack_spec.loader import read_toml

    path = project.root / project.PYPROJECT_FILENAME
    if project.is_global or not (path.exists() or path.is_symlink()):
        return
    try:
        read_toml(path)
    except StackError as exc:
        # Runs before PDM applies -v to its UI, hence the option itself.
        if getattr(options, "verbose", 0) >= Verbosity.DETAIL:
            core.ui.echo(traceback.format_exc(), err=True)
        core.ui.echo(rf"[error]\[PdmUsageError][/]: {escape(str(exc))}", err=True)
        sys.exit(1)


def read_project_file_first(core: Core) -> None:
    """Make ``core`` check the project file of ``pdm stack`` commands as it opens the project."""
    open_project = core.ensure_project

    def ensure_project(options: argparse.Namespace, obj: Project | None) -> Project:
        project = open_project(options, obj)
        if _is_stack_command(options):
            check_project_file(core, project, options)
        return project

    core.ensure_project = ensure_project  # type: ignore[method-assign]
