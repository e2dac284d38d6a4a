"""``pdm-stack`` / ``python -m pdm_stack``: the ``pdm stack`` commands without typing ``pdm``.

Runs the very same command objects through PDM's core, so both entry points always accept the
same options and read the same PDM configuration (sources, interpreter installs, proxies).
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = "pdm-stack"


def _rename(parser: argparse.ArgumentParser, old: str, new: str) -> None:
    """Help and usage errors name the command the user typed (``pdm-stack lock``)."""
    parser.prog = parser.prog.replace(old, new, 1)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action._prog_prefix = action._prog_prefix.replace(old, new, 1)
            for child in action.choices.values():
                _rename(child, old, new)


def main(argv: list[str] | None = None) -> None:
    # A tool run from scripts and CI must not reach out to PyPI to look for PDM updates.
    os.environ.setdefault("PDM_CHECK_UPDATE", "false")
    from pdm.core import Core

    core = Core()
    stack = core.subparsers.choices["stack"]
    _rename(stack, stack.prog, PROG)
    with core.exit_stack:
        core.main(["stack", *(sys.argv[1:] if argv is None else argv)], prog_name=PROG)


if __name__ == "__main__":
    main()
