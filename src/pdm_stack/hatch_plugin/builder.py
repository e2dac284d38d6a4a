"""The ``venvstacks`` build target: one target version per operation.

``hatch build -t venvstacks`` (version ``archives``, the default) builds every selected layer
and publishes it into ``<output folder>/venvstacks/``, as ``pdm stack publish`` does;
``venvstacks:export`` exports the built layers into ``<output folder>/venvstacks-export/``;
``venvstacks:lock`` locks them into the stack's requirements folder. ``hatch build -c`` removes
what the selected versions wrote into the output folder (locks are never removed).

Hatch imports this module through its entry point on every run, so the core is imported by the
methods that use it, not here.
"""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.plugin.interface import BuilderInterface
from hatchling.plugin.manager import PluginManager

from pdm_stack.hatch_plugin.options import OptionsLocation, TargetOptions, parse_target_options
from pdm_stack.hatch_plugin.reporting import HatchReporter, hatch_errors

if TYPE_CHECKING:
    from collections.abc import Callable

    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockOptions
    from pdm_stack.stack import Stack

#: Sub-folders of Hatch's output folder, so archives never mix with wheels and sdists.
ARCHIVES_FOLDER = "venvstacks"
EXPORT_FOLDER = "venvstacks-export"
LOCK_REMEDY = "run 'hatch build -t venvstacks:lock' (or set lock = \"if-stale\" on the venvstacks target)"
KEPT = "finished layers, locks and archives are kept; unfinished ones were discarded"


@dataclass(frozen=True)
class _Run:
    stack: Stack
    layers: list[Layer]
    locking: LockOptions


class VenvstacksBuilder(BuilderInterface[BuilderConfig, PluginManager]):
    """Locks, builds, publishes or exports the ``[tool.venvstacks]`` stack of the project."""

    PLUGIN_NAME = "venvstacks"

    def get_version_api(self) -> dict[str, Callable[..., str]]:
        return {"archives": self.build_archives, "export": self.build_export, "lock": self.build_lock}

    def get_default_versions(self) -> list[str]:
        return ["archives"]

    @cached_property
    def reporter(self) -> HatchReporter:
        return HatchReporter(self.app)

    @cached_property
    def options(self) -> TargetOptions:
        with hatch_errors(self.app, KEPT):
            return parse_target_options(self.target_config, self._options_location())

    def _options_location(self) -> OptionsLocation:
        """hatch.toml's ``build`` table replaces pyproject's ``[tool.hatch.build]`` when present."""
        hatch_file = Path(self.root) / "hatch.toml"
        try:
            with hatch_file.open("rb") as stream:
                if "build" in tomllib.load(stream):
                    return OptionsLocation("hatch.toml", "build.targets.venvstacks")
        except (OSError, tomllib.TOMLDecodeError):
            pass
        return OptionsLocation()

    # -------------------------------------------------------------------------------- versions

    def build_lock(self, directory: str, **build_data: Any) -> str:
        from pdm_stack.lock.stack_lock import lock_stack

        with hatch_errors(self.app, KEPT):
            run = self._open()
            outcomes = lock_stack(run.stack, run.layers, run.locking, self.reporter)
            changed = [o.layer.env_name for o in outcomes if o.changed]
            folder = run.stack.settings.requirements_dir
            self.reporter.info(
                f"Locked {len(outcomes)} layer(s) into {folder}"
                + (f"; updated: {', '.join(changed)}" if changed else "; nothing changed")
            )
        return str(folder)

    def build_archives(self, directory: str, **build_data: Any) -> str:
        from pdm_stack.operations.stages import publishable_layers
        from pdm_stack.publish.publish import PublishOptions, publish_layers
        from pdm_stack.stack_spec.folders import check_folder_option

        output = Path(directory).absolute() / ARCHIVES_FOLDER
        with hatch_errors(self.app, KEPT):
            run = self._open()
            check_folder_option(run.stack.settings, "output_dir", "Hatch's output folder", output)
            self._build(run)
            layers = publishable_layers(run.stack, run.layers, run.locking, self.reporter)
            settings = PublishOptions(
                output_dir=output,
                archive_format=self.options.archive_format,
                tag_outputs=self.options.tag_outputs,
            )
            results = publish_layers(layers, settings, self.reporter)
            written = sum(1 for r in results if r.outcome in ("published", "unchanged"))
            self.reporter.info(f"Published {written} of {len(results)} layer(s) to {output}")
        return str(output)

    def build_export(self, directory: str, **build_data: Any) -> str:
        from pdm_stack.operations.stages import publishable_layers
        from pdm_stack.publish.export import export_layers
        from pdm_stack.stack_spec.folders import check_folder_option

        output = Path(directory).absolute() / EXPORT_FOLDER
        with hatch_errors(self.app, KEPT):
            run = self._open()
            check_folder_option(run.stack.settings, "export_dir", "Hatch's output folder", output)
            self._build(run)
            layers = publishable_layers(run.stack, run.layers, run.locking, self.reporter)
            results = export_layers(layers, output, self.reporter, postinstall=self.options.postinstall)
            self.reporter.info(f"Exported {len(results)} layer(s) to {output}")
        return str(output)

    def clean(self, directory: str, versions: list[str]) -> None:
        folders = {"archives": ARCHIVES_FOLDER, "export": EXPORT_FOLDER}
        for version in versions:
            if version in folders:
                _remove_tree(Path(directory) / folders[version])

    # -------------------------------------------------------------------------------- steps

    def _open(self) -> _Run:
        from pdm_stack.graph import select_layers
        from pdm_stack.operations.lock_inputs import PYPI, lock_options
        from pdm_stack.stack import open_stack
        from pdm_stack.stack_spec.loader import find_spec_file

        options = self.options
        spec = Path(self.root) / options.spec if options.spec else None
        stack = open_stack(find_spec_file(Path(self.root), spec))
        for warning in stack.spec.warnings:
            self.reporter.warn(warning)
        layers = select_layers(
            stack.graph,
            options.include,
            include_dependencies=options.include_dependencies,
            include_derived=options.include_derived,
        )
        return _Run(stack, layers, lock_options(stack, [PYPI]))

    def _build(self, run: _Run) -> None:
        """The selected layers brought up to date, locking stale ones first if the options say so."""
        from pdm_stack.hatch_plugin.runtime_config import runtime_settings
        from pdm_stack.lock.stack_lock import StaleLocksError, lock_stack, with_lower_layers
        from pdm_stack.operations.stages import build_locked_layers

        if self.options.lock == "if-stale":
            lock_stack(run.stack, with_lower_layers(run.stack, run.layers), run.locking, self.reporter)
        settings = runtime_settings(run.stack, self.options)
        try:
            build_locked_layers(run.stack, run.layers, settings, run.locking, self.reporter)
        except StaleLocksError as exc:
            raise exc.with_remedy(LOCK_REMEDY) from None


def _remove_tree(folder: Path) -> None:
    """Move the folder aside first: an interrupted clean never leaves half an output in place."""
    if not folder.exists():
        return
    doomed = folder.with_name(f".{folder.name}.removing")
    if doomed.exists():
        shutil.rmtree(doomed)
    folder.rename(doomed)
    shutil.rmtree(doomed)
