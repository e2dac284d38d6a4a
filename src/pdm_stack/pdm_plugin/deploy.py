"""``pdm stack deploy``: deploy published layer archives into a folder.

The work is done by the same standalone deployer that publishing writes next to the archives
(``deploy_stack.py`` and ``deploy_stack_lib/``), so a target deployed with or without pdm-stack
ends up identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import verbose_option

from pdm_stack.command_json import deploy_layers_json
from pdm_stack.deploy import deploy_stack
from pdm_stack.pdm_plugin.common import PdmReporter, user_errors
from pdm_stack.pdm_plugin.json_output import json_option, json_output

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class DeployCommand(BaseCommand):
    """Deploy published layers into a folder: archives checked, unpacked, post-installed"""

    arguments = (verbose_option, json_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "artifacts", metavar="ARTIFACTS", help="Folder with the archives and __venvstacks__/"
        )
        parser.add_argument("target", metavar="TARGET", help="Deployment folder (created if needed)")
        parser.add_argument(
            "--layer",
            action="append",
            default=[],
            metavar="NAME",
            help="Deploy this layer (name, env name or install target) and the layers it needs (repeatable)",
        )
        parser.add_argument(
            "--app",
            action="append",
            default=[],
            metavar="NAME",
            help="Deploy this application and the layers it needs (repeatable)",
        )
        parser.add_argument("--force", action="store_true", help="Redeploy layers that are already deployed")

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        reporter = PdmReporter(project.core.ui)
        target = Path(options.target)
        with json_output(options, "deploy") as output, user_errors(project):
            outcome = deploy_stack(
                Path(options.artifacts),
                target,
                layers=options.layer,
                apps=options.app,
                force=options.force,
                reporter=reporter,
            )
            output.layers(deploy_layers_json(target.absolute(), outcome), target=str(target.absolute()))
        deployed = sum(1 for _, status in outcome if status == "deployed")
        project.core.ui.echo(
            f"[success]✔[/] {deployed} layer(s) deployed, {len(outcome) - deployed} up to date", err=True
        )
