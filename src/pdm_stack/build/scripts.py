"""Console scripts that keep working when their layer is moved.

Installers write the absolute path of the interpreter into script shebangs; inside a layer built
in a staging folder that path is wrong as soon as the layer is swapped into place. The
``/bin/sh`` trampoline used by python-build-standalone finds the interpreter beside the script.
"""

from __future__ import annotations

from pathlib import Path

TRAMPOLINE = """#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")"/'{python}' "$0" "$@"
' '''
"""


def make_scripts_relocatable(bin_dir: Path, interpreter_dirs: list[Path]) -> list[Path]:
    """Rewrite scripts whose shebang names an interpreter in ``interpreter_dirs``; returns them."""
    prefixes = tuple(f"#!{d}/".encode() for d in interpreter_dirs)
    rewritten = []
    for script in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else []:
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as stream:
            head = stream.read(2)
            if head != b"#!":
                continue
            first_line = head + stream.readline()
            body = stream.read()
        if not first_line.startswith(prefixes):
            continue
        python = Path(first_line[2:].strip().decode()).name
        script.write_bytes(TRAMPOLINE.format(python=python).encode() + body)
        rewritten.append(script)
    return rewritten
