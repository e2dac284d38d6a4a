"""``pdm stack import``: a venvstacks.toml moves into pyproject.toml and reads back the same."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "venvstacks_example"

#: A commented venvstacks.toml using every kind of path and the uv settings pdm-stack converts.
SPEC = """
# The team's stack: one runtime, a framework, an app.
[tool.uv]
exclude-newer = "2019-06-01T00:00:00Z"  # reproducible locks
find-links = ["wheels"]
prerelease = "if-necessary"
sources = { six = { index = "local" } }
# Our own wheels, for the pinned six
[[tool.uv.index]]
name = "local"
url = "https://wheels.example/simple"
explicit = true

[[runtimes]]
name = "cpython-3.11"  # matches production
python_implementation = "cpython@3.11.7"
requirements = []
platforms = ["linux_x86_64", "win_amd64", "macosx_arm64"]

[[frameworks]]
name = "web"
runtime = "cpython-3.11"
requirements = [
    "idna",  # URL handling
    "attrs",
]

[[applications]]
name = "hello"
launch_module = "launch_modules/hello.py"
support_modules = ["launch_modules/greeting.py"]
frameworks = ["web"]
requirements = ["six", "attrs", "colorama; sys_platform == 'win32'"]
"""


def show(pdm: PDMCallable, project: Project, *args: str) -> dict[str, Any]:
    out = pdm(["stack", "show", "--json", *args], obj=project, strict=True)
    data: dict[str, Any] = json.loads(out.stdout)
    data.pop("spec_file")  # the one thing that differs: which file was read
    return data


@pytest.fixture
def venvstacks_project(tmp_path: Path, project: Project) -> Path:
    """The example stack in ``stack/`` below the PDM project, with the commented spec above."""
    stack = project.root / "stack"
    shutil.copytree(EXAMPLE, stack)
    (stack / "venvstacks.toml").write_text(SPEC)
    (stack / "wheels").mkdir()
    return stack / "venvstacks.toml"


def test_import_round_trips_through_show_json(
    venvstacks_project: Path, pdm: PDMCallable, project: Project
) -> None:
    before = show(pdm, project, "--spec", str(venvstacks_project))
    result = pdm(["stack", "import", str(venvstacks_project)], obj=project, strict=True)
    assert "[tool.uv] exclude-newer -> [tool.pdm-stack] exclude_newer" in result.stderr
    assert "'launch_modules/hello.py' -> 'stack/launch_modules/hello.py'" in result.stderr
    after = show(pdm, project)
    assert after == before

    text = (project.root / "pyproject.toml").read_text()
    # Comments and formatting travel with the tables; the uv settings take their pdm-stack form.
    assert "# The team's stack: one runtime, a framework, an app." in text
    assert 'name = "cpython-3.11"  # matches production' in text
    assert '    "idna",  # URL handling\n' in text
    assert 'exclude_newer = "2019-06-01T00:00:00Z" # reproducible locks' in text
    assert 'find_links = ["stack/wheels"]' in text
    assert 'package_indexes = {six = "local"}' in text
    assert "[[tool.uv.index]]" in text and "# Our own wheels, for the pinned six" in text
    assert "[tool.uv]\nexclude-newer" not in text


def test_import_keeps_locks_made_from_the_venvstacks_toml_valid(
    venvstacks_project: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = venvstacks_project
    # Without the private index and its pin, so the lock can run against PyPI.
    spec.write_text(SPEC.replace('sources = { six = { index = "local" } }\n', ""))
    pdm(["stack", "lock", "--spec", str(spec)], obj=project, strict=True)
    pdm(["stack", "import", str(spec)], obj=project, strict=True)
    pdm(["stack", "lock", "--check"], obj=project, strict=True)


def test_import_reports_what_it_cannot_convert_and_refuses_to_overwrite(
    venvstacks_project: Path, pdm: PDMCallable, project: Project
) -> None:
    spec = venvstacks_project
    spec.write_text(SPEC + "\n[tool.other]\nkey = 1\n")
    result = pdm(["stack", "import", str(spec)], obj=project, strict=True)
    assert "not converted: [tool.other] of venvstacks.toml" in result.stderr
    again = pdm(["stack", "import", str(spec)], obj=project)
    assert again.exit_code != 0
    assert "already has a [tool.venvstacks] table" in again.stderr and "Traceback" not in again.stderr


def test_unsupported_uv_setting_stops_the_import_naming_the_key(
    venvstacks_project: Path, pdm: PDMCallable, project: Project
) -> None:
    before = (project.root / "pyproject.toml").read_text()
    venvstacks_project.write_text(SPEC.replace("[tool.uv]\n", "[tool.uv]\nconstraint-dependencies = ['x']\n"))
    result = pdm(["stack", "import", str(venvstacks_project)], obj=project)
    assert result.exit_code != 0
    assert "[tool.uv]: field 'constraint-dependencies': uv setting not supported" in result.stderr
    assert (project.root / "pyproject.toml").read_text() == before


def test_dry_run_prints_the_result_and_writes_nothing(
    venvstacks_project: Path, pdm: PDMCallable, project: Project
) -> None:
    before = (project.root / "pyproject.toml").read_text()
    result = pdm(["stack", "import", "--dry-run", str(venvstacks_project)], obj=project, strict=True)
    assert "[[tool.venvstacks.applications]]" in result.stdout
    assert (project.root / "pyproject.toml").read_text() == before
    assert textwrap.dedent(before).strip().splitlines()[0] in result.stdout
