"""What runs on the target must need nothing but a Python 3.9+ standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.resources import files

import pytest

TARGET_SIDE = ["postinstall.py", "standalone.py"]


@pytest.mark.parametrize("name", TARGET_SIDE)
def test_target_side_files_parse_as_python_3_9(name: str) -> None:
    source = files("pdm_stack.deploy").joinpath(name).read_text(encoding="utf-8")
    ast.parse(source, filename=name, feature_version=(3, 9))


@pytest.mark.parametrize("name", TARGET_SIDE)
def test_target_side_files_import_only_the_standard_library(name: str) -> None:
    path = files("pdm_stack.deploy").joinpath(name)
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


def test_deploy_core_imports_neither_pdm_nor_hatchling() -> None:
    script = (
        "import sys, pdm_stack.deploy, pdm_stack.deploy.verify\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pdm', 'hatchling', 'hatch'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
