"""The core works without PDM or Hatch, and each front end without the other's tool.

Front ends adapt the core, never the other way round: the core imports neither tool, the Hatch
builder (which runs in Hatch's build environment) never imports PDM, and the PDM plugin never
imports Hatch. Every module is imported, so a new one cannot slip past a hand-kept list.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import pdm_stack

FRONT_ENDS = {"pdm_stack.pdm_plugin": {"hatch", "hatchling"}, "pdm_stack.hatch_plugin": {"pdm"}}
ALL_MODULES = sorted(module.name for module in pkgutil.walk_packages(pdm_stack.__path__, "pdm_stack."))
CORE_MODULES = [
    name for name in ALL_MODULES if not any(name == f or name.startswith(f + ".") for f in FRONT_ENDS)
]


def imported_tools(modules: list[str], tools: set[str]) -> list[str]:
    """The modules of ``tools`` loaded by importing ``modules`` in a fresh interpreter."""
    script = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in modules)
        + f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {sorted(tools)!r})\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return [name for name in result.stdout.strip().split(",") if name]


def test_core_modules_import_neither_pdm_nor_hatch() -> None:
    assert "pdm_stack.operations.stages" in CORE_MODULES
    assert "pdm_stack.runtimes.hatch_installs" in CORE_MODULES
    assert imported_tools(CORE_MODULES, {"pdm", "hatch", "hatchling"}) == []


@pytest.mark.parametrize("front_end", sorted(FRONT_ENDS))
def test_front_ends_do_not_import_the_other_tool(front_end: str) -> None:
    modules = [name for name in ALL_MODULES if name == front_end or name.startswith(front_end + ".")]
    assert len(modules) > 3
    assert imported_tools(modules, FRONT_ENDS[front_end]) == []
