"""``pdm stack run APP [-- ARGS]``: run an application layer's launch module from the build."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand

from pdm_stack.errors import StackError
from pdm_stack.pdm_plugin.common import COMMON_ARGUMENTS, PdmReporter, open_project_stack, user_errors
from pdm_stack.pdm_plugin.lock_inputs import valid_locks

if TYPE_CHECKING:
    from pdm.project import Project


class RunCommand(BaseCommand):
    """Run an application layer (python -m <launch module>) from the build, passing its exit code"""

    arguments = COMMON_ARGUMENTS

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("app", metavar="APP", help="Application layer name (e.g. 'stats' or 'app-stats')")
        parser.add_argument(
            "args",
            nargs=argparse.REMAINDER,
            metavar="ARGS",
            help="Arguments for the app; put them after '--' so options reach the app, not pdm",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        # The core loads when the command runs, not on every pdm run (see common.py).
        from pdm_stack.run import find_app, run_app

        arguments = list(options.args)
        if arguments[:1] == ["--"]:
            arguments = arguments[1:]
        # The app's output is what the user asked for: no PDM update notice after it.
        os.environ["PDM_CHECK_UPDATE"] = "false"
        with user_errors(project):
            stack = open_project_stack(project, options)
            try:
                locks = valid_locks(project, stack, [find_app(stack, options.app)])
            except StackError:
                locks = None  # reported as an out-of-date build, which still runs
            code = run_app(stack, options.app, arguments, locks=locks, reporter=PdmReporter(project.core.ui))
        if code:
            sys.exit(code)
