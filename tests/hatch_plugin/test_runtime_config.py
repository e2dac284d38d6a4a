"""Where runtimes come from under Hatch: Hatch-managed Pythons, else the usual fallbacks.

A one-runtime stack keeps these fast. The builder runs as Hatch runs it in its build
environment (``python -m hatchling build``), here in the test environment where this checkout
is installed, so no build environment has to be made.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.runtimes import clean_env
from tests.hatch_plugin.test_builder import SERIES, VERSION, hatch_install

STACK = f"""
[project]
name = "tiny"
version = "0"

[tool.pdm-stack]
exclude_newer = "2025-06-01"

[[tool.venvstacks.runtimes]]
name = "rt"
python_implementation = "cpython@{SERIES}"
requirements = []
platforms = ["linux_x86_64"]

[tool.hatch.build.targets.venvstacks]
lock = "if-stale"
postinstall = false
"""


def tiny_stack(root: Path, options: str = "") -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(STACK + options)
    return root


def hatch_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env()
    for name in [name for name in env if name.startswith(("HATCH_", "PDM_STACK_"))]:
        del env[name]
    (tmp_path / "hatch-config.toml").write_text("")
    env.update(
        HATCH_DATA_DIR=str(tmp_path / "hatch-data"),
        HATCH_CACHE_DIR=str(tmp_path / "hatch-cache"),
        HATCH_CONFIG=str(tmp_path / "hatch-config.toml"),
    )
    env.update(extra)
    return env


def export(project: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "venvstacks:export"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def runtime_source(project: Path) -> dict[str, str]:
    record = json.loads((project / "_build" / ".pdm-stack" / "layers" / "rt.json").read_text())
    source: dict[str, str] = record["runtime_source"]
    return source


def test_hatch_managed_python_is_reused(relocatable_runtime: Path, tmp_path: Path) -> None:
    env = hatch_env(tmp_path, HATCH_VERBOSE="1")
    installed = hatch_install(relocatable_runtime, tmp_path / "hatch-data" / "pythons")
    project = tiny_stack(tmp_path / "tiny")

    result = export(project, env)

    assert result.returncode == 0, result.stderr
    assert f"runtime 'rt': using Hatch's install of CPython {VERSION} at {installed}" in result.stderr
    assert runtime_source(project) == {
        "kind": "hatch-install",
        "version": VERSION,
        "location": str(installed),
        "sha256": None,
        "content_hash": None,
    }
    assert (project / "requirements" / "rt").is_dir()  # lock = "if-stale" locked it first
    assert (project / "dist" / "venvstacks-export" / "rt" / "bin" / "python3").exists()


@pytest.mark.slow
def test_without_hatch_python_falls_back_to_the_local_cpython(tmp_path: Path) -> None:
    (tmp_path / "empty-mirror").mkdir()
    env = hatch_env(
        tmp_path,
        PDM_STACK_RUNTIME_MIRROR=str(tmp_path / "empty-mirror"),
        # Searching every interpreter of a developer machine takes long; the running one is enough.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        PYENV_ROOT=str(tmp_path / "no-pyenv"),
    )
    project = tiny_stack(tmp_path / "tiny")

    result = export(project, env)

    assert result.returncode == 0, result.stderr
    assert "Falling back to a relocatable copy of the local CPython" in result.stderr
    assert runtime_source(project)["kind"] == "local"


@pytest.mark.parametrize("verbose", [False, True])
def test_no_runtime_at_all_is_one_line_unless_verbose(tmp_path: Path, verbose: bool) -> None:
    (tmp_path / "empty-mirror").mkdir()
    extra = {"HATCH_VERBOSE": "1"} if verbose else {}
    env = hatch_env(tmp_path, PDM_STACK_RUNTIME_MIRROR=str(tmp_path / "empty-mirror"), **extra)
    project = tiny_stack(tmp_path / "tiny", 'local-runtime = "never"\n')

    result = export(project, env)

    assert result.returncode == 1
    assert ("Traceback" in result.stderr) is verbose
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("runtime archive cpython-") and "not found at" in last, result.stderr
    assert str(tmp_path / "empty-mirror") in last
    assert not (project / "_build" / "rt").exists()
