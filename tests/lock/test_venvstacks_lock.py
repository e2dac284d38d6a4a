"""Moving a venvstacks project over keeps its pins: its ``[tool.uv]`` cutoff and its own lock files.

The fixture is a venvstacks.toml with a ``[tool.uv] exclude-newer`` cutoff and the lock files
venvstacks 0.8 wrote for it (see tests/fixtures/venvstacks_example/README.md).
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pdm_stack.lock.venvstacks_lock import is_venvstacks_lock, read_venvstacks_lock

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable


#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network
EXAMPLE = Path(__file__).parents[1] / "fixtures" / "venvstacks_example"
PLATFORMS = ("linux_x86_64", "win_amd64", "macosx_arm64")
LAYERS = ("cpython-3.11", "framework-web", "app-hello")


def pins(requirements: Path, env_name: str) -> dict[str, set[tuple[str, str]]]:
    """Per platform, the ``(name, version)`` pairs the layer's lock installs, whoever wrote it."""
    path = next((requirements / env_name).glob("pylock.*.toml"))
    text = path.read_text()
    if is_venvstacks_lock(text):
        lock = read_venvstacks_lock(text, env_name, "3.11", PLATFORMS)
    else:
        from pdm_stack.lock.pylock import parse_pylock

        lock = parse_pylock(text)
    return {p: {(pkg.name, pkg.version) for pkg in lock.packages if p in pkg.platforms} for p in PLATFORMS}


@pytest.fixture
def example(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLE, tmp_path / "example")
    return tmp_path / "example" / "venvstacks.toml"


def test_the_committed_locks_are_read_per_platform() -> None:
    app = pins(EXAMPLE / "requirements", "app-hello")
    assert app["win_amd64"] == {("six", "1.12.0"), ("colorama", "0.4.1")}
    assert app["linux_x86_64"] == {("six", "1.12.0")}  # attrs comes from the framework


def test_locking_a_venvstacks_stack_keeps_the_pins_venvstacks_committed(
    example: Path, pdm: PDMCallable, project: Project
) -> None:
    requirements = example.parent / "requirements"
    expected = {name: pins(requirements, name) for name in LAYERS}
    status = pdm(["stack", "show", "--json", "--spec", str(example)], obj=project, strict=True)
    problems = {layer["env_name"]: layer["lock_problems"] for layer in json.loads(status.stdout)["layers"]}
    assert problems["cpython-3.11"] == ["written by venvstacks; 'pdm stack lock' adopts it, keeping its pins"]

    pdm(["stack", "lock", "--spec", str(example)], obj=project, strict=True)
    for name in LAYERS:
        assert pins(requirements, name) == expected[name], name
        meta = json.loads(next((requirements / name).glob("*.meta.json")).read_text())
        # The same pins: venvstacks' lock version and lock time carry over.
        assert meta["lock_version"] == 1
        assert meta["locked_at"] == "2019-06-01T00:00:00+00:00"
    pdm(["stack", "lock", "--check", "--spec", str(example)], obj=project, strict=True)


def test_the_tool_uv_cutoff_alone_gives_the_same_pins(
    example: Path, pdm: PDMCallable, project: Project
) -> None:
    requirements = example.parent / "requirements"
    expected = {name: pins(requirements, name) for name in LAYERS}
    shutil.rmtree(requirements)
    pdm(["stack", "lock", "--spec", str(example)], obj=project, strict=True)
    for name in LAYERS:
        assert pins(requirements, name) == expected[name], name
    app = tomllib.loads((requirements / "app-hello" / "pylock.app-hello.toml").read_text())
    assert {row["name"] for row in app["tool"]["pdm-stack"]["inherited"]} == {"attrs"}
    meta = json.loads((requirements / "app-hello" / "pylock.app-hello.meta.json").read_text())
    assert meta["locked_at"] == "2019-06-01T00:00:00Z"
