"""The whole path a product takes: lock, build in two checkouts, publish, deploy, move, export.

Real uv, real PyPI wheels, the session's relocatable CPython as the runtime (through PDM's install
root), and the real ``pdm stack`` commands.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pdm_stack.publish.formats import DEFAULT_FORMAT
from tests.fixtures.runtimes import clean_env

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network


PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"

STACK = f"""
[project]
name = "product"
version = "0"

[tool.pdm-stack]
exclude_newer = "2025-06-01"
local_runtime = "never"

[[tool.venvstacks.runtimes]]
name = "cpython-{PYTHON}"
python_implementation = "cpython@{PYTHON}"
requirements = []
platforms = ["linux_x86_64"]

[[tool.venvstacks.frameworks]]
name = "text"
runtime = "cpython-{PYTHON}"
requirements = ["six", "wheel"]  # wheel: a console script, rewritten at build

[[tool.venvstacks.applications]]
name = "facts"
frameworks = ["text"]
launch_module = "facts.py"
requirements = ["idna"]
"""

FACTS = """
import json, sys, idna, six
print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "executable": sys.executable,
    "modules": [six.__file__, idna.__file__, __file__],
    "encoded": idna.encode("bücher.example").decode(),
}))
"""


def checkout(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "facts.py").write_text(FACTS)
    spec = root / "pyproject.toml"
    spec.write_text(STACK)
    return spec


def run_facts(deployment: Path) -> dict[str, Any]:
    python = deployment / "app-facts" / "bin" / "python"
    result = subprocess.run(
        [str(python), "-m", "facts"], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert result.returncode == 0, result.stderr
    facts: dict[str, Any] = json.loads(result.stdout)
    return facts


def assert_inside(facts: dict[str, Any], deployment: Path) -> None:
    assert facts["encoded"] == "xn--bcher-kva.example"
    for path in (facts["prefix"], facts["base_prefix"], facts["executable"], *facts["modules"]):
        assert Path(path).is_relative_to(deployment), f"{path} is outside {deployment}"


def assert_no_trace_of(tree: Path, *needles: Path) -> None:
    encoded = [str(needle).encode() for needle in needles]
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for needle in encoded:
                assert needle not in data, f"{path} contains {needle.decode()}"


@pytest.fixture
def published(tmp_path: Path, pdm_install: Path, pdm: PDMCallable, project: Project) -> tuple[Path, Path]:
    """The same locks built and published in two checkouts at different paths."""
    first = checkout(tmp_path / "checkout-one")
    pdm(["stack", "lock", "--spec", str(first)], obj=project, strict=True)
    second = checkout(tmp_path / "somewhere" / "else" / "checkout-two")
    shutil.copytree(first.parent / "requirements", second.parent / "requirements")
    for spec in (first, second):
        pdm(["stack", "build", "--spec", str(spec)], obj=project, strict=True)
        pdm(["stack", "publish", "--spec", str(spec)], obj=project, strict=True)
    return first.parent, second.parent


def test_two_checkouts_publish_identical_archives(published: tuple[Path, Path]) -> None:
    first, second = (root / "_artifacts" for root in published)
    archives = sorted(path.name for path in first.glob(f"*.{DEFAULT_FORMAT}"))
    assert archives == [
        f"{name}.{DEFAULT_FORMAT}" for name in ("app-facts", f"cpython-{PYTHON}", "framework-text")
    ]
    for name in archives:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for kind in ("runtimes", "frameworks", "applications"):
        for meta in (first / "__venvstacks__" / kind).glob("*.json"):
            assert meta.read_bytes() == (second / "__venvstacks__" / kind / meta.name).read_bytes()


def test_deployed_stack_runs_and_survives_two_moves(
    published: tuple[Path, Path], tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    checkout_one, _ = published
    artifacts = checkout_one / "_artifacts"
    target = tmp_path / "site-a" / "stack"
    pdm(["stack", "deploy", str(artifacts), str(target)], obj=project, strict=True)
    assert_inside(run_facts(target), target)
    assert_no_trace_of(target, checkout_one, checkout_one / "_build")

    # Moved twice, without rerunning anything; earlier locations are gone.
    for name in ("site-b", "site-c"):
        moved = tmp_path / name / "stack"
        moved.parent.mkdir()
        target.rename(moved)
        target = moved
        assert_inside(run_facts(target), target)

    verify = pdm(["stack", "verify", str(target)], obj=project)
    assert verify.exit_code == 0, verify.stdout + verify.stderr


def test_standalone_deployer_and_export_give_the_same_working_layout(
    published: tuple[Path, Path], tmp_path: Path, pdm: PDMCallable, project: Project
) -> None:
    checkout_one, _ = published
    artifacts = checkout_one / "_artifacts"
    target = tmp_path / "plain-target"
    runtime_python = checkout_one / "_build" / f"cpython-{PYTHON}" / "bin" / "python3"
    # A target without pdm-stack: the script next to the archives and any Python 3.
    subprocess.run(
        [str(runtime_python), "-I", str(artifacts / "deploy_stack.py"), str(target), "--app", "facts"],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    assert_inside(run_facts(target), target)

    pdm(["stack", "export", "--spec", str(checkout_one / "pyproject.toml")], obj=project, strict=True)
    exported = checkout_one / "_export"
    assert_inside(run_facts(exported), exported)
    layout = sorted(p.name for p in exported.iterdir() if not p.name.startswith((".", "_")))
    assert layout == sorted(p.name for p in target.iterdir() if not p.name.startswith((".", "_")))

    # The build compiled its bytecode in the very form a deployment's post-install writes, so
    # export hard-links it instead of compiling again, and the bytes equal the deployed ones.
    build = checkout_one / "_build"
    site = f"lib/python{PYTHON}/site-packages"
    tag = sys.implementation.cache_tag
    pycs = [
        f"app-facts/{site}/__pycache__/facts.{tag}.pyc",
        f"framework-text/{site}/__pycache__/six.{tag}.pyc",
    ]
    for relative in pycs:
        built, exported_pyc, deployed = build / relative, exported / relative, target / relative
        assert exported_pyc.stat().st_ino == built.stat().st_ino, relative
        assert built.read_bytes() == deployed.read_bytes(), relative
        assert built.read_bytes()[4:8] == b"\x03\x00\x00\x00", relative  # checked-hash (PEP 552)
    run_facts(exported)  # valid bytecode is used, not rewritten
    assert all((exported / relative).stat().st_ino == (build / relative).stat().st_ino for relative in pycs)
    for pyc in build.rglob("*.pyc"):
        assert b".staging-" not in pyc.read_bytes(), pyc
