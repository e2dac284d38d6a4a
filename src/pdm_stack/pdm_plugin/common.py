"""What every ``pdm stack`` subcommand shares: options, opening the stack, error reporting.

The core raises :class:`StackError` for user errors; here they become PDM's one-line usage
errors, with the traceback printed first only when ``-v`` was given.

PDM imports every plugin on every run (``pdm install``, ``pdm --version``), so the command modules
import only what setting up their options needs; the core is imported when a command runs.
"""

from __future__ import annotations

import sys
import traceback
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

from pdm.cli.options import ArgumentGroup, Option, project_option, verbose_option
from pdm.exceptions import PdmUsageError
from pdm.termui import Verbosity, is_interactive
from rich.markup import escape

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from pdm.project import Project
    from pdm.termui import UI

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack

spec_option = Option(
    "--spec",
    metavar="PATH",
    help="Read the stack from this file (a pyproject.toml with [tool.venvstacks], or a venvstacks.toml)"
    " instead of the project's pyproject.toml",
)

selection_group = ArgumentGroup("Layer selection")
selection_group.add_argument(
    "--include",
    metavar="GLOB",
    action="append",
    default=[],
    help="Only these layers: a glob over layer names and env names (repeatable; default: all)",
)
selection_group.add_argument(
    "--include-dependencies",
    action="store_true",
    help="Also select the layers the selected ones build on",
)
selection_group.add_argument(
    "--include-derived",
    action="store_true",
    help="Also select the layers built on the selected ones",
)

COMMON_ARGUMENTS = (verbose_option, project_option, spec_option)


class PdmReporter:
    """Adapts PDM's UI to the core's Reporter protocol."""

    def __init__(self, ui: UI, *, info_is_output: bool = False) -> None:
        self.ui = ui
        self.verbosity = int(ui.verbosity)
        #: ``info`` lines are the command's result (``publish --dry-run``): stdout, not stderr.
        self.info_is_output = info_is_output

    def info(self, message: str) -> None:
        # NORMAL, not PDM's default QUIET: `-q` hides progress, keeps warnings and errors.
        self.ui.echo(message, err=not self.info_is_output, verbosity=Verbosity.NORMAL)

    def detail(self, message: str) -> None:
        self.ui.echo(message, err=True, verbosity=Verbosity.DETAIL)

    def warn(self, message: str) -> None:
        self.ui.warn(message)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        if self.verbosity < Verbosity.NORMAL:
            yield
            return
        if self.verbosity >= Verbosity.DETAIL or not is_interactive():
            # Logs and detailed output get one plain line per step; a spinner would only add noise.
            self.ui.echo(f"{title} ...", err=True)
            yield
            return
        with self.ui.open_spinner(title):
            yield
        self.ui.echo(f"[success]✔[/] {title}", err=True)


@contextmanager
def user_errors(project: Project) -> Iterator[None]:
    """Turn core user errors into PDM usage errors (one line each, no traceback unless -v)."""
    try:
        yield
    except StackError as exc:
        if project.core.ui.verbosity >= Verbosity.DETAIL:
            project.core.ui.echo(traceback.format_exc(), err=True)
            details = getattr(exc, "details", "")
            if details:
                # e.g. uv's full resolver report behind a one-line lock error
                project.core.ui.echo(escape(details), err=True)
        # PDM renders the message as rich markup: escape it or '[tool.venvstacks]' vanishes.
        raise PdmUsageError(escape(str(exc))) from exc
    except KeyboardInterrupt:
        interrupted(project, "finished layers are kept, unfinished ones were discarded")


@contextmanager
def on_interrupt(project: Project, what_is_kept: str) -> Iterator[None]:
    """Ctrl-C inside the block ends the command with ``what_is_kept`` and the shell's status 130."""
    try:
        yield
    except KeyboardInterrupt:
        interrupted(project, what_is_kept)


def interrupted(project: Project, what_is_kept: str) -> NoReturn:
    """Ctrl-C is a user's decision, not a crash: one line (traceback only at ``-v``), status 130.

    Every stage leaves finished work in place and unfinished work out of sight, so the line says
    which of the two the interrupted work became.
    """
    if project.core.ui.verbosity >= Verbosity.DETAIL:
        project.core.ui.echo(traceback.format_exc(), err=True)
    project.core.ui.echo(f"[error]Interrupted[/]: {what_is_kept}", err=True)
    sys.exit(130)


def open_project_stack(project: Project, options: argparse.Namespace) -> Stack:
    """Open the stack of the project (or of ``--spec``), knowing PDM's configured index names."""
    from pdm_stack.stack import open_stack
    from pdm_stack.stack_spec.loader import find_spec_file

    path = find_spec_file(project.root, options.spec)
    extra_indexes = [source.name for source in project.sources if source.name]
    stack = open_stack(path, extra_indexes=extra_indexes)
    for warning in stack.spec.warnings:
        project.core.ui.warn(warning)
    return stack


def selected_layers(stack: Stack, options: argparse.Namespace) -> list[Layer]:
    from pdm_stack.graph import select_layers

    return select_layers(
        stack.graph,
        options.include,
        include_dependencies=options.include_dependencies,
        include_derived=options.include_derived,
    )
