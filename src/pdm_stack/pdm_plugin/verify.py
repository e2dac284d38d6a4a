"""``pdm stack verify``: check a deployed stack against what was deployed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import verbose_option
from rich.markup import escape

from pdm_stack.errors import StackError
from pdm_stack.pdm_plugin.common import user_errors
from pdm_stack.pdm_plugin.json_output import json_option, json_output

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class VerifyCommand(BaseCommand):
    """Check a deployed stack: files as deployed, each app's launch module importable"""

    arguments = (verbose_option, json_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target", metavar="TARGET", help="The deployment folder")
        parser.add_argument(
            "--timeout",
            type=float,
            default=120.0,
            help="Seconds allowed for importing each app's launch module (default: 120)",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.command_json import verify_layers_json
        from pdm_stack.deploy.verify import describe, verify_deployment

        target = Path(options.target)
        with json_output(options, "verify") as output, user_errors(project):
            results = verify_deployment(target, timeout=options.timeout)
            output.layers(verify_layers_json(target.absolute(), results), target=str(target.absolute()))
            for result in results:
                for line in describe(result):
                    project.core.ui.echo(escape(line))
            failed = [result.install_target for result in results if not result.ok]
            if failed:
                raise StackError(
                    f"{len(failed)} of {len(results)} deployed layer(s) failed: {', '.join(failed)}"
                )
