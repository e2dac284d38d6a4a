"""The command line of the standalone deployer: ``python3 deploy_stack.py [ARTIFACTS_DIR] TARGET``.

Kept apart from the deploying itself so that ``pdm stack deploy`` (which has its own command
line) and embedding applications can call :func:`deployer.deploy` without argparse. A user error
is one line on stderr and exit status 1, never a traceback. Standard library only (see ``common``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .common import DeployError
from .deployer import deploy
from .layer_sources import open_source
from .registry_client import is_registry

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None, *, artifacts: Path | str | None = None) -> int:
    """Deploy as the command line ``argv`` says; returns the exit status.

    ``artifacts`` is the ARTIFACTS_DIR used when only TARGET is given: the ``deploy_stack.py``
    stub passes its own folder. Without it, both folders must be given.
    """
    parser = argparse.ArgumentParser(
        prog="deploy_stack.py",
        description="Deploy published stack layers into TARGET: archives checked against their sha256,"
        " unpacked side by side, post-installed runtime first. Deploying again skips what is in place.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="[ARTIFACTS_DIR] TARGET",
        help="the folder with the archives and __venvstacks__/ (default: the folder of"
        " deploy_stack.py) or a stack in an OCI registry (oci://HOST[:PORT]/REPOSITORY:TAG;"
        " credentials from PDM_STACK_REGISTRY_USERNAME/_PASSWORD or Docker's config.json),"
        " then the deployment folder",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="talk plain HTTP to the registry (always done for loopback hosts)",
    )
    parser.add_argument("--layer", action="append", default=[], metavar="NAME", help="deploy this layer")
    parser.add_argument("--app", action="append", default=[], metavar="NAME", help="deploy this application")
    parser.add_argument("--force", action="store_true", help="redeploy layers that are already deployed")
    options = parser.parse_args(argv)
    paths: list[Path | str] = [path if is_registry(path) else Path(path) for path in options.paths]
    if len(paths) == 1 and artifacts is not None:
        paths.insert(0, Path(artifacts))
    if len(paths) != 2:
        parser.error(
            "expected [ARTIFACTS_DIR] TARGET" if artifacts is not None else "expected ARTIFACTS_DIR TARGET"
        )
    try:
        source = open_source(paths[0], insecure=options.insecure)
        deploy(source, paths[1], options.layer, options.app, force=options.force)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.filename or options.paths[-1]}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
