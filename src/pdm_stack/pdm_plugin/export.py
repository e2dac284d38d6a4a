"""``pdm stack export``: the built layers as a ready-to-run folder on this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import skip_option

from pdm_stack.pdm_plugin.common import (
    COMMON_ARGUMENTS,
    PdmReporter,
    on_interrupt,
    open_project_stack,
    selection_group,
    user_errors,
)
from pdm_stack.pdm_plugin.hooks import StackHooks
from pdm_stack.pdm_plugin.json_output import json_option, json_output
from pdm_stack.pdm_plugin.publish import built_layers, output_folder

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class ExportCommand(BaseCommand):
    """Copy the built layers (hard links where possible) to a folder and run their post-install steps"""

    arguments = (*COMMON_ARGUMENTS, selection_group, json_option, skip_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "-o",
            "--output-dir",
            metavar="DIR",
            help="Where the layers go [setting: export_dir; default: _export]",
        )
        parser.add_argument(
            "--no-postinstall",
            dest="postinstall",
            action="store_false",
            help="Do not run the layers' postinstall.py after copying them",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.command_json import export_layers_json
        from pdm_stack.publish.export import export_layers

        reporter = PdmReporter(project.core.ui)
        with json_output(options, "export") as output, user_errors(project):
            stack = open_project_stack(project, options)
            export_dir = output_folder(stack, options, "export_dir")
            layers = built_layers(project, stack, options, reporter)
            kept = (
                "the export stopped before it finished (a layer folder is never left half-copied);"
                " run 'pdm stack export' again"
            )
            hooks = StackHooks(project, options, "export")
            hooks.pre(stack=stack, layers=layers)
            with on_interrupt(project, kept):
                results = export_layers(layers, export_dir, reporter, postinstall=options.postinstall)
            hooks.post(stack=stack, layers=layers, results=results)
            output.layers(export_layers_json(results), export_dir=str(export_dir))
        reporter.info(f"Exported {len(results)} layer(s) to {export_dir}")
