"""Running an application layer's launch module from the build, as a deployed app would run.

The app runs as ``<layer>/bin/python -m <launch module>`` with the caller's arguments, standard
streams and exit code; nothing from the calling environment that could redirect imports
(``PYTHONPATH``, ``PYTHONHOME``, an active virtual environment) is passed on, so what works here
works the same after deployment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from pdm_stack.build.records import built_record
from pdm_stack.errors import StackError
from pdm_stack.spec.model import LayerKind
from pdm_stack.spec.modules import import_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.graph import Layer
    from pdm_stack.stack import Stack

#: Variables that would make the app import something other than its layers.
ISOLATED_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")


def find_app(stack: Stack, name: str) -> Layer:
    """The application layer called ``name`` (spec name or env name), or a helpful error."""
    apps = [layer for layer in stack.graph if layer.kind is LayerKind.APPLICATION]
    for layer in apps:
        if name in (layer.name, layer.env_name):
            return layer
    known = ", ".join(layer.name for layer in apps) or "none"
    raise StackError(f"no application layer named '{name}' (applications: {known})")


def app_command(stack: Stack, layer: Layer) -> list[str]:
    """``[<layer python>, "-m", <launch module>]`` for a built application layer."""
    build_dir = stack.settings.build_dir
    record = built_record(build_dir, layer.env_name)
    if record is None:
        raise StackError(
            f"{layer.env_name} is not built yet; run 'pdm stack build --include {layer.name}"
            " --include-dependencies'",
            layer=layer.label,
        )
    python = build_dir / record.folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    assert layer.spec.launch_module is not None  # the spec loader requires it for applications
    return [str(python), "-m", import_name(layer.spec.launch_module)]


def run_app(stack: Stack, name: str, arguments: Sequence[str]) -> int:
    """Run the app in the foreground and return its exit status (``128 + n`` for signal ``n``)."""
    command = [*app_command(stack, find_app(stack, name)), *arguments]
    env = {key: value for key, value in os.environ.items() if key not in ISOLATED_VARIABLES}
    try:
        completed = subprocess.run(command, env=env, check=False)
    except KeyboardInterrupt:
        # The app got the same Ctrl-C (same process group) and has exited; report it like a shell.
        return 130
    code = completed.returncode
    return 128 - code if code < 0 else code
