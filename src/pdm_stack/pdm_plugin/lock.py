"""``pdm stack lock``: lock the selected layers, each against the layers below it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import skip_option
from pdm.exceptions import PdmUsageError

from pdm_stack.pdm_plugin.common import (
    COMMON_ARGUMENTS,
    PdmReporter,
    open_project_stack,
    selected_layers,
    selection_group,
    user_errors,
)
from pdm_stack.pdm_plugin.hooks import StackHooks
from pdm_stack.pdm_plugin.json_output import json_option, json_output
from pdm_stack.pdm_plugin.lock_inputs import lock_options, locking_group

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class LockCommand(BaseCommand):
    """Lock the stack's layers with uv into pylock.toml files (only stale layers are relocked)"""

    arguments = (*COMMON_ARGUMENTS, selection_group, locking_group, json_option, skip_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Do not lock: exit with an error if any selected layer's lock is missing or stale",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.command_json import lock_check_layers_json, lock_layers_json
        from pdm_stack.lock.stack_lock import lock_stack, lock_statuses
        from pdm_stack.operations.lock_inputs import stale_locks

        reporter = PdmReporter(project.core.ui)
        with json_output(options, "lock") as output, user_errors(project):
            stack = open_project_stack(project, options)
            layers = selected_layers(stack, options)
            settings = lock_options(project, stack, options)
            if options.check:
                if output.enabled:
                    output.layers(lock_check_layers_json(layers, lock_statuses(stack, settings)))
                stale = stale_locks(stack, layers, settings)
                if stale:
                    raise PdmUsageError(f"stale locks: {', '.join(stale)}; run 'pdm stack lock'")
                reporter.info(f"All {len(layers)} selected lock(s) are up to date")
                return
            hooks = StackHooks(project, options, "lock")
            hooks.pre(stack=stack, layers=layers)
            outcomes = lock_stack(stack, layers, settings, reporter, reset=options.reset_lock)
            hooks.post(stack=stack, layers=layers, results=outcomes)
            output.layers(lock_layers_json(stack, outcomes))
        changed = [o.layer.env_name for o in outcomes if o.changed]
        reporter.info(
            f"Locked {len(outcomes)} layer(s) into {stack.settings.requirements_dir}"
            + (f"; updated: {', '.join(changed)}" if changed else "; nothing changed")
        )
