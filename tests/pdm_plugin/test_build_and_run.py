"""``pdm stack build`` from locks and ``pdm stack run``, end to end through the real commands.

The runtime is the session's relocatable CPython placed in PDM's install root (the path users take);
packages are real wheels from PyPI or wheels built by the test.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.pure_wheels import make_pure_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pdm.project import Project
    from pdm.pytest import PDMCallable

    from tests.fixtures.http_server import LocalHTTPServer

#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network


PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"

STACK = f"""
[project]
name = "demo"
version = "0"

[tool.pdm-stack]
exclude_newer = "2025-06-01"
local_runtime = "never"

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@{PYTHON}"
requirements = []
platforms = ["linux_x86_64"]

[[tool.venvstacks.frameworks]]
name = "text"
runtime = "rt"
requirements = ["six"]

[[tool.venvstacks.applications]]
name = "echo"
frameworks = ["text"]
launch_module = "echo.py"
requirements = []
"""

ECHO = """
import sys, six
print("args", sys.argv[1:])
print("six from", six.__file__)
sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)
"""


@pytest.fixture
def stack(tmp_path: Path, pdm_install: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "echo.py").write_text(ECHO)
    spec = root / "pyproject.toml"
    spec.write_text(STACK)
    return spec


def test_build_refuses_stale_locks_and_locks_them_with_the_option(
    stack: Path, pdm: PDMCallable, project: Project
) -> None:
    result = pdm(["stack", "build", "--spec", str(stack)], obj=project)
    assert result.exit_code == 1
    assert "run 'pdm stack lock'" in result.stderr and "rt (not locked yet)" in result.stderr
    assert not (stack.parent / "_build" / "app-echo").exists()

    pdm(["stack", "build", "--lock", "--spec", str(stack)], obj=project, strict=True)
    assert (stack.parent / "requirements" / "app-echo" / "pylock.app-echo.toml").is_file()
    assert (stack.parent / "_build" / "app-echo" / "bin" / "python").exists()

    # Editing a requirement makes the build refuse again, naming the layer and the reason.
    stack.write_text(stack.read_text().replace('requirements = ["six"]', 'requirements = ["six", "idna"]'))
    result = pdm(["stack", "build", "--spec", str(stack)], obj=project)
    assert result.exit_code == 1 and "framework-text (requirements changed)" in result.stderr


def test_a_cutoff_given_to_build_lock_keeps_the_locks_valid_for_a_plain_build(
    stack: Path, pdm: PDMCallable, project: Project
) -> None:
    stack.write_text(stack.read_text().replace('exclude_newer = "2025-06-01"\n', ""))
    result = pdm(["stack", "build", "--reset-lock", "*", "--spec", str(stack)], obj=project)
    assert result.exit_code != 0 and "only apply with --lock" in result.stderr

    pdm(
        ["stack", "build", "--lock", "--exclude-newer", "2019-06-01", "--spec", str(stack)],
        obj=project,
        strict=True,
    )
    locked = (stack.parent / "requirements" / "framework-text" / "packages-framework-text.txt").read_text()
    assert "six==1.12.0" in locked  # the newest six uploaded before the cutoff
    # No cutoff configured anywhere: the lock made with one is still valid.
    pdm(["stack", "build", "--spec", str(stack)], obj=project, strict=True)
    # A different cutoff, though, is a change the build names.
    result = pdm(["stack", "build", "--exclude-newer", "2024-01-01", "--spec", str(stack)], obj=project)
    assert result.exit_code != 0 and "only apply with --lock" in result.stderr
    result = pdm(
        ["stack", "lock", "--check", "--exclude-newer", "2024-01-01", "--spec", str(stack)], obj=project
    )
    assert result.exit_code != 0
    assert "cutoff changed (2019-06-01 -> 2024-01-01)" in result.stderr


def test_run_passes_arguments_output_and_exit_code(
    stack: Path, pdm: PDMCallable, project: Project, capfd: pytest.CaptureFixture[str]
) -> None:
    pdm(["stack", "build", "--lock", "--spec", str(stack)], obj=project, strict=True)
    capfd.readouterr()
    # The app writes straight to the terminal (file descriptor 1), as it would when deployed.
    result = pdm(["stack", "run", "--spec", str(stack), "echo", "--", "7", "--flag"], obj=project)
    out = capfd.readouterr().out
    assert result.exit_code == 7
    assert "args ['7', '--flag']" in out
    # six comes from the framework layer's folder, not the app's.
    assert f"six from {stack.parent / '_build' / 'framework-text'}" in out
    ok = pdm(["stack", "run", "--spec", str(stack), "app-echo"], obj=project)
    assert ok.exit_code == 0 and "args []" in capfd.readouterr().out


def test_run_explains_unknown_and_unbuilt_apps(stack: Path, pdm: PDMCallable, project: Project) -> None:
    unknown = pdm(["stack", "run", "--spec", str(stack), "nope"], obj=project)
    assert (
        unknown.exit_code == 1 and "no application layer named 'nope' (applications: echo)" in unknown.stderr
    )
    unbuilt = pdm(["stack", "run", "--spec", str(stack), "echo"], obj=project)
    assert unbuilt.exit_code == 1 and "app-echo is not built yet" in unbuilt.stderr
    assert "Traceback" not in unknown.stderr + unbuilt.stderr


NATIVE_STACK = f"""
[project]
name = "native"
version = "0"

[tool.pdm-stack]
local_runtime = "never"
find_links = ["{{wheels}}"]

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@{PYTHON}"
requirements = []
platforms = ["linux_x86_64"]

[[tool.venvstacks.frameworks]]
name = "native-lib"
runtime = "rt"
requirements = ["pdmstack-demo-lib"]

[[tool.venvstacks.applications]]
name = "answer"
frameworks = ["native-lib"]
launch_module = "answer.py"
requirements = ["pdmstack-demo-ext"]
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RUNPATH linking is implemented for Linux")
def test_extension_in_app_loads_shared_library_of_framework(
    tmp_path: Path,
    pdm_install: Path,
    native_wheels: Path,
    pdm: PDMCallable,
    project: Project,
    capfd: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "native"
    root.mkdir()
    (root / "answer.py").write_text("import demo_ext, demo_lib\nprint('answer', demo_ext.answer())\n")
    spec = root / "pyproject.toml"
    spec.write_text(NATIVE_STACK.format(wheels=native_wheels.as_posix()))
    pdm(["stack", "build", "--lock", "--spec", str(spec)], obj=project, strict=True)
    app = root / "_build" / "app-answer"
    # The library lives only in the framework layer; the app layer has just the extension.
    assert not list(app.rglob("libdemo.so")) and list(
        (root / "_build" / "framework-native-lib").rglob("libdemo.so")
    )
    capfd.readouterr()
    result = pdm(["stack", "run", "--spec", str(spec), "answer"], obj=project)
    captured = capfd.readouterr()
    assert result.exit_code == 0, captured.err
    assert "answer 42" in captured.out


def test_ctrl_c_during_build_is_a_message_and_status_130_not_a_traceback(
    stack: Path, pdm: PDMCallable, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdm(["stack", "lock", "--spec", str(stack)], obj=project, strict=True)

    def ctrl_c(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("pdm_stack.building.venv_layer.check_started", ctrl_c)
    result = pdm(["stack", "build", "--spec", str(stack)], obj=project)
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    assert "framework-text: build interrupted, not built" in result.stderr
    assert "Interrupted: the build stopped; no half-built layer was left" in result.stderr
    assert not [p.name for p in (stack.parent / "_build").iterdir() if ".staging-" in p.name]


def _simple_index(root: Path, wheels: list[Path]) -> None:
    """A PEP 503 index of ``wheels`` under ``root/simple`` (files under ``root/files``)."""
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        shutil.copy(wheel, files / wheel.name)
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a>\n')


def test_build_installs_locked_files_when_a_pinned_index_also_mirrors_other_packages(
    stack: Path, tmp_path: Path, http_server: LocalHTTPServer, pdm: PDMCallable, project: Project
) -> None:
    # A special-purpose index (think PyTorch's CPU index) serves the pinned package, and its own
    # build of idna 3.10, which differs from PyPI's file that the lock chose.
    made = tmp_path / "made"
    _simple_index(
        http_server.root,
        [make_pure_wheel(made, "pdmstack-cpu", "1.0"), make_pure_wheel(made, "idna", "3.10")],
    )
    spec = stack.read_text().replace('exclude_newer = "2025-06-01"\n', "")
    spec = spec.replace(
        'launch_module = "echo.py"\nrequirements = []',
        'launch_module = "echo.py"\nrequirements = ["idna==3.10", "pdmstack-cpu"]\n'
        'package_indexes = { pdmstack-cpu = "cpu" }',
    )
    spec += f'\n[[tool.uv.index]]\nname = "cpu"\nurl = "{http_server.url}/simple"\nexplicit = true\n'
    stack.write_text(spec)
    pdm(["stack", "build", "--lock", "--spec", str(stack)], obj=project, strict=True)
    site = stack.parent / "_build" / "app-echo" / "lib" / f"python{PYTHON}" / "site-packages"
    assert (site / "pdmstack_cpu.py").is_file()
    assert (site / "idna" / "__init__.py").is_file()  # PyPI's idna, not the index's one-file build


@pytest.fixture
def private_server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A file server that answers only requests with ``alice:s3cr3t``; yields (URL, root, log)."""
    root = tmp_path / "private"
    root.mkdir()
    log: list[str] = []
    expected = "Basic " + base64.b64encode(b"alice:s3cr3t").decode()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            authorised = self.headers.get("Authorization") == expected
            log.append(f"{self.path} {'ok' if authorised else 'refused'}")
            if not authorised:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.end_headers()
                return
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", root, log
    finally:
        server.shutdown()
        server.server_close()


def test_build_downloads_from_a_private_source_with_its_credentials(
    stack: Path,
    tmp_path: Path,
    private_server: tuple[str, Path, list[str]],
    pdm: PDMCallable,
    project: Project,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, root, log = private_server
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("PRIVATE_USER", "alice")
    monkeypatch.setenv("PRIVATE_TOKEN", "s3cr3t")
    make_pure_wheel(root / "wheels", "pdmstack-private", "1.0")
    project.pyproject.settings["source"] = [
        {
            "name": "private",
            "url": f"http://${{PRIVATE_USER}}:${{PRIVATE_TOKEN}}@{host}/wheels/",
            "type": "find_links",
        }
    ]
    project.pyproject.write()
    stack.write_text(
        stack.read_text().replace('requirements = ["six"]', 'requirements = ["six", "pdmstack-private"]')
    )
    pdm(["stack", "lock", "--spec", str(stack)], obj=project, strict=True)
    log.clear()
    # A cold uv cache: the build must fetch the wheel itself, authenticated.
    cold = {"UV_CACHE_DIR": str(tmp_path / "cold-cache")}
    pdm(["stack", "build", "--spec", str(stack)], obj=project, strict=True, env=cold)
    assert "/wheels/pdmstack_private-1.0-py3-none-any.whl ok" in log
    site = stack.parent / "_build" / "framework-text" / "lib" / f"python{PYTHON}" / "site-packages"
    assert (site / "pdmstack_private.py").is_file()
    for path in stack.parent.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert b"s3cr3t" not in path.read_bytes(), path
