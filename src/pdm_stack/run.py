"""Running an application layer's launch module from the build, as a deployed app would run.

The app runs as ``<layer>/bin/python -m <launch module>`` with the caller's arguments, standard
streams and exit code; nothing from the calling environment that could redirect imports
(``PYTHONPATH``, ``PYTHONHOME``, an active virtual environment) is passed on, so what works here
works the same after deployment.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from pdm_stack.app_modules import app_module_files
from pdm_stack.building.build_records import BuildRecord, built_record
from pdm_stack.building.layer_config import read_layer_config
from pdm_stack.building.venv_layer import read_lower_build, venv_inputs
from pdm_stack.errors import StackError
from pdm_stack.host import host_platform
from pdm_stack.stack_spec.model import LayerKind
from pdm_stack.stack_spec.modules import import_name

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockedLayer
    from pdm_stack.reporting import Reporter
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


def _built_app(stack: Stack, layer: Layer) -> BuildRecord:
    """The build record of a runnable application layer, or an error saying what to do."""
    build_dir = stack.settings.build_dir
    platform = host_platform()
    if platform not in layer.platforms:
        targets = " ".join(layer.platforms) or "none"
        raise StackError(
            f"{layer.env_name} is not built for this machine ({platform}); its platforms: {targets}",
            layer=layer.label,
        )
    record = built_record(build_dir, layer.env_name)
    if record is None:
        raise StackError(
            f"{layer.env_name} is not built yet; run 'pdm stack build --include {layer.name}"
            " --include-dependencies'",
            layer=layer.label,
        )
    # A lower layer rebuilt under another folder (a relocked versioned layer) leaves the app
    # pointing at a folder that is gone: it would start without those packages.
    config = read_layer_config(build_dir / record.folder) or {}
    pylib_dirs = config.get("pylib_dirs")
    missing = sorted(
        {
            str(entry).split("/")[1]
            for entry in (pylib_dirs if isinstance(pylib_dirs, list) else [])
            if str(entry).startswith("../") and not (build_dir / record.folder / str(entry)).is_dir()
        }
    )
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        raise StackError(
            f"{layer.env_name} was built on {', '.join(missing)}, which {verb} no longer in {build_dir};"
            f" rebuild it: 'pdm stack build --include {layer.name}'",
            layer=layer.label,
        )
    return record


def stale_build_reason(stack: Stack, layer: Layer, locks: Mapping[str, LockedLayer] | None) -> str | None:
    """Why the built ``layer`` differs from what a build would make now, or ``None``.

    ``locks`` are the valid locks of the layer and the layers below it (``None``: not valid).
    """
    build_dir = stack.settings.build_dir
    record = built_record(build_dir, layer.env_name)
    if record is None:
        return "it is not built"
    locked = (locks or {}).get(layer.env_name)
    if locked is None:
        return "its lock (or a lower layer's) is missing or out of date"
    if record.folder != locked.install_target or record.requirements_hash != locked.requirements_hash:
        return "it was built from an older lock"
    lowers = []
    for name in layer.depends_on:
        lower = read_lower_build(build_dir, stack.graph.by_env_name(name))
        if lower is None:
            return f"lower layer {name} is not built"
        lowers.append(lower)
    app_files = app_module_files(layer.spec, stack.spec.root)
    if venv_inputs(layer, locked, lowers, app_files, host_platform()) != record.inputs_hash:
        return "its modules or lower layers changed since it was built"
    return None


def app_command(stack: Stack, layer: Layer) -> list[str]:
    """``[<layer python>, "-m", <launch module>]`` for a built application layer."""
    record = _built_app(stack, layer)
    python = (
        stack.settings.build_dir
        / record.folder
        / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    )
    assert layer.spec.launch_module is not None  # the spec loader requires it for applications
    return [str(python), "-m", import_name(layer.spec.launch_module)]


#: Signals usually sent to the launching process only (a service manager, ``kill``, a closed
#: terminal): passed on to the app, which decides how to stop, instead of orphaning it.
FORWARDED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def run_app(
    stack: Stack,
    name: str,
    arguments: Sequence[str],
    *,
    locks: Mapping[str, LockedLayer] | None = None,
    reporter: Reporter | None = None,
) -> int:
    """Run the app in the foreground and return its exit status (``128 + n`` for signal ``n``).

    With a ``reporter``, a build that no longer matches the lock or the app's modules (``locks``:
    the valid locks, ``None`` when they are not valid) is reported before the app starts.
    """
    layer = find_app(stack, name)
    command = [*app_command(stack, layer), *arguments]
    if reporter is not None:
        reason = stale_build_reason(stack, layer, locks)
        if reason is not None:
            reporter.warn(
                f"{layer.env_name}: the build is out of date ({reason}); running it anyway."
                f" Update it with 'pdm stack build --include {layer.name} --include-dependencies"
                + ("'" if locks is not None else " --lock'")
            )
    env = {key: value for key, value in os.environ.items() if key not in ISOLATED_VARIABLES}
    return _run_foreground(command, env)


def _run_foreground(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run ``command`` to its end with this process's streams; return its shell-style status.

    Ctrl-C in a terminal reaches the app directly (same process group), so this process ignores
    SIGINT while the app runs rather than delivering it twice; signals aimed at this process
    alone are forwarded, so stopping ``pdm stack run`` stops the app too.
    """
    process = subprocess.Popen(command, env=env)

    def forward(signum: int, frame: object) -> None:
        process.send_signal(signum)

    previous = {}
    # Signal handlers can only be set from the main thread (a library caller may use another).
    if sys.platform != "win32" and threading.current_thread() is threading.main_thread():
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for signum in FORWARDED_SIGNALS:
            previous[signum] = signal.signal(signum, forward)
    try:
        code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code
