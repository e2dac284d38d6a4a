"""``pdm stack show`` through the real pdm command, on a copy of example-project."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

EXAMPLE = Path(__file__).parents[2] / "example-project"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "example"
    shutil.copytree(
        EXAMPLE, target, ignore=shutil.ignore_patterns("_build", "_artifacts", "_export", ".venv")
    )
    return target


def test_show_json_follows_the_documented_schema(example: Path, pdm: PDMCallable, project: Project) -> None:
    result = pdm(
        ["stack", "show", "--json", "--spec", str(example / "pyproject.toml")], obj=project, strict=True
    )
    data = json.loads(result.stdout)
    layers = {layer["env_name"]: layer for layer in data["layers"]}
    assert list(layers) == ["cpython-3.11", "framework-numpy", "app-stats", "app-hello"]
    stats = layers["app-stats"]
    assert stats["name"] == "stats"
    assert stats["kind"] == "application"
    assert stats["install_target"] == "app-stats"
    assert stats["runtime"] == "cpython-3.11"
    assert stats["depends_on"] == ["framework-numpy", "cpython-3.11"]
    assert stats["platforms"] == ["win_amd64", "linux_x86_64", "linux_aarch64", "macosx_arm64"]
    assert stats["launch_module"] == str(example / "src" / "stats_report")
    # example-project ships its locks (they are meant to be committed).
    assert stats["lock_file"] == str(example / "requirements" / "app-stats" / "pylock.app-stats.toml")
    assert stats["lock_valid"] is True
    assert stats["lock_version"] == 1
    assert layers["framework-numpy"]["kind"] == "framework"
    assert layers["cpython-3.11"]["depends_on"] == []
    assert data["schema_version"] == 1


def test_show_tree_lists_layers_under_their_runtime(
    example: Path, pdm: PDMCallable, project: Project
) -> None:
    result = pdm(["stack", "show", "--spec", str(example / "pyproject.toml")], obj=project, strict=True)
    lines = result.stdout.splitlines()
    assert lines[0].endswith("[tool.venvstacks]")
    assert lines[1].startswith("cpython-3.11  cpython@3.11  (0 requirement(s); win_amd64 linux_x86_64")
    assert any(line.startswith("├── app-stats <- framework-numpy") for line in lines)
    assert "python -m stats_report" in result.stdout


def test_show_include_selects_layers(example: Path, pdm: PDMCallable, project: Project) -> None:
    args = ["stack", "show", "--json", "--spec", str(example / "pyproject.toml"), "--include", "app-s*"]
    data = json.loads(pdm(args, obj=project, strict=True).stdout)
    assert [layer["env_name"] for layer in data["layers"]] == ["app-stats"]
    data = json.loads(pdm([*args, "--include-dependencies"], obj=project, strict=True).stdout)
    assert [layer["env_name"] for layer in data["layers"]] == ["cpython-3.11", "framework-numpy", "app-stats"]


def test_show_reads_the_project_pyproject_by_default(example: Path, pdm: PDMCallable, core: object) -> None:
    result = pdm(["stack", "show", "--json", "-p", str(example)], strict=True)
    assert json.loads(result.stdout)["spec_file"] == str(example / "pyproject.toml")


def test_legacy_field_warning_is_shown(tmp_path: Path, pdm: PDMCallable, project: Project) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text('[[runtimes]]\nname = "rt"\nfully_versioned_name = "cpython@3.11.7"\nrequirements = []\n')
    result = pdm(["stack", "show", "--spec", str(spec)], obj=project, strict=True)
    assert "'fully_versioned_name' is deprecated" in result.stderr


def test_example_project_tasks_are_listed_and_run_stack_commands(
    example: Path, pdm: PDMCallable, core: object
) -> None:
    listed = pdm(["run", "--list", "-p", str(example)], strict=True).stdout
    scripts = tomllib.loads((example / "pyproject.toml").read_text())["tool"]["pdm"]["scripts"]
    assert {"build", "publish", "stats", "hello"} <= set(scripts)
    for name, script in scripts.items():
        assert name in listed and script["help"]
        words = script["cmd"].split()
        assert words[:2] == ["pdm", "stack"], name
        # Every task names a real subcommand.
        assert pdm([*words[1:3], "--help"], strict=True).stdout.startswith(f"Usage: pdm stack {words[2]}")


def test_show_json_fields_are_the_documented_ones(example: Path, pdm: PDMCallable, project: Project) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "show-json.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", doc, re.MULTILINE))
    args = ["stack", "show", "--json", "--spec", str(example / "pyproject.toml")]
    for layer in json.loads(pdm(args, obj=project, strict=True).stdout)["layers"]:
        assert set(layer) == documented
