"""``pdm stack lock`` over a whole stack, with real uv and real PyPI packages.

A fixed ``exclude_newer`` keeps every resolution reproducible whatever PyPI publishes later.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.pure_wheels import make_pure_wheel

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable, RunResult

    from tests.fixtures.http_server import LocalHTTPServer


#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network
STACK = """
[project]
name = "demo"
version = "0"

[tool.pdm-stack]
exclude_newer = "{cutoff}"

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@3.11"
requirements = []
platforms = ["linux_x86_64", "win_amd64"]

[[tool.venvstacks.frameworks]]
name = "base"
runtime = "rt"
requirements = [{base}]

[[tool.venvstacks.applications]]
name = "one"
frameworks = ["base"]
launch_module = "one.py"
requirements = [{one}]

[[tool.venvstacks.applications]]
name = "two"
frameworks = ["base"]
launch_module = "two.py"
requirements = [{two}]
{extra}
"""


def write_stack(
    root: Path,
    *,
    base: str = '"attrs"',
    one: str = '"attrs", "six"',
    two: str = '"idna"',
    extra: str = "",
    cutoff: str = "2025-06-01",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for module in ("one.py", "two.py"):
        (root / module).write_text("print('hi')\n")
    spec = root / "pyproject.toml"
    spec.write_text(STACK.format(base=base, one=one, two=two, extra=extra, cutoff=cutoff))
    return spec


def lock(pdm: PDMCallable, project: Project, spec: Path, *args: str, strict: bool = True) -> RunResult:
    return pdm(["stack", "lock", "--spec", str(spec), *args], obj=project, strict=strict)


def pylock(spec: Path, env_name: str) -> dict[str, Any]:
    folder = spec.parent / "requirements" / env_name
    data: dict[str, Any] = tomllib.loads(next(folder.glob("pylock.*.toml")).read_text())
    return data


def meta(spec: Path, env_name: str) -> dict[str, Any]:
    folder = spec.parent / "requirements" / env_name
    data: dict[str, Any] = json.loads(next(folder.glob("pylock.*.meta.json")).read_text())
    return data


def versions(spec: Path, env_name: str) -> dict[str, str]:
    return {p["name"]: p["version"] for p in pylock(spec, env_name)["packages"]}


def snapshot(spec: Path) -> dict[str, tuple[int, bytes]]:
    root = spec.parent / "requirements"
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in root.rglob("*")
        if p.is_file()
    }


def changed_layers(before: dict[str, tuple[int, bytes]], after: dict[str, tuple[int, bytes]]) -> set[str]:
    return {path.split("/")[0] for path in set(before) | set(after) if before.get(path) != after.get(path)}


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    return write_stack(tmp_path / "proj")


def test_shared_packages_have_one_version_and_stay_in_the_lower_layer(
    stack: Path, pdm: PDMCallable, project: Project
) -> None:
    lock(pdm, project, stack)
    framework = versions(stack, "framework-base")
    app = pylock(stack, "app-one")
    own = {p["name"] for p in app["packages"]}
    # attrs comes from the framework: recorded as inherited, never installed by the app.
    assert "attrs" not in own and "six" in own
    inherited = {row["name"]: row for row in app["tool"]["pdm-stack"]["inherited"]}
    assert inherited["attrs"]["version"] == framework["attrs"]
    assert inherited["attrs"]["layer"] == "framework-base"
    summary = (stack.parent / "requirements" / "app-one" / "packages-app-one.txt").read_text()
    assert f"attrs=={framework['attrs']}  # from framework-base" in summary
    assert meta(stack, "app-one")["locked_at"] == "2025-06-01"


def test_conflict_between_layers_names_the_layers_and_package(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = write_stack(tmp_path / "proj", base='"attrs==23.1.0"', one='"attrs>=24"')
    result = lock(pdm, project, spec, strict=False)
    assert result.exit_code != 0
    message = result.stderr
    assert "application 'one'" in message
    assert "attrs==23.1.0 (from framework-base)" in message
    assert "Traceback" not in message
    # The layers below the conflict are locked; the failing one has no lock files.
    assert (spec.parent / "requirements" / "framework-base").is_dir()
    assert not (spec.parent / "requirements" / "app-one").exists()


def test_unchanged_relock_writes_nothing(stack: Path, pdm: PDMCallable, project: Project) -> None:
    lock(pdm, project, stack)
    before = snapshot(stack)
    result = lock(pdm, project, stack)
    assert snapshot(stack) == before
    assert "nothing changed" in result.stderr
    assert meta(stack, "app-one")["lock_version"] == 1


def test_editing_one_app_relocks_only_that_app(stack: Path, pdm: PDMCallable, project: Project) -> None:
    lock(pdm, project, stack)
    before = snapshot(stack)
    write_stack(stack.parent, two='"idna", "six"')
    lock(pdm, project, stack)
    assert changed_layers(before, snapshot(stack)) == {"app-two"}
    assert meta(stack, "app-two")["lock_version"] == 2
    assert "six" in versions(stack, "app-two")


def test_index_settings_relock_the_layers_they_affect(
    stack: Path, tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    lock(pdm, project, stack)
    wheels = tmp_path / "wheels"
    make_pure_wheel(wheels, "six", "1.10.0")
    # An explicit index used by one app's pin: only that app is relocked.
    extra = f"""
[[tool.uv.index]]
name = "local"
url = "{wheels.as_uri()}"
format = "flat"
explicit = true
"""
    write_stack(stack.parent, extra=extra)
    text = stack.read_text().replace(
        'launch_module = "one.py"', 'launch_module = "one.py"\npackage_indexes = { six = "local" }'
    )
    stack.write_text(text)
    before = snapshot(stack)
    lock(pdm, project, stack)
    assert changed_layers(before, snapshot(stack)) == {"app-one"}
    assert versions(stack, "app-one")["six"] == "1.10.0"
    six = next(p for p in pylock(stack, "app-one")["packages"] if p["name"] == "six")
    assert six["wheels"][0]["url"].startswith(wheels.as_uri())

    # Moving the index changes where app-one's six comes from: app-one relocks, nothing else.
    moved = tmp_path / "moved"
    wheels.rename(moved)
    stack.write_text(stack.read_text().replace(wheels.as_uri(), moved.as_uri()))
    before = snapshot(stack)
    lock(pdm, project, stack)
    assert changed_layers(before, snapshot(stack)) == {"app-one"}


def test_a_changed_project_source_relocks_every_layer(
    stack: Path, tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    lock(pdm, project, stack)
    project.pyproject.settings["source"] = [
        {"name": "extra", "url": (tmp_path / "nowhere").as_uri(), "type": "find_links"}
    ]
    project.pyproject.write()
    (tmp_path / "nowhere").mkdir()
    result = pdm(["stack", "lock", "--check", "--spec", str(stack)], obj=project)
    assert result.exit_code != 0
    for env_name in ("rt", "framework-base", "app-one", "app-two"):
        assert env_name in result.stderr


def test_credentials_never_reach_a_written_file_or_the_output(
    stack: Path,
    pdm: PDMCallable,
    project: Project,
    http_server: LocalHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "s3cr3t-t0ken-value"
    monkeypatch.setenv("PRIVATE_USER", "alice")
    monkeypatch.setenv("PRIVATE_TOKEN", secret)
    make_pure_wheel(http_server.root / "wheels", "pdmstack-private-demo", "1.0")
    host = http_server.url.removeprefix("http://")
    project.pyproject.settings["source"] = [
        {
            "name": "private",
            "url": f"http://${{PRIVATE_USER}}:${{PRIVATE_TOKEN}}@{host}/wheels/",
            "type": "find_links",
        }
    ]
    project.pyproject.write()
    write_stack(stack.parent, two='"idna", "pdmstack-private-demo"')
    result = lock(pdm, project, stack, "-v")
    demo = next(p for p in pylock(stack, "app-two")["packages"] if p["name"] == "pdmstack-private-demo")
    assert demo["wheels"][0]["url"] == f"{http_server.url}/wheels/pdmstack_private_demo-1.0-py3-none-any.whl"
    assert any("/wheels/" in path for path in http_server.requests)  # uv really used the source
    assert secret not in result.stdout + result.stderr
    for path in stack.parent.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_package_without_a_wheel_for_a_target_fails_clearly(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    # docopt has only ever been published as an sdist: pdm-stack locks wheels only.
    spec = write_stack(tmp_path / "proj", two='"docopt"')
    result = lock(pdm, project, spec, strict=False)
    assert result.exit_code != 0
    assert "application 'two'" in result.stderr and "'docopt'" in result.stderr
    assert "linux_x86_64" in result.stderr or "win_amd64" in result.stderr
    assert "Traceback" not in result.stderr


def test_show_reports_lock_state_and_staleness_spreads_upward(
    stack: Path, pdm: PDMCallable, project: Project
) -> None:
    def layers() -> dict[str, dict[str, Any]]:
        out = pdm(["stack", "show", "--json", "--spec", str(stack)], obj=project, strict=True)
        return {layer["env_name"]: layer for layer in json.loads(out.stdout)["layers"]}

    assert all(not layer["lock_valid"] and layer["lock_file"] is None for layer in layers().values())
    lock(pdm, project, stack)
    shown = layers()
    assert all(layer["lock_valid"] and layer["lock_version"] == 1 for layer in shown.values())
    assert shown["app-one"]["lock_file"] == str(
        stack.parent / "requirements" / "app-one" / "pylock.app-one.toml"
    )

    write_stack(stack.parent, base='"attrs", "idna"')
    shown = layers()
    assert shown["framework-base"]["lock_problems"] == ["requirements changed"]
    assert not shown["app-one"]["lock_valid"] and not shown["app-two"]["lock_valid"]
    assert shown["rt"]["lock_valid"]
    assert shown["app-one"]["lock_file"] is not None


def test_stale_messages_name_the_input_that_changed(stack: Path, pdm: PDMCallable, project: Project) -> None:
    lock(pdm, project, stack)

    def problems() -> dict[str, list[str]]:
        out = pdm(["stack", "show", "--json", "--spec", str(stack)], obj=project, strict=True)
        return {layer["env_name"]: layer["lock_problems"] for layer in json.loads(out.stdout)["layers"]}

    stack.write_text(
        stack.read_text().replace('exclude_newer = "2025-06-01"', 'exclude_newer = "2025-07-01"')
    )
    assert problems()["rt"] == ["cutoff changed (2025-06-01 -> 2025-07-01)"]
    stack.write_text(stack.read_text().replace('"linux_x86_64", "win_amd64"', '"linux_x86_64"'))
    assert problems()["rt"] == [
        "platforms changed (removed win_amd64)",
        "cutoff changed (2025-06-01 -> 2025-07-01)",
    ]
    stack.write_text(stack.read_text().replace("cpython@3.11", "cpython@3.12"))
    assert problems()["rt"][0] == "Python changed (3.11 -> 3.12)"
    result = pdm(["stack", "lock", "--check", "--spec", str(stack)], obj=project)
    assert "rt (Python changed (3.11 -> 3.12); platforms changed (removed win_amd64);" in result.stderr


def test_lower_lock_change_is_named(stack: Path, pdm: PDMCallable, project: Project) -> None:
    lock(pdm, project, stack)
    write_stack(stack.parent, base='"attrs", "idna"')
    lock(pdm, project, stack, "--include", "base")
    result = pdm(["stack", "lock", "--check", "--spec", str(stack)], obj=project)
    assert "app-one (lower layer lock changed (framework-base))" in result.stderr


def test_relock_keeps_pins_until_reset(tmp_path: Path, pdm: PDMCallable, project: Project) -> None:
    spec = write_stack(tmp_path / "proj", cutoff="2021-01-01")
    lock(pdm, project, spec)
    old = versions(spec, "app-two")["idna"]
    # A later cutoff makes the lock stale, but the relock keeps the pinned idna...
    write_stack(spec.parent, cutoff="2025-06-01")
    lock(pdm, project, spec)
    assert versions(spec, "app-two")["idna"] == old
    # ... until the layer's pins are forgotten.
    lock(pdm, project, spec, "--reset-lock", "two")
    assert versions(spec, "app-two")["idna"] != old


def test_versioned_layer_install_target_carries_lock_version(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = write_stack(tmp_path / "proj")
    spec.write_text(
        spec.read_text().replace('launch_module = "two.py"', 'launch_module = "two.py"\nversioned = true')
    )
    lock(pdm, project, spec)
    out = pdm(["stack", "show", "--json", "--spec", str(spec)], obj=project, strict=True)
    two = next(layer for layer in json.loads(out.stdout)["layers"] if layer["env_name"] == "app-two")
    assert two["install_target"] == "app-two@1"
    # Changing a versioned app's own module is a new version of the layer, without re-resolving.
    (spec.parent / "two.py").write_text("print('changed')\n")
    lock(pdm, project, spec)
    assert meta(spec, "app-two")["lock_version"] == 2
    assert meta(spec, "app-one")["lock_version"] == 1


def test_lock_check_fails_on_stale_locks(stack: Path, pdm: PDMCallable, project: Project) -> None:
    result = pdm(["stack", "lock", "--check", "--spec", str(stack)], obj=project)
    assert result.exit_code != 0 and "pdm stack lock" in result.stderr
    lock(pdm, project, stack)
    pdm(["stack", "lock", "--check", "--spec", str(stack)], obj=project, strict=True)


def test_unreachable_index_is_named_without_a_traceback(
    stack: Path, pdm: PDMCallable, project: Project, unreachable_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    project.pyproject.settings["source"] = [{"name": "corp", "url": f"{unreachable_url}/simple"}]
    project.pyproject.write()
    result = lock(pdm, project, stack, strict=False)
    assert result.exit_code != 0
    assert f"index 'corp' ({unreachable_url}/simple) is unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_project_wheel_folders_are_recorded_relative_to_the_lock(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = write_stack(tmp_path / "one", two='"pdmstack-local"')
    make_pure_wheel(spec.parent / "wheels", "pdmstack-local", "1.0")
    spec.write_text(
        spec.read_text().replace("[tool.pdm-stack]\n", '[tool.pdm-stack]\nfind_links = ["wheels"]\n')
    )
    lock(pdm, project, spec)
    local = next(p for p in pylock(spec, "app-two")["packages"] if p["name"] == "pdmstack-local")
    assert local["wheels"][0]["path"] == "../../wheels/pdmstack_local-1.0-py3-none-any.whl"
    assert "url" not in local["wheels"][0]
    assert (
        str(tmp_path).encode()
        not in (spec.parent / "requirements" / "app-two" / "pylock.app-two.toml").read_bytes()
    )
    # The same project checked out elsewhere: its locks are valid there as they are.
    other = tmp_path / "elsewhere" / "two"
    shutil.copytree(spec.parent, other)
    pdm(["stack", "lock", "--check", "--spec", str(other / "pyproject.toml")], obj=project, strict=True)


def test_a_new_patch_release_of_an_exact_runtime_makes_its_locks_stale(
    tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = tmp_path / "proj" / "pyproject.toml"
    spec.parent.mkdir()
    text = """
[project]
name = "demo"
version = "0"

[tool.pdm-stack]
exclude_newer = "2025-06-01"

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = ["six"]
platforms = ["linux_x86_64"]

[[tool.venvstacks.frameworks]]
name = "base"
runtime = "rt"
requirements = []
"""
    spec.write_text(text)
    lock(pdm, project, spec)

    def problems() -> dict[str, list[str]]:
        out = pdm(["stack", "show", "--json", "--spec", str(spec)], obj=project, strict=True)
        return {layer["env_name"]: layer["lock_problems"] for layer in json.loads(out.stdout)["layers"]}

    assert problems() == {"rt": [], "framework-base": []}
    spec.write_text(text.replace("cpython@3.11.7", "cpython@3.11.99"))
    stale = problems()
    assert stale["rt"] == ["Python changed (3.11.7 -> 3.11.99)"]
    assert stale["framework-base"]  # built on that runtime: stale too
    lock(pdm, project, spec)
    assert pylock(spec, "rt")["tool"]["pdm-stack"]["python"] == "3.11.99"
    assert problems() == {"rt": [], "framework-base": []}
