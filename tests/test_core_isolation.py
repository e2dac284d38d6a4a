"""The core must work without PDM or Hatch: front ends adapt it, never the other way round."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = [
    "pdm_stack.stack",
    "pdm_stack.show",
    "pdm_stack.status",
    "pdm_stack.indexes",
    "pdm_stack.building.stack_build",
    "pdm_stack.runtimes.provider",
    "pdm_stack.lock",
    "pdm_stack.lock.stack_lock",
    "pdm_stack.run",
    "pdm_stack.deploy",
    "pdm_stack.deploy.verify",
    "pdm_stack.publish",
]


def test_core_modules_import_neither_pdm_nor_hatch() -> None:
    script = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE_MODULES)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'pdm', 'hatchling', 'hatch'})\n"
        + "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
