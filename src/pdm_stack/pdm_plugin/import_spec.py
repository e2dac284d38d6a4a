"""``pdm stack import``: move a venvstacks.toml into the project's pyproject.toml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import project_option, verbose_option
from rich.markup import escape

from pdm_stack.pdm_plugin.common import user_errors

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class ImportCommand(BaseCommand):
    """Import a venvstacks.toml (and its [tool.uv] settings) into [tool.venvstacks] of pyproject.toml"""

    arguments = (verbose_option, project_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("spec_file", metavar="PATH", help="The venvstacks.toml to import")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the new pyproject.toml on stdout instead of writing it",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.stack_spec.loader import display_path
        from pdm_stack.stack_spec.uv_config import UV_CONFIG_FILE
        from pdm_stack.stack_spec.venvstacks_import import import_venvstacks, write_imported

        ui = project.core.ui
        pyproject = project.root / "pyproject.toml"
        known = [source.name for source in project.sources if source.name]
        with user_errors(project):
            spec = Path(options.spec_file).absolute()
            result = import_venvstacks(spec, pyproject, extra_indexes=known)
            if options.dry_run:
                print(result.text, end="")
            else:
                write_imported(pyproject, result, extra_indexes=known)
        # Plain text: rich markup would swallow '[tool.uv]' and friends.
        for change in result.changes:
            ui.echo(f"  {change}", err=True, markup=False, highlight=False)
        for problem in result.not_converted:
            ui.warn(escape(f"not converted: {problem}"))
        if not options.dry_run:
            ui.echo(
                f"Imported {display_path(spec)} into [tool.venvstacks] of {display_path(pyproject)};"
                f" run 'pdm stack show' to check it, then remove {spec.name}"
                + (f" and {UV_CONFIG_FILE}" if (spec.parent / UV_CONFIG_FILE).is_file() else ""),
                err=True,
                markup=False,
                highlight=False,
            )
