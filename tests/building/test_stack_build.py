"""``build_layers`` across layer kinds: ordering, incremental and atomic rebuilds, errors.

Most stacks here use hand-written locks without packages (no network, fast); the tests that need
a real install lock small pure-Python wheels with uv.
"""

from __future__ import annotations

import io
import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from pdm_stack.building.build_records import BuildRecord
from pdm_stack.building.runtime_layer import InstallOptions
from pdm_stack.building.stack_build import build_layers
from pdm_stack.errors import StackError
from pdm_stack.lock import InheritedPackage, LayerLock
from pdm_stack.reporting import PlainReporter
from pdm_stack.runtimes.provider import RuntimeSettings
from pdm_stack.stack import open_stack
from pdm_stack.status import layer_status
from tests.building.layer_projects import (
    PATH_CODE,
    PLATFORM,
    SITE,
    SIX,
    Project,
    as_locked,
    build,
    copy_project,
    empty_lock,
    run,
    run_json,
    uv_lock,
    write_project,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pdm_stack.lock.stack_lock import LockedLayer

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="builds layers for linux_x86_64 from the running CPython",
)

DIAMOND = """
[[tool.venvstacks.frameworks]]
name = "a"
runtime = "cpython-3.11"
requirements = []

[[tool.venvstacks.frameworks]]
name = "b"
frameworks = ["a"]
requirements = []

[[tool.venvstacks.frameworks]]
name = "c"
frameworks = ["a"]
requirements = []

[[tool.venvstacks.applications]]
name = "app"
frameworks = ["b", "c"]
requirements = []
launch_module = "app_main.py"
"""
ENV_NAMES = ("cpython-3.11", "framework-a", "framework-b", "framework-c", "app-app")


def diamond_locks() -> dict[str, LockedLayer]:
    return {name: as_locked(empty_lock(name)) for name in ENV_NAMES}


def make_diamond(root: Path, settings: RuntimeSettings) -> Project:
    spec = write_project(root, DIAMOND)
    (root / "app_main.py").write_text("import sys\nprint('app says hi', sys.prefix)\n")
    return Project(open_stack(spec), root, settings)


def snapshot(build_dir: Path) -> dict[str, int]:
    """mtime of every entry of the layers and their records (not the build lock file)."""
    entries = {}
    for path in build_dir.rglob("*"):
        if path.name == "build.lock":
            continue
        entries[str(path.relative_to(build_dir))] = path.lstat().st_mtime_ns
    return entries


@pytest.fixture(scope="module")
def diamond(tmp_path_factory: pytest.TempPathFactory, settings: RuntimeSettings) -> Project:
    project = make_diamond(tmp_path_factory.mktemp("diamond") / "project", settings)
    assert build(project, diamond_locks()) == dict.fromkeys(ENV_NAMES, "built")
    return project


def test_sys_path_follows_c3_on_a_diamond_with_the_runtime_last(diamond: Project) -> None:
    def site(name: str) -> str:
        return str(diamond.build / name / SITE)

    app_path = run_json(diamond.build / "app-app" / "bin" / "python", PATH_CODE)
    layered = [p for p in app_path if p.endswith("site-packages")]
    assert layered == [
        site(n) for n in ("app-app", "framework-b", "framework-c", "framework-a", "cpython-3.11")
    ]
    b_path = run_json(diamond.build / "framework-b" / "bin" / "python", PATH_CODE)
    assert [p for p in b_path if p.endswith("site-packages")] == [
        site(n) for n in ("framework-b", "framework-a", "cpython-3.11")
    ]
    result = run(diamond.build / "app-app" / "bin" / "python", "-m", "app_main")
    assert result.stdout.strip() == f"app says hi {diamond.build / 'app-app'}", result.stderr


def test_second_build_is_fast_and_touches_nothing(diamond: Project) -> None:
    before = snapshot(diamond.build)
    output = io.StringIO()
    started = time.perf_counter()
    outcomes = build_layers(
        diamond.stack,
        diamond.layers(),
        diamond.settings,
        PlainReporter(stream=output),
        locks=diamond_locks(),
    )
    elapsed = time.perf_counter() - started
    assert outcomes == dict.fromkeys(ENV_NAMES, "up to date")
    assert elapsed < 0.5, f"a no-op build of 5 layers took {elapsed:.2f}s"
    assert snapshot(diamond.build) == before
    assert "framework-b: up to date" in output.getvalue()


def test_moved_project_is_up_to_date_and_edits_rebuild_only_the_app(diamond: Project, tmp_path: Path) -> None:
    project = copy_project(diamond, tmp_path / "moved")
    assert build(project, diamond_locks()) == dict.fromkeys(ENV_NAMES, "up to date")
    (project.root / "app_main.py").write_text("print('changed')\n")
    outcomes = build(project, diamond_locks())
    assert outcomes == {**dict.fromkeys(ENV_NAMES, "up to date"), "app-app": "built"}
    result = run(project.build / "app-app" / "bin" / "python", "-m", "app_main")
    assert result.stdout == "changed\n", result.stderr


def test_clean_rebuilds_everything(diamond: Project, tmp_path: Path) -> None:
    project = copy_project(diamond, tmp_path / "clean")
    marker = project.build / "framework-a" / "marker"
    marker.write_text("from the old build")
    assert build(project, diamond_locks(), clean=True) == dict.fromkeys(ENV_NAMES, "built")
    assert not marker.exists()
    assert sorted(p.name for p in project.build.iterdir()) == sorted([".pdm-stack", *ENV_NAMES])


def test_unbuilt_lower_layers_are_named(tmp_path: Path, settings: RuntimeSettings) -> None:
    project = make_diamond(tmp_path / "project", settings)
    with pytest.raises(StackError) as caught:
        build(project, diamond_locks(), "framework-b", "app-app")
    message = str(caught.value)
    assert "build cpython-3.11, framework-a, framework-c first (or select them too)" in message
    assert "framework-c is not built (needed by app-app)" in message
    assert "framework-a is not built (needed by framework-b, app-app)" in message
    assert not [p for p in project.build.iterdir() if p.name != ".pdm-stack"]


def test_lower_layer_built_from_an_older_lock_is_refused(diamond: Project, tmp_path: Path) -> None:
    project = copy_project(diamond, tmp_path / "relocked")
    locks = diamond_locks()
    relocked = empty_lock("framework-a", [InheritedPackage("x", "1", "cpython-3.11", (PLATFORM,))])
    locks["framework-a"] = as_locked(relocked, 2)
    with pytest.raises(StackError, match="framework-a was built from another lock"):
        build(project, locks, "framework-b")
    assert build(project, locks, "framework-a", "framework-b") == {
        "framework-a": "built",
        "framework-b": "built",
    }


def test_failure_midway_keeps_the_previous_layer(
    diamond: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = copy_project(diamond, tmp_path / "failing")
    before = snapshot(project.build)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pdm_stack.building.venv_layer.check_started", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(project, diamond_locks(), "framework-a", clean=True)
    assert snapshot(project.build) == before
    assert sorted(p.name for p in project.build.iterdir()) == sorted([".pdm-stack", *ENV_NAMES])


def test_versioned_layer_moves_to_its_new_install_target(tmp_path: Path, settings: RuntimeSettings) -> None:
    spec = write_project(
        tmp_path / "project",
        """
        [[tool.venvstacks.frameworks]]
        name = "tools"
        runtime = "cpython-3.11"
        requirements = []
        versioned = true

        [[tool.venvstacks.applications]]
        name = "cli"
        frameworks = ["tools"]
        requirements = []
        launch_module = "cli.py"
        """,
    )
    (spec.parent / "cli.py").write_text("print('cli')\n")
    project = Project(open_stack(spec), spec.parent, settings)
    names = ("cpython-3.11", "framework-tools", "app-cli")
    locks = {name: as_locked(empty_lock(name), versioned=name == "framework-tools") for name in names}
    assert build(project, locks, *names) == dict.fromkeys(names, "built")
    assert (project.build / "framework-tools@1" / "bin" / "python").exists()
    tools = project.stack.graph.by_env_name("framework-tools")
    status = layer_status(project.stack, tools, locks["framework-tools"])
    assert (status.install_target, status.build_dir, status.built) == (
        "framework-tools@1",
        project.build / "framework-tools@1",
        True,
    )

    relocked = empty_lock("framework-tools", [InheritedPackage("x", "1", "cpython-3.11", (PLATFORM,))])
    locks["framework-tools"] = as_locked(relocked, 2, versioned=True)
    assert not layer_status(project.stack, tools, locks["framework-tools"]).built
    outcomes = build(project, locks, *names)
    assert outcomes == {"cpython-3.11": "up to date", "framework-tools": "built", "app-cli": "built"}
    assert not (project.build / "framework-tools@1").exists()
    paths = run_json(project.build / "app-cli" / "bin" / "python", PATH_CODE)
    assert str(project.build / "framework-tools@2" / SITE) in paths
    unlocked = layer_status(project.stack, tools)
    assert (unlocked.install_target, unlocked.build_dir, unlocked.built) == (
        None,
        project.build / "framework-tools@2",
        True,
    )


def test_locked_runtime_installs_exactly_its_lock(tmp_path: Path, settings: RuntimeSettings) -> None:
    spec = write_project(
        tmp_path / "project",
        """
        [[tool.venvstacks.applications]]
        name = "hello"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "hello.py"
        """,
    )
    (spec.parent / "hello.py").write_text("import six\nprint(six.__file__)\n")
    project = Project(open_stack(spec), spec.parent, settings)
    runtime = uv_lock("cpython-3.11", [SIX], tmp_path / "requirements", [])
    locks = {"cpython-3.11": as_locked(runtime), "app-hello": as_locked(empty_lock("app-hello"))}
    assert build(project, locks, "cpython-3.11", "app-hello") == {
        "cpython-3.11": "built",
        "app-hello": "built",
    }
    record = BuildRecord.read(project.build, "cpython-3.11")
    assert record is not None and record.packages == [SIX] and record.locked
    result = run(project.build / "app-hello" / "bin" / "python", "-m", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(project.build / "cpython-3.11" / SITE / "six.py")


# ---- a build killed with SIGKILL while uv installs ----------------------------------------------

KILLED_BUILD = """
import pickle, sys
from pdm_stack.building.stack_build import build_layers
from pdm_stack.reporting import PlainReporter
from pdm_stack.stack import open_stack
spec, names, settings, locks, install = pickle.loads(open(sys.argv[1], "rb").read())
stack = open_stack(spec)
layers = [stack.graph.by_env_name(name) for name in names]
build_layers(stack, layers, settings, PlainReporter(stream=sys.stderr), locks=locks, install=install)
"""


def hanging_lock(tmp_path: Path, silent_index: str) -> LayerLock:
    """A real lock of six whose wheel URL points at the silent server: the install hangs there."""
    lock = uv_lock("framework-a", [SIX], tmp_path / "req", [empty_lock("cpython-3.11")])
    server = silent_index.removesuffix("/simple")

    def silent(wheel: dict[str, Any]) -> dict[str, Any]:
        return {**wheel, "url": f"{server}/files/{wheel['url'].rsplit('/', 1)[-1]}"}

    packages = tuple(replace(p, wheels=tuple(silent(w) for w in p.wheels)) for p in lock.packages)
    return replace(lock, packages=packages)


@pytest.fixture
def silent_index() -> Iterator[str]:
    """An index URL whose server accepts connections and never answers: uv waits forever."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/simple"


def start_hanging_build(
    project: Project, tmp_path: Path, silent_index: str
) -> tuple[dict[str, LockedLayer], subprocess.Popen[str]]:
    """Build framework-a in its own process group, from a lock whose wheel download never ends."""
    locks = diamond_locks()
    locks["framework-a"] = as_locked(hanging_lock(tmp_path, silent_index))
    install = InstallOptions(env=(("NO_PROXY", "127.0.0.1"),))
    payload = tmp_path / "payload.pickle"
    data = (project.root / "pyproject.toml", ["framework-a"], project.settings, locks, install)
    payload.write_bytes(pickle.dumps(data))
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_BUILD, str(payload)],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    return locks, proc


def test_build_killed_during_install_leaves_the_old_layer(
    diamond: Project, tmp_path: Path, silent_index: str
) -> None:
    project = copy_project(diamond, tmp_path / "killed")
    before = snapshot(project.build)
    record = BuildRecord.read(project.build, "framework-a")
    locks, proc = start_hanging_build(project, tmp_path, silent_index)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stderr = proc.stderr

    def pump() -> None:
        for line in stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if "framework-a: installing 1 package(s)" in line:
                break
        time.sleep(0.5)
        assert proc.poll() is None, "the build ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    leftovers = [p.name for p in project.build.iterdir() if ".staging-" in p.name]
    assert len(leftovers) == 1 and leftovers[0].startswith(".framework-a.staging-")
    stale = project.build / leftovers[0]
    assert (stale / SITE).is_dir()
    assert {k: v for k, v in snapshot(project.build).items() if not k.startswith(leftovers[0])} == before
    assert BuildRecord.read(project.build, "framework-a") == record
    assert layer_status(project.stack, project.stack.graph.by_env_name("framework-a")).built
    result = run(project.build / "app-app" / "bin" / "python", "-c", "import six")
    assert "No module named 'six'" in result.stderr

    # The same lock with reachable wheel URLs: the next build completes and clears the leftover.
    locks["framework-a"] = as_locked(
        uv_lock("framework-a", [SIX], tmp_path / "req", [empty_lock("cpython-3.11")])
    )
    assert build(project, locks, "framework-a") == {"framework-a": "built"}
    assert not stale.exists()
    result = run(project.build / "app-app" / "bin" / "python", "-c", "import six; print(six.__file__)")
    assert result.stdout.strip() == str(project.build / "framework-a" / SITE / "six.py"), result.stderr


def test_ctrl_c_during_install_removes_the_staging_folder_and_says_what_is_kept(
    diamond: Project, tmp_path: Path, silent_index: str
) -> None:
    project = copy_project(diamond, tmp_path / "interrupted")
    before = snapshot(project.build)
    _, proc = start_hanging_build(project, tmp_path, silent_index)
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if "framework-a: installing 1 package(s)" in line:
                break
        time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        stderr = proc.stderr.read()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    assert "WARNING: framework-a: build interrupted, its previous build is kept" in stderr
    assert not [p.name for p in project.build.iterdir() if ".staging-" in p.name]
    assert snapshot(project.build) == before


def test_show_does_not_call_a_build_of_an_older_lock_built(diamond: Project, tmp_path: Path) -> None:
    project = copy_project(diamond, tmp_path / "relocked")
    layer = project.stack.graph.by_env_name("framework-a")
    assert layer_status(project.stack, layer, as_locked(empty_lock("framework-a"))).built
    relocked = empty_lock("framework-a", [InheritedPackage("x", "1", "cpython-3.11", (PLATFORM,))])
    status = layer_status(project.stack, layer, as_locked(relocked, 2))
    assert (status.build_dir, status.built) == (project.build / "framework-a", False)


def test_app_modules_that_shadow_installed_modules_or_hold_an_output_folder_are_warned_about(
    diamond: Project, tmp_path: Path
) -> None:
    project = copy_project(diamond, tmp_path / "shadow")
    (project.build / "framework-a" / SITE / "fwpkg").mkdir()
    (project.build / "framework-a" / SITE / "fwpkg" / "__init__.py").write_text("")
    (project.root / "fwpkg.py").write_text("SHADOW = True\n")
    (project.root / "tools").mkdir()
    (project.root / "tools" / "__init__.py").write_text("")
    spec = project.root / "pyproject.toml"
    text = spec.read_text().replace(
        'launch_module = "app_main.py"',
        'launch_module = "app_main.py"\nsupport_modules = ["fwpkg.py", "tools"]',
    )
    spec.write_text(text + '\n[tool.pdm-stack]\noutput_dir = "tools/out"\n')
    project = Project(open_stack(spec), project.root, project.settings)
    output = io.StringIO()
    build_layers(
        project.stack,
        project.layers("app-app"),
        project.settings,
        PlainReporter(stream=output),
        locks=diamond_locks(),
    )
    warnings = [line for line in output.getvalue().splitlines() if line.startswith("WARNING")]
    assert any(
        "application 'app': field 'support_modules': 'fwpkg.py' is imported as 'fwpkg'" in line
        and "framework-a" in line
        for line in warnings
    ), warnings
    assert any("output_dir" in line and "inside its module folder" in line for line in warnings), warnings
    assert len(warnings) == 2, warnings
