"""``pdm stack build``: build the selected layers into the build folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import skip_option
from pdm.exceptions import PdmUsageError

from pdm_stack.pdm_plugin.common import (
    COMMON_ARGUMENTS,
    PdmReporter,
    on_interrupt,
    open_project_stack,
    selected_layers,
    selection_group,
    user_errors,
)
from pdm_stack.pdm_plugin.hooks import StackHooks
from pdm_stack.pdm_plugin.json_output import json_option, json_output
from pdm_stack.pdm_plugin.lock_inputs import lock_options, locking_group
from pdm_stack.pdm_plugin.runtime_config import runtime_settings
from pdm_stack.pdm_plugin.use import follow_rebuilt_layer
from pdm_stack.stack_spec.field_values import LOCAL_RUNTIME_MODES

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class BuildCommand(BaseCommand):
    """Build the stack's layers from their locks: runtimes, then framework and application environments"""

    arguments = (*COMMON_ARGUMENTS, selection_group, locking_group, json_option, skip_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--clean", action="store_true", help="Rebuild the selected layers even if they are up to date"
        )
        parser.add_argument(
            "--lock",
            action="store_true",
            help="Lock stale layers first (the selected ones and those below them), with the locking"
            " options below; without it a stale lock is an error",
        )
        parser.add_argument(
            "--local-runtime",
            choices=LOCAL_RUNTIME_MODES,
            help="Use a CPython already on this machine for runtime layers: 'prefer' it, use it as a"
            " 'fallback' when no PDM install or download is available (default), or 'never'"
            " [env var: PDM_STACK_LOCAL_RUNTIME]",
        )
        parser.add_argument(
            "--runtime-mirror",
            metavar="URL_OR_DIR",
            help="Fetch python-build-standalone archives from this mirror (a base URL or a folder);"
            " checksums are still verified [env var: PDM_STACK_RUNTIME_MIRROR]",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.command_json import build_layers_json
        from pdm_stack.lock.stack_lock import load_locked_layers, lock_stack, with_lower_layers
        from pdm_stack.operations.stages import build_locked_layers

        reporter = PdmReporter(project.core.ui)
        with json_output(options, "build") as output, user_errors(project):
            stack = open_project_stack(project, options)
            layers = selected_layers(stack, options)
            settings = runtime_settings(project, stack, options)
            if not options.lock and (options.reset_lock or options.exclude_newer):
                raise PdmUsageError("--reset-lock and --exclude-newer only apply with --lock")
            locking = lock_options(project, stack, options)
            if options.lock:
                lock_hooks, to_lock = StackHooks(project, options, "lock"), with_lower_layers(stack, layers)
                lock_hooks.pre(stack=stack, layers=to_lock)
                locked = lock_stack(stack, to_lock, locking, reporter, reset=options.reset_lock)
                lock_hooks.post(stack=stack, layers=to_lock, results=locked)
            hooks = StackHooks(project, options, "build")
            hooks.pre(stack=stack, layers=layers)
            with on_interrupt(project, "the build stopped; no half-built layer was left"):
                outcomes = build_locked_layers(
                    stack, layers, settings, locking, reporter, clean=options.clean
                )
            hooks.post(stack=stack, layers=layers, results=outcomes)
            follow_rebuilt_layer(project, stack, layers)
            if output.enabled:
                locks = load_locked_layers(stack, layers, locking)
                output.layers(build_layers_json(stack, layers, outcomes, locks))
