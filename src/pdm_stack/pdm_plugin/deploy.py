"""``pdm stack deploy``: deploy published layer archives into a folder, from a folder or an OCI registry.

The work is done by the same standalone deployer that publishing writes next to the archives
(``deploy_stack.py`` and ``deploy_stack_lib/``), so a target deployed with or without pdm-stack
ends up identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import verbose_option

from pdm_stack.pdm_plugin.common import PdmReporter, user_errors
from pdm_stack.pdm_plugin.json_output import json_option, json_output
from pdm_stack.pdm_plugin.registry_options import add_insecure_option, registry_credentials

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class DeployCommand(BaseCommand):
    """Deploy published layers into a folder: archives checked, unpacked, post-installed"""

    arguments = (verbose_option, json_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "artifacts",
            metavar="ARTIFACTS",
            help="Folder with the archives and __venvstacks__/, or a stack in an OCI registry:"
            " oci://HOST[:PORT]/REPOSITORY:TAG (only the blobs TARGET lacks are fetched)",
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
        add_insecure_option(parser)

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.command_json import deploy_layers_json
        from pdm_stack.deploy import deploy_stack
        from pdm_stack.deploy.registry_client import is_registry

        reporter = PdmReporter(project.core.ui)
        target = Path(options.target)
        with json_output(options, "deploy") as output, user_errors(project):
            registry = is_registry(options.artifacts)
            outcome = deploy_stack(
                options.artifacts if registry else Path(options.artifacts),
                target,
                layers=options.layer,
                apps=options.app,
                force=options.force,
                credentials=registry_credentials(project) if registry else None,
                insecure=options.insecure,
                reporter=reporter,
            )
            output.layers(deploy_layers_json(target.absolute(), outcome), target=str(target.absolute()))
        deployed = sum(1 for _, status in outcome if status == "deployed")
        project.core.ui.echo(
            f"[success]✔[/] {deployed} layer(s) deployed, {len(outcome) - deployed} up to date", err=True
        )
