"""``pdm-stack`` / ``python -m pdm_stack``: the ``pdm stack`` commands without typing ``pdm``.

Runs the very same command objects through PDM's core, so both entry points always accept the
same options and read the same PDM configuration (sources, interpreter installs, proxies).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    # A tool run from scripts and CI must not reach out to PyPI to look for PDM updates.
    os.environ.setdefault("PDM_CHECK_UPDATE", "false")
    from pdm.core import Core

    core = Core()
    with core.exit_stack:
        core.main(["stack", *(sys.argv[1:] if argv is None else argv)], prog_name="pdm-stack")


if __name__ == "__main__":
    main()
