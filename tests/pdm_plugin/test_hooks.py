"""``pre_stack_<op>`` / ``post_stack_<op>``: signals and ``[tool.pdm.scripts]`` hooks, ``--skip``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pdm.signals import pdm_signals

from pdm_stack.pdm_plugin.hooks import HOOK_NAMES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pdm.project import Project
    from pdm.pytest import PDMCallable

PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture
def hook_log(project: Project) -> Iterator[Path]:
    """The project is a runtime-only stack whose hook scripts append their names to a log."""
    log = project.root / "hooks.log"
    scripts = "\n".join(f'{name} = {{shell = "echo {name} >> hooks.log"}}' for name in HOOK_NAMES)
    project.root.joinpath("pyproject.toml").write_text(
        f"""
[project]
name = "demo"
version = "0"
requires-python = ">={PYTHON}"

[tool.pdm.scripts]
{scripts}

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@{PYTHON}"
requirements = []
platforms = ["linux_x86_64"]
"""
    )
    project.pyproject.reload()
    yield log


def ran(log: Path) -> list[str]:
    lines = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_hooks_run_in_order_and_signals_carry_stack_and_results(
    hook_log: Path, pdm: PDMCallable, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    received: list[tuple[str, dict[str, Any]]] = []

    def receiver(name: str) -> Any:
        def record(sender: Project, **kwargs: Any) -> None:
            received.append((name, kwargs))

        return record

    receivers = {name: receiver(name) for name in ("pre_stack_lock", "post_stack_lock")}
    for name, function in receivers.items():
        pdm_signals.signal(name).connect(function)
    try:
        pdm(["stack", "lock"], obj=project, strict=True)
    finally:
        for name, function in receivers.items():
            pdm_signals.signal(name).disconnect(function)
    assert ran(hook_log) == ["pre_stack_lock", "post_stack_lock"]
    assert [name for name, _ in received] == ["pre_stack_lock", "post_stack_lock"]
    post = received[1][1]
    assert post["stack"].spec.path == project.root / "pyproject.toml"
    assert [layer.env_name for layer in post["layers"]] == ["rt"]
    assert [outcome.outcome for outcome in post["results"]] == ["locked"]


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        ("post_stack_lock", ["pre_stack_lock"]),
        (":pre", ["post_stack_lock"]),
        (":post", ["pre_stack_lock"]),
        (":all", []),
    ],
)
def test_skip_follows_pdm(
    hook_log: Path, pdm: PDMCallable, project: Project, skip: str, expected: list[str]
) -> None:
    pdm(["stack", "lock", "--skip", skip], obj=project, strict=True)
    assert ran(hook_log) == expected


def test_a_failing_hook_stops_the_command_with_its_exit_code(
    hook_log: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = project.root / "pyproject.toml"
    spec.write_text(
        spec.read_text().replace('pre_stack_lock = {shell = "echo', 'pre_stack_lock = {shell = "exit 3; echo')
    )
    project.pyproject.reload()
    result = pdm(["stack", "lock", "--json"], obj=project)
    assert result.exit_code == 3
    assert '"exit_code": 3' in result.stdout
    assert not list(project.root.rglob("pylock.*.toml")) and ran(hook_log) == []


def test_hook_scripts_do_not_create_a_virtualenv(hook_log: Path, pdm: PDMCallable, project: Project) -> None:
    project.root.joinpath(".pdm-python").unlink()
    shutil.rmtree(project.root / ".venv", ignore_errors=True)
    project.project_config["python.use_venv"] = True
    pdm(["stack", "lock"], obj=project, strict=True)
    assert ran(hook_log) == ["pre_stack_lock", "post_stack_lock"]
    assert not (project.root / ".venv").exists()
    assert not (project.root / ".pdm-python").exists()
