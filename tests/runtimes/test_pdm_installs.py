from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from pdm_stack.runtimes.pdm_installs import default_pdm_install_root, find_pdm_installs
from pdm_stack.runtimes.requests import RuntimeRequest
from tests.runtimes.pbs_archives import make_runtime_tree


@pytest.fixture
def install_root(tmp_path: Path) -> Path:
    root = tmp_path / "pythons"
    make_runtime_tree(root / "cpython@3.11.7", "3.11.7")
    make_runtime_tree(root / "cpython@3.11.9", "3.11.9")
    make_runtime_tree(root / "cpython@3.12.1", "3.12.1")
    make_runtime_tree(root / "cpython@3.13.1t", "3.13.1t")
    # Linked by `pdm python link --name`: version only readable from the headers.
    make_runtime_tree(root / "my-python", "3.11.8")
    # Half unpacked: interpreter present, stdlib missing.
    make_runtime_tree(root / "cpython@3.11.10", "3.11.10", complete=False)
    # Temporary sibling of an unpack in progress.
    make_runtime_tree(root / ".cpython@3.11.11.abc.tmp", "3.11.11")
    make_runtime_tree(root / "pypy@3.11.12", "3.11.12")
    (root / "cpython@3.11.13").write_text("not a folder")
    (root / "cpython@3.11.14").mkdir()
    return root


def test_finds_matching_installs_newest_first(install_root: Path) -> None:
    found = find_pdm_installs(install_root, RuntimeRequest.parse("3.11"))
    assert found == [
        ("3.11.9", install_root / "cpython@3.11.9"),
        ("3.11.8", install_root / "my-python"),
        ("3.11.7", install_root / "cpython@3.11.7"),
    ]


def test_exact_and_free_threaded_requests(install_root: Path) -> None:
    assert find_pdm_installs(install_root, RuntimeRequest.parse("cpython@3.11.7")) == [
        ("3.11.7", install_root / "cpython@3.11.7")
    ]
    assert find_pdm_installs(install_root, RuntimeRequest.parse("3.13t")) == [
        ("3.13.1t", install_root / "cpython@3.13.1t")
    ]
    assert find_pdm_installs(install_root, RuntimeRequest.parse("3.13")) == []
    assert find_pdm_installs(install_root, RuntimeRequest.parse("3.10")) == []


def test_full_build_layout_with_install_folder(tmp_path: Path) -> None:
    make_runtime_tree(tmp_path / "cpython@3.10.4" / "install", "3.10.4")
    assert find_pdm_installs(tmp_path, RuntimeRequest.parse("3.10")) == [
        ("3.10.4", tmp_path / "cpython@3.10.4")
    ]


def test_missing_root_finds_nothing(tmp_path: Path) -> None:
    assert find_pdm_installs(tmp_path / "nope", RuntimeRequest.parse("3.11")) == []


def test_agrees_with_pdm_python_list(install_root: Path) -> None:
    """Everything we report is also listed by the provider behind `pdm python list`."""
    from findpython.providers.rye import RyeProvider

    listed = {Path(v.executable).parent.parent for v in RyeProvider(root=install_root).find_pythons()}
    for request in ("3.11", "3.12", "3.13t"):
        for _, folder in find_pdm_installs(install_root, RuntimeRequest.parse(request)):
            assert folder in listed
    # ... but PDM would also list the half-unpacked one, which we skip on purpose.
    assert install_root / "cpython@3.11.10" in listed


def test_default_install_root_matches_pdm() -> None:
    from pdm.project.config import Config

    assert default_pdm_install_root() == Path(platformdirs.user_data_dir("pdm")) / "python"
    assert default_pdm_install_root() == Path(Config._config_map["python.install_root"].default)
