"""``pdm stack``: the parent command; each subcommand lives in its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.cli.commands.base import BaseCommand

from pdm_stack.pdm_plugin.build import BuildCommand
from pdm_stack.pdm_plugin.deploy import DeployCommand
from pdm_stack.pdm_plugin.export import ExportCommand
from pdm_stack.pdm_plugin.import_spec import ImportCommand
from pdm_stack.pdm_plugin.lock import LockCommand
from pdm_stack.pdm_plugin.publish import PublishCommand
from pdm_stack.pdm_plugin.run import RunCommand
from pdm_stack.pdm_plugin.show import ShowCommand
from pdm_stack.pdm_plugin.use import UseCommand
from pdm_stack.pdm_plugin.verify import VerifyCommand

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project


class StackCommand(BaseCommand):
    """Layered environments: runtimes, frameworks and applications from [tool.venvstacks]"""

    name = "stack"
    # Options like -v/-p live on the subcommands only: defined on both, the subcommand's default
    # would silently overwrite the value given before the subcommand name.
    arguments = ()

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        subparsers = parser.add_subparsers(title="commands", metavar="")
        ShowCommand.register_to(subparsers, "show")
        LockCommand.register_to(subparsers, "lock")
        BuildCommand.register_to(subparsers, "build")
        RunCommand.register_to(subparsers, "run")
        UseCommand.register_to(subparsers, "use")
        PublishCommand.register_to(subparsers, "publish")
        ExportCommand.register_to(subparsers, "export")
        DeployCommand.register_to(subparsers, "deploy")
        VerifyCommand.register_to(subparsers, "verify")
        ImportCommand.register_to(subparsers, "import")
        self.parser = parser

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        self.parser.print_help()
