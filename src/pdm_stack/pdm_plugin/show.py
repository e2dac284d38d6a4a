"""``pdm stack show``: validate the stack and print its layers with their status."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand

from pdm_stack.pdm_plugin.common import (
    COMMON_ARGUMENTS,
    open_project_stack,
    selected_layers,
    selection_group,
    user_errors,
)
from pdm_stack.pdm_plugin.json_output import json_output
from pdm_stack.pdm_plugin.lock_inputs import lock_options

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class ShowCommand(BaseCommand):
    """Validate the stack and show its layers, their sys.path order and status"""

    arguments = (*COMMON_ARGUMENTS, selection_group)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON object (schema: docs/show-json.md) for IDEs and scripts",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.lock.stack_lock import lock_statuses
        from pdm_stack.show import collect_reports, render_tree, stack_json

        with json_output(options, "show") as output, user_errors(project):
            stack = open_project_stack(project, options)
            locks = lock_statuses(stack, lock_options(project, stack))
            reports = collect_reports(stack, selected_layers(stack, options), locks)
            # An invalid stack prints the error document instead (docs/json-output.md).
            output.document = stack_json(stack, reports)
        if options.json:
            return
        for line in render_tree(stack, reports):
            project.core.ui.echo(line, highlight=False, markup=False)
