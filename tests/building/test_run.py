"""``run_app``: running a built application as its deployment would, and saying when it cannot.

The stacks use hand-written locks without packages (no network); the runtime is the session's
relocatable CPython.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from pdm_stack.errors import StackError
from pdm_stack.reporting import PlainReporter
from pdm_stack.run import run_app
from pdm_stack.stack import open_stack
from tests.building.layer_projects import (
    PY,
    Project,
    as_locked,
    build,
    copy_project,
    empty_lock,
    write_project,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.runtimes.provider import RuntimeSettings

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="builds layers for linux_x86_64 from the running CPython",
)

APP = """
[[tool.venvstacks.frameworks]]
name = "tools"
runtime = "cpython-3.11"
requirements = []
versioned = true

[[tool.venvstacks.applications]]
name = "svc"
frameworks = ["tools"]
requirements = []
launch_module = "svc.py"
"""

# Says it is ready, then waits; SIGTERM makes it record the signal and exit with status 7.
SERVICE = """
import pathlib, signal, sys, time
def stop(signum, frame):
    pathlib.Path(sys.argv[1]).write_text(f"stopped by {signum}")
    sys.exit(7)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(30)
"""

RUNNER = """
import sys
from pathlib import Path
from pdm_stack.run import run_app
from pdm_stack.stack import open_stack
sys.exit(run_app(open_stack(Path(sys.argv[1])), "svc", sys.argv[2:]))
"""

NAMES = ("cpython-3.11", "framework-tools", "app-svc")


def locks(tools_version: int = 1) -> dict[str, object]:
    return {
        name: as_locked(
            empty_lock(name),
            tools_version if name == "framework-tools" else 1,
            versioned=name == "framework-tools",
        )
        for name in NAMES
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, settings: RuntimeSettings) -> Project:
    spec = write_project(tmp_path_factory.mktemp("svc") / "project", APP)
    (spec.parent / "svc.py").write_text(SERVICE)
    project = Project(open_stack(spec), spec.parent, settings)
    assert build(project, locks(), *NAMES) == dict.fromkeys(NAMES, "built")  # type: ignore[arg-type]
    return project


def test_sigterm_to_the_runner_stops_the_app_instead_of_orphaning_it(
    service: Project, tmp_path: Path
) -> None:
    marker = tmp_path / "stopped"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(service.root / "pyproject.toml"), str(marker)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)  # as a service manager or `kill` would: to the runner only
        assert proc.wait(timeout=20) == 7
        deadline = time.monotonic() + 5
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == f"stopped by {int(signal.SIGTERM)}"
    finally:
        with contextlib.suppress(ProcessLookupError):  # the runner and an app it may have orphaned
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_app_on_a_removed_lower_layer_is_refused_with_the_fix(
    service: Project, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    project = copy_project(service, tmp_path / "relocked")
    (project.root / "svc.py").write_text("print('svc ran')\n")
    build(project, locks(), *NAMES)  # type: ignore[arg-type]
    assert run_app(project.stack, "svc", []) == 0
    assert "svc ran" in capfd.readouterr().out
    # framework-tools relocked and rebuilt alone: it moves to framework-tools@2, the app is left behind.
    build(project, locks(2), "framework-tools")  # type: ignore[arg-type]
    assert not (project.build / "framework-tools@1").exists()
    with pytest.raises(StackError) as error:
        run_app(project.stack, "svc", [])
    assert "app-svc was built on framework-tools@1, which is no longer in" in str(error.value)
    assert "'pdm stack build --include svc'" in str(error.value)
    assert "svc ran" not in capfd.readouterr().out


def test_out_of_date_build_is_reported_before_running(service: Project, tmp_path: Path) -> None:
    project = copy_project(service, tmp_path / "edited")
    (project.root / "svc.py").write_text("print('svc v1')\n")
    current = locks()
    build(project, current, *NAMES)  # type: ignore[arg-type]

    def warnings(stream: io.StringIO) -> str:
        return stream.getvalue()

    quiet = io.StringIO()
    assert run_app(project.stack, "svc", [], locks=current, reporter=PlainReporter(stream=quiet)) == 0  # type: ignore[arg-type]
    assert warnings(quiet) == ""
    (project.root / "svc.py").write_text("print('svc v2')\n")
    stale = io.StringIO()
    assert run_app(project.stack, "svc", [], locks=current, reporter=PlainReporter(stream=stale)) == 0  # type: ignore[arg-type]
    assert "app-svc: the build is out of date (its modules or lower layers changed" in warnings(stale)
    assert "'pdm stack build --include svc --include-dependencies'" in warnings(stale)
    unlocked = io.StringIO()
    run_app(project.stack, "svc", [], locks=None, reporter=PlainReporter(stream=unlocked))
    text = warnings(unlocked)
    assert "its lock (or a lower layer's) is missing or out of date" in text
    assert "'pdm stack build --include svc --include-dependencies --lock'" in text


def test_app_not_for_this_platform_says_so(tmp_path: Path) -> None:
    spec = tmp_path / "pyproject.toml"
    spec.write_text(
        f"""
[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@{PY}"
requirements = []
platforms = ["linux_x86_64", "linux_aarch64", "win_amd64"]

[[tool.venvstacks.applications]]
name = "elsewhere"
runtime = "rt"
requirements = []
launch_module = "e.py"
platforms = ["win_amd64"]
"""
    )
    (tmp_path / "e.py").write_text("")
    with pytest.raises(StackError) as error:
        run_app(open_stack(spec), "elsewhere", [])
    assert "app-elsewhere is not built for this machine (linux_x86_64); its platforms: win_amd64" in str(
        error.value
    )
    assert "pdm stack build" not in str(error.value)
