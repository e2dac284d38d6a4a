"""Finding ``hatch python install`` interpreters from Hatch's documented folders, without Hatch."""

from __future__ import annotations

import json
from pathlib import Path

import platformdirs
import pytest

from pdm_stack.runtimes.hatch_installs import HatchInstalls, hatch_pythons_dir
from pdm_stack.runtimes.requests import RuntimeRequest
from tests.runtimes.pbs_archives import make_runtime_tree, pbs_filename

PBS_URL = "https://github.com/astral-sh/python-build-standalone/releases/download/20240107/"


def hatch_install(
    pythons: Path, name: str, version: str | None, *, source_version: str | None = None
) -> Path:
    """A Hatch install as ``hatch python install`` leaves it: ``<name>/python/`` + hatch-dist.json."""
    tree = make_runtime_tree(pythons / name / "python", version)
    archive = pbs_filename(source_version or version or "3.11.0").replace("+", "%2B")
    metadata = {"source": PBS_URL + archive, "python_path": "python/bin/python3"}
    (pythons / name / "hatch-dist.json").write_text(json.dumps(metadata))
    return tree


@pytest.fixture
def pythons(tmp_path: Path) -> Path:
    root = tmp_path / "data" / "pythons"
    hatch_install(root, "3.11", "3.11.7")
    hatch_install(root, "3.12", "3.12.4")
    hatch_install(root, "3.13t", "3.13.1t")
    # Headers missing: the version comes from the archive name Hatch recorded.
    hatch_install(root, "3.10", None, source_version="3.10.14")
    # No hatch-dist.json: Hatch itself does not list it.
    make_runtime_tree(root / "3.9" / "python", "3.9.18")
    # A folder named for one series holding another is not what the user asked Hatch for.
    hatch_install(root, "3.14", "3.11.9")
    hatch_install(root, "pypy3.11", "3.11.13")
    (root / "notes.txt").write_text("")
    return root


def test_finds_matching_installs_with_their_full_version(pythons: Path) -> None:
    installs = HatchInstalls(pythons)
    assert installs.find(RuntimeRequest.parse("cpython@3.11")) == [("3.11.7", pythons / "3.11" / "python")]
    assert installs.find(RuntimeRequest.parse("3.11.7")) == [("3.11.7", pythons / "3.11" / "python")]
    assert installs.find(RuntimeRequest.parse("3.11.8")) == []
    assert installs.find(RuntimeRequest.parse("3.13t")) == [("3.13.1t", pythons / "3.13t" / "python")]
    assert installs.find(RuntimeRequest.parse("3.13")) == []
    assert installs.find(RuntimeRequest.parse("3.10")) == [("3.10.14", pythons / "3.10" / "python")]
    assert installs.find(RuntimeRequest.parse("3.9")) == []
    assert installs.find(RuntimeRequest.parse("3.14")) == []


def test_missing_folder_finds_nothing(tmp_path: Path) -> None:
    assert HatchInstalls(tmp_path / "nope").find(RuntimeRequest.parse("3.11")) == []


def test_pythons_dir_follows_hatch_precedence(tmp_path: Path) -> None:
    default = Path(platformdirs.user_data_dir("hatch", appauthor=False)) / "pythons"
    no_config = {"HATCH_CONFIG": str(tmp_path / "missing.toml")}
    assert hatch_pythons_dir(no_config) == default
    with_data_dir = {**no_config, "HATCH_DATA_DIR": str(tmp_path / "d")}
    assert hatch_pythons_dir(with_data_dir) == tmp_path / "d" / "pythons"

    config = tmp_path / "config.toml"
    config.write_text(f'[dirs]\ndata = "{tmp_path / "configured"}"\npython = "isolated"\n')
    env = {"HATCH_CONFIG": str(config)}
    assert hatch_pythons_dir(env) == tmp_path / "configured" / "pythons"
    # The environment variable wins over the config file, as in Hatch.
    assert hatch_pythons_dir({**env, "HATCH_DATA_DIR": str(tmp_path / "d")}) == tmp_path / "d" / "pythons"


def test_configured_python_dir_expands_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARED_PYTHONS", str(tmp_path / "shared"))
    config = tmp_path / "config.toml"
    config.write_text('[dirs]\npython = "$SHARED_PYTHONS/hatch"\n')
    assert hatch_pythons_dir({"HATCH_CONFIG": str(config)}) == tmp_path / "shared" / "hatch"
