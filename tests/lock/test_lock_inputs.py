"""What goes into a lock: indexes and their credentials, targets, cutoffs, and the files written.

Real uv, real PyPI for common packages, and local indexes for the packages these tests invent.
"""

from __future__ import annotations

import base64
import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pdm_stack.indexes import PackageIndex
from pdm_stack.lock import LockError, LockInputs, lock_layer
from pdm_stack.lock.layer_lock import LockPaths
from pdm_stack.lock.uv_compile import UvFailure, explain_failure
from tests.fixtures.pure_wheels import make_pure_wheel

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pdm.project import Project
    from pdm.pytest import PDMCallable, RunResult

    from tests.fixtures.http_server import LocalHTTPServer


#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network
CUTOFF = "2025-06-01T00:00:00Z"

STACK = """
[project]
name = "demo"
version = "0"

[tool.pdm-stack]
exclude_newer = "2025-06-01"
{settings}

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@3.11"
requirements = []
platforms = ["linux_x86_64"]

[[tool.venvstacks.applications]]
name = "app"
runtime = "rt"
launch_module = "app.py"
requirements = [{requirements}]
{app}
{extra}
"""


def write_stack(root: Path, *, requirements: str, settings: str = "", app: str = "", extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text("print('hi')\n")
    spec = root / "pyproject.toml"
    spec.write_text(STACK.format(requirements=requirements, settings=settings, app=app, extra=extra))
    return spec


def lock(pdm: PDMCallable, project: Project, spec: Path, *args: str, strict: bool = False) -> RunResult:
    return pdm(["stack", "lock", "--spec", str(spec), *args], obj=project, strict=strict)


def locked_versions(spec: Path, env_name: str) -> dict[str, str]:
    text = (spec.parent / "requirements" / env_name / f"packages-{env_name}.txt").read_text()
    pins = [line.split("  #")[0] for line in text.splitlines() if not line.startswith("#")]
    return dict(pin.split("==") for pin in pins)


def test_configured_password_with_reserved_characters_never_shows(
    tmp_path: Path,
    pdm: PDMCallable,
    project: Project,
    unreachable_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PDM pastes a configured password into the URL as is: '/' and '@' used to move the host,
    # break uv's URL parsing and print the password in the -v output.
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    project.pyproject.settings["source"] = [
        {"name": "private", "url": f"{unreachable_url}/simple", "username": "alice", "password": "p4/ss@w0rd"}
    ]
    project.pyproject.write()
    spec = write_stack(tmp_path / "proj", requirements='"six"')
    result = lock(pdm, project, spec, "-v")
    assert result.exit_code != 0
    output = result.stdout + result.stderr
    assert "p4/ss" not in output and "ss@w0rd" not in output and "p4%2Fss" not in output
    assert f"index 'private' ({unreachable_url}/simple) is unreachable" in result.stderr


def test_priority_indexes_can_put_pypi_first(
    tmp_path: Path, pdm: PDMCallable, project: Project, http_server: LocalHTTPServer
) -> None:
    # A private index also serving 'six' is searched before PyPI by default; a layer's
    # priority_indexes = ["pypi"] must turn that round (it used to be ignored for pypi).
    make_pure_wheel(http_server.root / "simple" / "six", "six", "99.0")
    project.pyproject.settings["source"] = [{"name": "private", "url": f"{http_server.url}/simple"}]
    project.pyproject.write()
    spec = write_stack(tmp_path / "proj", requirements='"six"', app='priority_indexes = ["pypi"]')
    lock(pdm, project, spec, strict=True)
    assert locked_versions(spec, "app-app") == {"six": "1.17.0"}


@pytest.fixture
def auth_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A flat index at the returned URL that answers only to basic auth ``bob:pa55``."""
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    root = tmp_path / "auth-root"
    make_pure_wheel(root / "wheels", "pdmstack-corp", "1.0")
    expected = "Basic " + base64.b64encode(b"bob:pa55").decode()

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="corp"')
                self.end_headers()
                return
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/wheels/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_uv_index_credentials_from_the_environment_reach_uv(
    tmp_path: Path, auth_index: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uv's documented way to authenticate a named index; they used to be filtered out with the
    # UV_* settings that change resolutions.
    monkeypatch.setenv("UV_INDEX_CORP_USERNAME", "bob")
    monkeypatch.setenv("UV_INDEX_CORP_PASSWORD", "pa55")
    corp = PackageIndex("corp", auth_index, "find_links", explicit=True)
    inputs = LockInputs(
        "app-corp",
        ("pdmstack-corp",),
        python_version="3.12",
        platforms=("linux_x86_64",),
        indexes=(corp,),
        package_indexes=(("pdmstack-corp", "corp"),),
        exclude_newer=CUTOFF,
    )
    result = lock_layer(inputs, tmp_path)
    assert [(p.name, p.version) for p in result.lock.packages] == [("pdmstack-corp", "1.0")]
    assert all(b"pa55" not in path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def tagged_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pdmstack-tagged`` 1.0 for macOS >= 14 (arm64), glibc >= 2.34 (x86_64) and Windows only."""
    folder = tmp_path_factory.mktemp("tagged")
    wheel = make_pure_wheel(folder, "pdmstack-tagged", "1.0")
    for tag in ("macosx_14_0_arm64", "manylinux_2_34_x86_64", "win_amd64"):
        shutil.copy(wheel, folder / wheel.name.replace("py3-none-any", f"cp312-cp312-{tag}"))
    wheel.unlink()
    return folder


def tagged_inputs(folder: Path, platform: str, **kwargs: Any) -> LockInputs:
    return LockInputs(
        "app-tagged",
        ("pdmstack-tagged",),
        python_version="3.12",
        platforms=(platform,),
        indexes=(PackageIndex("wheels", folder.as_uri(), "find_links"),),
        exclude_newer=CUTOFF,
        **kwargs,
    )


def test_targets_decide_which_wheels_are_accepted(
    tagged_wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A developer's MACOSX_DEPLOYMENT_TARGET must not change a lock: only macosx_target does.
    monkeypatch.setenv("MACOSX_DEPLOYMENT_TARGET", "14.0")
    with pytest.raises(LockError, match="'pdmstack-tagged' is available for platform macosx_arm64"):
        lock_layer(tagged_inputs(tagged_wheels, "macosx_arm64"), tmp_path)
    lock_layer(tagged_inputs(tagged_wheels, "macosx_arm64", macosx_target="14.0"), tmp_path)
    with pytest.raises(LockError, match="'pdmstack-tagged' is available for platform linux_x86_64"):
        lock_layer(tagged_inputs(tagged_wheels, "linux_x86_64"), tmp_path / "linux")
    lock_layer(tagged_inputs(tagged_wheels, "linux_x86_64", linux_target="glibc@2.34"), tmp_path / "linux")


def test_versioned_module_change_bumps_the_version_without_uv(tagged_wheels: Path, tmp_path: Path) -> None:
    wheels = shutil.copytree(tagged_wheels, tmp_path / "wheels")
    old_umask = os.umask(0o022)
    try:
        first = lock_layer(
            tagged_inputs(wheels, "win_amd64", versioned=True, version_inputs_hash="sha256:1"), tmp_path
        )
    finally:
        os.umask(old_umask)
    paths = LockPaths.of(tmp_path, "app-tagged")
    # Lock files are ordinary files, not private ones (they used to be written 0600).
    assert {path.stat().st_mode & 0o777 for path in (paths.pylock, paths.meta, paths.summary)} == {0o644}
    assert first.meta["lock_version"] == 1
    # Without the wheels uv could not resolve again: a new app version must not need it.
    shutil.rmtree(wheels)
    second = lock_layer(
        tagged_inputs(wheels, "win_amd64", versioned=True, version_inputs_hash="sha256:2"), tmp_path
    )
    assert not second.resolved and second.meta["lock_version"] == 2
    assert second.lock == first.lock and second.written == (paths.meta,)


def test_find_links_folder_of_the_project_does_not_tie_locks_to_the_checkout(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = write_stack(tmp_path / "proj", requirements='"pdmstack-local"', settings='find_links = ["wheels"]')
    make_pure_wheel(spec.parent / "wheels", "pdmstack-local", "1.0")
    lock(pdm, project, spec, strict=True)
    moved = tmp_path / "elsewhere" / "proj"
    shutil.copytree(spec.parent, moved)
    result = lock(pdm, project, moved / "pyproject.toml", "--check")
    assert result.exit_code == 0, result.stderr


def test_invalid_cutoffs_are_named_before_uv_runs(
    tmp_path: Path, pdm: PDMCallable, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_stack(tmp_path / "proj", requirements='"six"')
    result = lock(pdm, project, spec, "--exclude-newer", "garbage")
    assert "--exclude-newer 'garbage' is not a date or time" in result.stderr
    # uv would take a relative cutoff, making the lock drift while its hash stays the same.
    monkeypatch.setenv("UV_EXCLUDE_NEWER", "1 week")
    result = lock(pdm, project, spec)
    assert "UV_EXCLUDE_NEWER '1 week' is not a date or time" in result.stderr
    assert "Traceback" not in result.stderr and not (spec.parent / "requirements").exists()


def test_reset_lock_glob_matching_nothing_is_an_error(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = write_stack(tmp_path / "proj", requirements='"six"')
    result = lock(pdm, project, spec, "--reset-lock", "ap")
    assert "--reset-lock 'ap' matches no selected layer (selected: rt, app)" in result.stderr
    assert not (spec.parent / "requirements").exists()
    # A stale lower layer is called what it is, not "not locked".
    result = lock(pdm, project, spec, "--check")
    assert "app-app (lower layer rt: lock missing or out of date)" in result.stderr


def test_uv_usage_errors_show_uv_error_line_not_its_help_hint() -> None:
    stderr = (
        "error: invalid value 'x' for '--exclude-newer <EXCLUDE_NEWER>': not a date\n\n"
        "For more information, try '--help'.\n"
    )
    error = explain_failure("app 'x'", UvFailure("win_amd64", 2, stderr), {})
    assert str(error) == (
        "app 'x': uv could not lock for win_amd64: invalid value 'x' for '--exclude-newer <EXCLUDE_NEWER>':"
        " not a date"
    )
