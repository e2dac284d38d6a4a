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


def compile_layer_bytecode(staging: Path) -> None:
    """Compile the staged layer's Python files with its runtime.

    Some packages ship sources that do not compile on this Python (torch does: templates and
    version-specific files); a deployment's post-install fails on exactly the same files with the
    same interpreter, and they run from source either way, so the layer's bytecode is still
    complete in the deployment's sense.
    """
    config = read_config(staging)
    compile_bytecode(staging, config, layer_path(staging, str(config["base_python"])))
