"""``pdm stack use APP``: a built layer as the project's interpreter, the way PDM records it.

Editors that follow PDM's selection (``.pdm-python``) then resolve imports across the layer, its
frameworks and its runtime, and ``pdm run`` runs in the layer, with no ``.venv``. A built layer
is an output of ``pdm stack build``, so while one is selected, PDM commands that would install
into the interpreter are refused (:func:`refuse_installs_into_layer`); a rebuild replaces the
folder in place, so the selection stays valid (:func:`follow_rebuilt_layer` covers the
versioned layers, whose folder name changes with their lock).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm.cli.commands.base import BaseCommand
from pdm.exceptions import PdmUsageError

from pdm_stack.errors import StackError
from pdm_stack.pdm_plugin.common import COMMON_ARGUMENTS, open_project_stack, user_errors

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack

#: PDM commands that install into (or remove from) the selected interpreter.
INSTALLING_COMMANDS = frozenset({"add", "install", "remove", "sync", "update"})
RESET_HINT = "'pdm stack use --reset' switches back"


def layer_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def selected_interpreter(project: Project) -> Path | None:
    """The interpreter PDM has recorded for the project (``PDM_PYTHON`` wins, as in PDM)."""
    saved = os.getenv("PDM_PYTHON")
    if not saved:
        try:
            saved = project.root.joinpath(".pdm-python").read_text("utf-8").strip()
        except OSError:
            return None
    return Path(saved) if saved else None


def selected_layer_folder(project: Project) -> Path | None:
    """The built layer folder holding the selected interpreter, if it is one."""
    # The core loads when it is needed, not on every pdm run (see common.py).
    from pdm_stack.building.layer_config import read_layer_config

    python = selected_interpreter(project)
    if python is None:
        return None
    folder = python.parent.parent
    return folder if read_layer_config(folder) is not None else None


def _find_layer(stack: Stack, name: str) -> Layer:
    from pdm_stack.stack_spec.model import LayerKind

    candidates = [layer for layer in stack.graph if layer.kind is not LayerKind.RUNTIME]
    for layer in candidates:
        if name in (layer.name, layer.env_name):
            return layer
    known = ", ".join(layer.env_name for layer in candidates) or "none"
    raise StackError(f"no application or framework layer named '{name}' (layers: {known})")


def _built_folder(stack: Stack, layer: Layer) -> Path:
    from pdm_stack.status import layer_status

    status = layer_status(stack, layer)
    if status.build_dir is None or not status.built:
        raise StackError(
            f"{layer.env_name} is not built; run 'pdm stack build --include {layer.name}"
            " --include-dependencies' first",
            layer=layer.label,
        )
    return status.build_dir


def select_interpreter(project: Project, python: Path) -> str:
    """Record ``python`` as the project's interpreter; returns its version."""
    from pdm.models.python import PythonInfo

    info = PythonInfo.from_path(python)
    if not info.valid:
        raise StackError(f"{python} does not run; rebuild the layer with 'pdm stack build --clean'")
    if not project.python_requires.contains(str(info.version), True):
        raise StackError(
            f"the layer's Python {info.version} is outside the project's requires-python"
            f" ({project.python_requires})",
            file="pyproject.toml",
            field="requires-python",
        )
    project.python = info
    # As `pdm use` does: an environment made for the previous interpreter must not be reused.
    project.environment = None
    return str(info.version)


class UseCommand(BaseCommand):
    """Make a built application (or framework) layer the project's interpreter for editors and pdm run"""

    arguments = COMMON_ARGUMENTS

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "layer",
            nargs="?",
            metavar="LAYER",
            help="Layer name or env name (e.g. 'stats' or 'app-stats'); without it, show the selection",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Forget the selected layer; PDM chooses the interpreter as before (e.g. its .venv)",
        )

    def handle(self, project: Project, options: argparse.Namespace) -> None:
        ui = project.core.ui
        current = selected_layer_folder(project)
        if options.reset:
            if current is None:
                ui.echo("No stack layer is selected; nothing to reset", err=True)
                return
            project.root.joinpath(".pdm-python").unlink(missing_ok=True)
            ui.echo(f"[success]✔[/] {current.name} is no longer the project interpreter", err=True)
            return
        if options.layer is None:
            ui.echo(f"{current} ({RESET_HINT})" if current else "No stack layer is selected")
            return
        with user_errors(project):
            stack = open_project_stack(project, options)
            layer = _find_layer(stack, options.layer)
            folder = _built_folder(stack, layer)
            version = select_interpreter(project, layer_python(folder))
        ui.echo(
            f"[success]✔[/] Project interpreter: {layer.env_name} (Python {version}, {folder}); {RESET_HINT}",
            err=True,
        )


def refuse_installs_into_layer(
    project: Project, *, command: str | None = None, options: Any = None, **kwargs: Any
) -> None:
    """``pre_invoke`` receiver: a selected layer is a build output, never an install target."""
    if command not in INSTALLING_COMMANDS or getattr(project, "is_global", False):
        return
    folder = selected_layer_folder(project)
    if folder is not None:
        raise PdmUsageError(
            f"the project interpreter is the built layer {folder.name} (pdm stack use), which"
            f" 'pdm {command}' must not change; {RESET_HINT}, or change the stack and rebuild"
        )


def follow_rebuilt_layer(project: Project, stack: Stack, layers: list[Layer]) -> None:
    """After a build: a selected versioned layer moves to its newly built folder."""
    from pdm_stack.stack_spec.model import LayerKind
    from pdm_stack.status import layer_status

    python = selected_interpreter(project)
    # The folder itself may be gone: a new lock version's build replaces the previous one.
    current = python.parent.parent if python is not None else None
    if current is None or current.parent.resolve() != stack.settings.build_dir.resolve():
        return
    for layer in layers:
        if layer.kind is LayerKind.RUNTIME or current.name.split("@")[0] != layer.env_name:
            continue
        status = layer_status(stack, layer)
        if status.built and status.build_dir is not None and status.build_dir.name != current.name:
            with_python = layer_python(status.build_dir)
            select_interpreter(project, with_python)
            project.core.ui.echo(f"Project interpreter follows the rebuilt layer to {with_python}", err=True)
