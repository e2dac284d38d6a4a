"""PDM hooks around the stack operations: ``pre_stack_<op>`` / ``post_stack_<op>``.

Each of lock, build, publish and export sends its two blinker signals through PDM's
:class:`HookManager`, so ``--skip`` (``:all``, ``:pre``, ``:post`` or names) works as for PDM's
own hooks, and a ``[tool.pdm.scripts]`` entry of the same name runs at that point. PDM connects
scripts only to the signals that existed when its ``run`` command was imported, before plugins
load, so the scripts of ours are connected here.

A hook script runs in the project's selected interpreter when there is one. Without one, PDM
would pick an interpreter and create a ``.venv`` just to run the script; a stack command must not
leave one behind, so the script then runs with the PATH it was started with.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm.cli.hooks import HookManager
from pdm.environments import BareEnvironment
from pdm.signals import pdm_signals

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from pdm.project import Project

STACK_OPERATIONS = ("lock", "build", "publish", "export")
HOOK_NAMES = tuple(f"{when}_stack_{op}" for op in STACK_OPERATIONS for when in ("pre", "post"))


def _run_script(name: str, sender: Project, hooks: HookManager, **kwargs: Any) -> None:
    """The ``[tool.pdm.scripts]`` entry called ``name``, if any; its failure ends the command."""
    from pdm.cli.commands.run import TaskRunner

    runner = TaskRunner(sender, hooks)
    task = runner.get_task(name)
    if task is None:
        return
    code = runner.run_task(task)
    if code != 0:
        sys.exit(code)


_SCRIPT_RUNNERS: dict[str, partial[None]] = {}


def register_hooks() -> None:
    """Create the signals and connect each to the script of its name (once per process)."""
    # Imported first: importing it connects PDM's script runner to every signal that exists at
    # that moment, which must not include ours, or each script would run twice.
    import pdm.cli.commands.run  # noqa: F401

    for name in HOOK_NAMES:
        # The same receiver object each time: blinker connects it once, however often PDM's
        # core (and so this plugin) is created in one process.
        receiver = _SCRIPT_RUNNERS.setdefault(name, partial(_run_script, name))
        pdm_signals.signal(name).connect(receiver, weak=False)


class _ScriptsEnvironment(BareEnvironment):
    """Runs hook scripts with the caller's PATH, without picking (or creating) an interpreter."""

    def get_paths(self, dist_name: str | None = None) -> dict[str, str]:
        return {"scripts": str(Path(sys.executable).parent)}

    @property
    def process_env(self) -> dict[str, str]:
        return {"PATH": os.getenv("PATH", ""), "PDM_PROJECT_ROOT": str(self.project.root)}


def _has_interpreter(project: Project) -> bool:
    """PDM would use an interpreter it already knows, instead of creating a virtualenv."""
    from pdm.cli.commands.venv.utils import iter_venvs

    if os.getenv("PDM_PYTHON") or project.root.joinpath(".pdm-python").is_file():
        return True
    if os.getenv("VIRTUAL_ENV") or os.getenv("CONDA_PREFIX"):
        return True
    return any(True for _ in iter_venvs(project))


@contextmanager
def _no_new_virtualenv(project: Project) -> Iterator[None]:
    if _has_interpreter(project):
        yield
        return
    project.environment = _ScriptsEnvironment(project)
    try:
        yield
    finally:
        project.environment = None


class StackHooks:
    """The two hooks of one operation, honouring the command's ``--skip``."""

    def __init__(
        self, project: Project, options: argparse.Namespace, operation: str, *, enabled: bool = True
    ) -> None:
        self.project = project
        self.operation = operation
        self.enabled = enabled
        self.manager = HookManager(project, getattr(options, "skip", None))

    def _emit(self, when: str, **kwargs: Any) -> None:
        name = f"{when}_stack_{self.operation}"
        if not self.enabled or not self.manager.should_run(name):
            return
        with _no_new_virtualenv(self.project):
            self.manager.try_emit(name, **kwargs)

    def pre(self, **kwargs: Any) -> None:
        """Before any work: receivers get ``stack`` and the selected ``layers``."""
        self._emit("pre", **kwargs)

    def post(self, **kwargs: Any) -> None:
        """After the work succeeded: also ``results``, the core's results of the operation."""
        self._emit("post", **kwargs)
