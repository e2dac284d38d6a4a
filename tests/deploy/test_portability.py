"""What runs on the target must need nothing but a Python 3.9+ standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from pdm_stack.deploy import (
    STANDALONE_MODULES,
    STANDALONE_PACKAGE,
    STANDALONE_RESOURCE,
    STANDALONE_SCRIPT_NAME,
    standalone_files,
)

TARGET_SIDE = ["postinstall.py", STANDALONE_RESOURCE, *STANDALONE_MODULES]


@pytest.mark.parametrize("name", TARGET_SIDE)
def test_target_side_files_parse_as_python_3_9(name: str) -> None:
    source = files("pdm_stack.deploy").joinpath(name).read_text(encoding="utf-8")
    ast.parse(source, filename=name, feature_version=(3, 9))


def test_the_stub_parses_as_python_3_9() -> None:
    stub = standalone_files()[STANDALONE_SCRIPT_NAME].decode()
    ast.parse(stub, filename=STANDALONE_SCRIPT_NAME, feature_version=(3, 9))


@pytest.mark.parametrize("name", [STANDALONE_RESOURCE, *STANDALONE_MODULES])
def test_deployer_modules_import_siblings_only_relatively_and_only_shipped_ones(name: str) -> None:
    """A copy in ``deploy_stack_lib/`` has no ``pdm_stack``: every sibling it needs must be shipped."""
    tree = ast.parse(files("pdm_stack.deploy").joinpath(name).read_text(encoding="utf-8"))
    shipped = {module.removesuffix(".py") for module in STANDALONE_MODULES}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1 and node.module in shipped, ast.unparse(node)
        names = [a.name for a in node.names] if isinstance(node, ast.Import | ast.ImportFrom) else []
        module = node.module if isinstance(node, ast.ImportFrom) else None
        assert not any(n.split(".")[0] == "pdm_stack" for n in [*names, module or ""]), ast.unparse(node)


def test_postinstall_imports_only_the_standard_library() -> None:
    path = files("pdm_stack.deploy").joinpath("postinstall.py")
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('target_side', {str(path)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "ours = {'target_side', '__main__'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - ours))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_written_deployer_imports_only_the_standard_library(tmp_path: Path) -> None:
    for name, data in standalone_files().items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    assert sorted(p.name for p in (tmp_path / STANDALONE_PACKAGE).iterdir()) == sorted(
        ["__init__.py", *STANDALONE_MODULES]
    )
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        f"import {STANDALONE_PACKAGE}, {STANDALONE_PACKAGE}.cli\n"
        f"assert {STANDALONE_PACKAGE}.deploy and {STANDALONE_PACKAGE}.run_postinstall\n"
        f"ours = {{'{STANDALONE_PACKAGE}', '__main__'}}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - ours))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_deploy_core_imports_neither_pdm_nor_hatchling() -> None:
    script = (
        "import sys, pdm_stack.deploy, pdm_stack.deploy.verify\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pdm', 'hatchling', 'hatch'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
