"""``hatch build -t venvstacks`` through the real ``hatch`` command on the example project.

Hatch installs the plugin (a wheel of this checkout) into its build environment, as users get it
from the target's ``dependencies``. The runtime is the session's relocatable CPython placed where
``hatch python install`` puts interpreters (a fake Hatch data folder); the PDM side gets the same
runtime through PDM's install root, so both front ends build from identical inputs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.example_project import (
    BIN,
    REPO,
    SERIES,
    VERSION,
    example_copy,
    needs_example_series,
    pdm_example_env,
    pdm_run,
)
from tests.fixtures.runtimes import clean_env, copy_runtime

if TYPE_CHECKING:
    from collections.abc import Iterator

PBS_SOURCE = (
    "https://github.com/astral-sh/python-build-standalone/releases/download/20240107/"
    f"cpython-{VERSION}%2B20240107-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz"
)
LOCK_LINE = "pyproject.toml: locks are missing or out of date: app-hello (requirements changed); "

pytestmark = needs_example_series


def hatch_install(runtime: Path, pythons: Path) -> Path:
    """``runtime`` laid out as ``hatch python install`` leaves an interpreter."""
    tree = copy_runtime(runtime, pythons / SERIES / "python")
    metadata = {"source": PBS_SOURCE, "python_path": "python/bin/python3"}
    (pythons / SERIES / "hatch-dist.json").write_text(json.dumps(metadata))
    return tree


@pytest.fixture(scope="module")
def plugin_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of this checkout: what ``dependencies = ["pdm-stack"]`` gives users."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("pdm_stack-*.whl")
    return wheel


@pytest.fixture(scope="module")
def hatch_home(tmp_path_factory: pytest.TempPathFactory, relocatable_runtime: Path) -> dict[str, str]:
    """Hatch's data, cache and config folders, isolated; a Hatch-managed Python in the data folder."""
    home = tmp_path_factory.mktemp("hatch-home")
    (home / "config.toml").write_text("")
    hatch_install(relocatable_runtime, home / "data" / "pythons")
    env = clean_env()
    for name in [name for name in env if name.startswith(("HATCH_", "PDM_STACK_"))]:
        del env[name]
    env.update(
        HATCH_DATA_DIR=str(home / "data"),
        HATCH_CACHE_DIR=str(home / "cache"),
        HATCH_CONFIG=str(home / "config.toml"),
        PDM_CHECK_UPDATE="false",
    )
    return env


def hatch(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "hatch"), *args], cwd=project, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory,
    plugin_wheel: Path,
    hatch_home: dict[str, str],
    relocatable_runtime: Path,
) -> tuple[Path, Path]:
    """The example project published by Hatch in one copy and by ``pdm stack publish`` in another."""
    root = tmp_path_factory.mktemp("example")
    by_hatch = example_copy(root / "by-hatch", plugin_wheel)
    result = hatch(by_hatch, hatch_home, "build", "-t", "venvstacks")
    assert result.returncode == 0, result.stdout + result.stderr

    by_pdm = example_copy(root / "by-pdm")
    env = pdm_example_env(root, relocatable_runtime, hatch_home)
    for command in (["build"], ["publish", "--format", "tar.zst"]):
        done = pdm_run(env, "stack", *command, "-p", str(by_pdm))
        assert done.returncode == 0, done.stderr
    return by_hatch, by_pdm


def relative_files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


@pytest.mark.slow
def test_archives_are_byte_identical_to_pdm_publish(published: tuple[Path, Path]) -> None:
    by_hatch, by_pdm = published
    hatch_out, pdm_out = by_hatch / "dist" / "venvstacks", by_pdm / "_artifacts"
    files = relative_files(hatch_out)
    assert [name for name in files if name.endswith(".tar.zst")] == [
        "app-hello.tar.zst",
        "app-stats.tar.zst",
        "cpython-3.11.tar.zst",
        "framework-numpy.tar.zst",
    ]
    assert "deploy_stack.py" in files and "__venvstacks__/venvstacks.json" in files
    assert files == relative_files(pdm_out)
    for name in files:
        assert (hatch_out / name).read_bytes() == (pdm_out / name).read_bytes(), name
    # The runtime came from Hatch's install, not a download or the local CPython.
    record = json.loads((by_hatch / "_build" / ".pdm-stack" / "layers" / "cpython-3.11.json").read_text())
    assert record["runtime_source"]["kind"] == "hatch-install"
    assert record["runtime_source"]["version"] == VERSION


@pytest.mark.slow
def test_lock_export_and_clean_versions(published: tuple[Path, Path], hatch_home: dict[str, str]) -> None:
    by_hatch, _ = published
    locks = {path: path.read_bytes() for path in (by_hatch / "requirements").rglob("pylock.*.toml")}

    locked = hatch(by_hatch, hatch_home, "build", "-t", "venvstacks:lock")
    assert locked.returncode == 0, locked.stderr
    assert f"Locked 4 layer(s) into {by_hatch / 'requirements'}" in locked.stderr
    # The locks were current: nothing is resolved again.
    assert {path: path.read_bytes() for path in locks} == locks

    spec = by_hatch / "pyproject.toml"
    original = spec.read_text()
    # Post-install steps compile every layer's bytecode (a minute here); the PDM tests run them.
    selection = 'include = ["app-hello"]\ninclude-dependencies = true\npostinstall = false\nformat = '
    spec.write_text(original.replace('format = "tar.zst"', selection + '"tar.zst"'))
    try:
        exported = hatch(by_hatch, hatch_home, "build", "-t", "venvstacks:export")
    finally:
        spec.write_text(original)
    assert exported.returncode == 0, exported.stderr
    export = by_hatch / "dist" / "venvstacks-export"
    assert sorted(path.name for path in export.iterdir() if not path.name.startswith((".", "_"))) == [
        "app-hello",
        "cpython-3.11",
    ]
    assert (export / "app-hello" / "lib" / f"python{SERIES}" / "site-packages" / "hello.py").is_file()
    assert (export / "cpython-3.11" / "bin" / "python3").exists()

    cleaned = hatch(by_hatch, hatch_home, "clean", "-t", "venvstacks:archives,export")
    assert cleaned.returncode == 0, cleaned.stderr
    assert list((by_hatch / "dist").iterdir()) == []
    # Locks and built layers are not outputs: cleaning keeps them.
    assert {path: path.read_bytes() for path in locks} == locks
    assert (by_hatch / "_build" / "app-hello").is_dir()


@pytest.fixture
def edited(published: tuple[Path, Path]) -> Iterator[Path]:
    """The Hatch copy's pyproject.toml, restored after the test edits it."""
    spec = published[0] / "pyproject.toml"
    original = spec.read_text()
    yield spec
    spec.write_text(original)


@pytest.mark.slow
def test_stale_lock_is_the_one_line_pdm_gives(
    edited: Path, published: tuple[Path, Path], hatch_home: dict[str, str]
) -> None:
    text = edited.read_text().replace('requirements = ["idna>=3"]', 'requirements = ["idna>=3", "six"]')
    edited.write_text(text)
    result = hatch(edited.parent, hatch_home, "build", "-t", "venvstacks")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "locks are missing" in line]
    assert len(errors) == 1 and errors[0].startswith(LOCK_LINE), result.stderr
    assert "run 'hatch build -t venvstacks:lock'" in errors[0]
    assert "Traceback" not in result.stderr + result.stdout

    # `pdm stack build` on the same edit refuses with the same line up to its remedy.
    by_pdm = published[1]
    pdm_spec = by_pdm / "pyproject.toml"
    original = pdm_spec.read_text()
    pdm_spec.write_text(edited.read_text())
    try:
        env = {**hatch_home, "PDM_CONFIG_FILE": str(by_pdm.parent / "pdm-config.toml")}
        pdm = subprocess.run(
            [str(BIN / "pdm"), "stack", "build", "-p", str(by_pdm)], env=env, capture_output=True, text=True
        )
    finally:
        pdm_spec.write_text(original)
    assert pdm.returncode != 0
    assert LOCK_LINE in pdm.stderr


@pytest.mark.slow
def test_bad_target_option_is_one_line_naming_it(edited: Path, hatch_home: dict[str, str]) -> None:
    edited.write_text(edited.read_text().replace('format = "tar.zst"', 'format = "zip"'))
    result = hatch(edited.parent, hatch_home, "build", "-t", "venvstacks")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "venvstacks.format" in line]
    assert lines == [
        "pyproject.toml: field 'tool.hatch.build.targets.venvstacks.format':"
        " must be one of tar.gz, tar.xz, tar.zst, not 'zip'"
    ], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow
def test_pdm_stack_use_runs_numpy_from_the_built_example(
    published: tuple[Path, Path], hatch_home: dict[str, str]
) -> None:
    """Here because this module builds example-project (numpy) anyway; see tests/pdm_plugin/test_use.py."""
    by_pdm = published[1]
    env = {**hatch_home, "PDM_CONFIG_FILE": str(by_pdm.parent / "pdm-config.toml")}

    def pdm(*args: str) -> str:
        done = subprocess.run([str(BIN / "pdm"), *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    project = str(by_pdm)
    pdm("stack", "use", "-p", project, "stats")
    try:
        numpy = pdm("run", "-p", project, "python", "-c", "import numpy, stats_report; print(numpy.__file__)")
    finally:
        pdm("stack", "use", "-p", project, "--reset")
    assert Path(numpy.strip()).is_relative_to(by_pdm / "_build" / "framework-numpy")
    assert not (by_pdm / ".venv").exists() and not (by_pdm / ".pdm-python").exists()
