"""Bytecode compiled once, at build time, exactly as a deployment's post-install step writes it.

The post-install step compiles ``checked-hash`` pyc files (PEP 552) with the layer folder
stripped from their file names, so their content does not depend on where the layer lies.
Compiling the same way while the layer is staged gives ``pdm stack run`` a warm start and lets
``pdm stack export`` hard-link the build's bytecode instead of compiling every file again (which
was nearly all of an export's time). Archives still leave bytecode out: it would double their
size, and a deployment compiles with the interpreter it will run on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.deploy.postinstall import compile_bytecode, layer_path, read_config

if TYPE_CHECKING:
    from pathlib import Path


def compile_layer_bytecode(staging: Path) -> bool:
    """Compile the staged layer's Python files with its runtime; False if some could not be.

    A layer whose files did not all compile is recorded as such, and export then compiles it
    as a deployment would (files that do not compile run from source either way).
    """
    config = read_config(staging)
    return compile_bytecode(staging, config, layer_path(staging, str(config["base_python"])))
