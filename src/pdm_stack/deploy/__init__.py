"""The target side of a published stack: post-install, deployment and verification.

``postinstall.py`` and the standalone deployer's modules are packaged resources as well as
modules: publishing copies ``postinstall.py`` verbatim into every layer archive, and the deployer
(:data:`STANDALONE_MODULES`, see ``standalone.py``) into ``deploy_stack_lib/`` next to the
archives, with the small ``deploy_stack.py`` stub that runs it; there they run without pdm-stack
on any Python 3.9+. This package only adapts them to the core's conventions
(:class:`StackError`, :class:`Reporter`) for ``pdm stack deploy``, and says which files
publishing writes (:func:`standalone_files`).
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from pdm_stack.deploy.common import DeployError
from pdm_stack.deploy.deployer import deploy
from pdm_stack.deploy.layer_sources import open_source
from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.deploy.registry_client import Credentials
    from pdm_stack.reporting import Reporter

#: Resource names inside this package (``importlib.resources.files("pdm_stack.deploy")``).
POSTINSTALL_RESOURCE = "postinstall.py"
#: The standalone deployer's modules, copied as they are into :data:`STANDALONE_PACKAGE`;
#: ``standalone.py`` (the API they share) becomes its ``__init__.py``.
STANDALONE_MODULES = (
    "common.py",
    "metadata_reader.py",
    "xz_blocks.py",
    "archives.py",
    "registry_client.py",
    "oci_layout.py",
    "layer_sources.py",
    "deployment_records.py",
    "deployer.py",
    "cli.py",
)
STANDALONE_RESOURCE = "standalone.py"
#: The folder next to the published archives that holds the deployer. Not ``pdm_stack``: an
#: installed pdm-stack (of another version) must never be picked up instead, nor shadowed.
STANDALONE_PACKAGE = "deploy_stack_lib"
#: The stub next to the published archives that runs the deployer.
STANDALONE_SCRIPT_NAME = "deploy_stack.py"

#: With ``-I`` (implying safe-path since 3.11) Python does not put a script's folder on
#: ``sys.path``: the stub puts it there itself, first, so its own ``deploy_stack_lib`` is used.
_STUB = f'''#!/usr/bin/env python3
"""Deploy the stack layers published beside this file: python3 {STANDALONE_SCRIPT_NAME} [ARTIFACTS_DIR] TARGET

ARTIFACTS_DIR may also be a stack in an OCI registry: oci://HOST[:PORT]/REPOSITORY:TAG.
Written by pdm stack publish; needs only Python 3.9+ (its standard library). The deployer is
the {STANDALONE_PACKAGE}/ folder beside this file; ARTIFACTS_DIR defaults to this file's folder.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    if sys.version_info < (3, 9):
        sys.exit("error: {STANDALONE_SCRIPT_NAME} needs Python 3.9 or newer")
    sys.dont_write_bytecode = True  # leave the published folder as it was published
    sys.path.insert(0, HERE)
    from {STANDALONE_PACKAGE}.cli import main

    sys.exit(main(artifacts=HERE))
'''


def standalone_files() -> dict[str, bytes]:
    """The standalone deployer as publishing writes it: ``/``-separated names relative to the
    output folder, in the order to write them (the stub last), and their exact bytes."""
    package = resources.files("pdm_stack.deploy")
    files = {
        f"{STANDALONE_PACKAGE}/{name}": package.joinpath(name).read_bytes() for name in STANDALONE_MODULES
    }
    files[f"{STANDALONE_PACKAGE}/__init__.py"] = package.joinpath(STANDALONE_RESOURCE).read_bytes()
    files[STANDALONE_SCRIPT_NAME] = _STUB.encode()
    return files


def deploy_stack(
    artifacts: Path | str,
    target: Path,
    *,
    layers: Sequence[str] = (),
    apps: Sequence[str] = (),
    force: bool = False,
    credentials: Credentials | None = None,
    insecure: bool = False,
    reporter: Reporter,
) -> list[tuple[str, str]]:
    """Deploy published layers into ``target``; returns ``(install target, outcome)`` pairs.

    ``artifacts`` is a publish output folder or an ``oci://HOST/REPOSITORY:TAG`` stack.
    """
    try:
        source = open_source(artifacts, credentials=credentials, insecure=insecure)
        return deploy(source, target, layers, apps, force=force, log=reporter.info)
    except DeployError as exc:
        raise StackError(str(exc)) from None
    except OSError as exc:
        raise StackError(exc.strerror or str(exc), file=str(exc.filename or target)) from None


__all__ = [
    "POSTINSTALL_RESOURCE",
    "STANDALONE_MODULES",
    "STANDALONE_PACKAGE",
    "STANDALONE_RESOURCE",
    "STANDALONE_SCRIPT_NAME",
    "deploy_stack",
    "standalone_files",
]
