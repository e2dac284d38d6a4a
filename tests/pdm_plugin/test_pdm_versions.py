"""Both ends of the supported PDM range: ``pdm self add`` of our wheel keeps the PDM it is added to.

Real PDMs from PyPI in throwaway virtualenvs: the newest release, as a plain ``pip install pdm``
gets it, and the lowest version pyproject.toml allows (with the dependency versions it was
released against, as a user who installed it then has them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import uv

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "example-project"
UV = uv.find_uv_bin()


def lowest_supported_pdm() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'"pdm>=([0-9.]+)"', text)
    assert match is not None, "pyproject.toml has no lower bound for pdm"
    return match.group(1)


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's unconditional ``Requires-Dist`` entries."""
    with zipfile.ZipFile(wheel) as archive:
        [name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    requirements = re.findall(r"^Requires-Dist: (.+)$", metadata, re.MULTILINE)
    return [r for r in requirements if "extra ==" not in r]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run(UV, "build", "--wheel", "--out-dir", out, ROOT)
    [built] = out.glob("pdm_stack-*.whl")
    return built


def installed_pdm(python: Path) -> str:
    probe = "import importlib.metadata as m; print(m.version('pdm'))"
    return run(python, "-c", probe).stdout.strip()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pins", "check_locking"),
    [
        pytest.param(["pdm"], True, id="newest"),
        # PDM of that time ran on hishel 0.x and unearth 0.18 (it capped neither).
        pytest.param([f"pdm=={lowest_supported_pdm()}.*", "hishel<1", "unearth<0.19"], False, id="lowest"),
    ],
)
def test_pdm_self_add_keeps_the_pdm_version(
    wheel: Path, tmp_path: Path, pins: list[str], check_locking: bool
) -> None:
    venv = tmp_path / "venv"
    run(UV, "venv", "--seed", "--python", sys.executable, venv)
    python, pdm = venv / "bin" / "python", venv / "bin" / "pdm"
    run(UV, "pip", "install", "--python", python, *pins)
    env = {
        **os.environ,
        "PDM_CHECK_UPDATE": "false",
        "PDM_CONFIG_FILE": str(tmp_path / "pdm-config.toml"),
        "VIRTUAL_ENV": "",
    }
    version = installed_pdm(python)
    # Our dependencies first, through uv's cache (pip alone takes minutes), with PDM held at its
    # version: a pin of ours that needs another PDM fails here, as `pdm self add` would move it.
    run(UV, "pip", "install", "--python", python, *wheel_requirements(wheel), f"pdm=={version}")

    # --no-index: every dependency is there, so pip has nothing to fetch, and nothing to replace.
    run(pdm, "self", "add", "--pip-args=--no-index", wheel, env=env)

    assert installed_pdm(python) == version
    shown = run(pdm, "stack", "show", "--json", "-p", EXAMPLE, env=env)
    assert "Failed to load plugin" not in shown.stderr
    assert [layer["env_name"] for layer in json.loads(shown.stdout)["layers"]][-1] == "app-hello"
    if check_locking:
        # The plugin's own pins (hishel<2) leave the newest PDM able to resolve and lock.
        project = tmp_path / "project"
        project.mkdir()
        (project / "pyproject.toml").write_text(
            '[project]\nname = "x"\nversion = "0"\ndependencies = ["six"]\n'
        )
        run(pdm, "lock", "-p", project, env=env)
