"""``pdm stack publish``: reproducible archives of the built layers, plus their metadata."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from pdm.cli.commands.base import BaseCommand
from pdm.cli.options import skip_option

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
from pdm_stack.pdm_plugin.lock_inputs import lock_options
from pdm_stack.pdm_plugin.registry_options import add_insecure_option, project_version, registry_credentials
from pdm_stack.publish.formats import ARCHIVE_FORMATS, DEFAULT_FORMAT

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project

    from pdm_stack.publish.publish_inputs import PublishLayer
    from pdm_stack.reporting import Reporter
    from pdm_stack.stack import Stack


def built_layers(
    project: Project, stack: Stack, options: argparse.Namespace, reporter: Reporter
) -> list[PublishLayer]:
    """The selected layers for this platform, with valid locks, checked to be built."""
    # The core loads when a command runs, not on every pdm run (see common.py).
    from pdm_stack.operations.stages import publishable_layers

    return publishable_layers(stack, selected_layers(stack, options), lock_options(project, stack), reporter)


def output_folder(stack: Stack, options: argparse.Namespace, setting: str) -> Path:
    """The folder ``-o/--output-dir`` names, checked like the ``setting`` it replaces; else that
    setting's folder."""
    if not options.output_dir:
        return cast("Path", getattr(stack.settings, setting))
    from pdm_stack.stack_spec.folders import check_folder_option

    path = Path(options.output_dir).absolute()
    check_folder_option(stack.settings, setting, "--output-dir", path)
    return path


class PublishCommand(BaseCommand):
    """Write a reproducible archive of each built layer, plus metadata, to the output folder,
    and optionally push them to an OCI registry"""

    arguments = (*COMMON_ARGUMENTS, selection_group, json_option, skip_option)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "-o",
            "--output-dir",
            metavar="DIR",
            help="Where archives and __venvstacks__/ metadata go [setting: output_dir; default: _artifacts]",
        )
        parser.add_argument(
            "--format",
            dest="archive_format",
            choices=ARCHIVE_FORMATS,
            default=DEFAULT_FORMAT,
            help="tar.xz (default: smallest, unpacks with any Python), tar.gz or tar.zst (fastest)"
            " (fastest; unpacking needs the zstandard package or Python 3.14)",
        )
        parser.add_argument(
            "--tag-outputs",
            action="store_true",
            help="Name archives <install target>-<platform>-<build number>.<ext>",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only list what would be published; write nothing"
        )
        parser.add_argument(
            "--force", action="store_true", help="Rewrite the archives of layers that did not change"
        )
        parser.add_argument(
            "--to",
            metavar="LOCATION",
            help="Also push the layers there: oci://HOST[:PORT]/REPOSITORY[:TAG] (an OCI registry;"
            " the output folder stays the staging area); a plain path means --output-dir",
        )
        parser.add_argument("--tag", help="Tag of the stack in the registry [default: the project's version]")
        add_insecure_option(parser)

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        from pdm_stack.command_json import publish_layers_json, publish_registry_json
        from pdm_stack.publish.publish import PublishOptions
        from pdm_stack.publish.targets import TargetSettings, open_target

        # A dry run's listing is its result; with --json the document is, and the listing is progress.
        reporter = PdmReporter(project.core.ui, info_is_output=options.dry_run and not options.json)
        with json_output(options, "publish") as output, user_errors(project):
            stack = open_project_stack(project, options)
            output_dir = output_folder(stack, options, "output_dir")
            target = open_target(
                options.to,
                TargetSettings(
                    tag=options.tag,
                    default_tag=project_version(project, stack),
                    credentials=registry_credentials(project),
                    insecure=options.insecure,
                ),
            )
            layers = built_layers(project, stack, options, reporter)
            settings = PublishOptions(
                output_dir=output_dir,
                archive_format=options.archive_format,
                tag_outputs=options.tag_outputs,
                dry_run=options.dry_run,
                force=options.force,
            )
            kept = (
                "publishing stopped; no partial archive was left under a final name,"
                " and the metadata names only complete archives"
            )
            # A dry run publishes nothing, so nothing may react to a publish (uploads, ...).
            hooks = StackHooks(project, options, "publish", enabled=not options.dry_run)
            hooks.pre(stack=stack, layers=layers)
            with on_interrupt(project, kept):
                report = target.publish(layers, settings, reporter)
            hooks.post(stack=stack, layers=layers, results=report.layers)
            output.layers(
                publish_layers_json(report.layers),
                output_dir=str(output_dir),
                dry_run=bool(options.dry_run),
                **publish_registry_json(report.pushed),
            )
        if not options.dry_run:
            reporter.info(target.closing_message(report, settings))
