"""What ``pdm stack publish --to oci://...`` and ``pdm stack deploy oci://...`` share: the
registry options and the credentials from PDM's configuration.

``stack.registry_username`` / ``stack.registry_password`` (or their environment variables, the
same ones the standalone deployer reads) win; without them the registry client looks in
Docker's ``config.json``. Credentials are only handed to the client, never printed or stored.
"""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from pdm.project import Project

    from pdm_stack.deploy.registry_client import Credentials
    from pdm_stack.stack import Stack


def add_insecure_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="Talk plain HTTP to the registry (loopback hosts always use it); only for registries"
        " you trust on a network you trust",
    )


def registry_credentials(project: Project) -> Credentials | None:
    # Imported here: the publish and deploy commands' options need this module on every pdm run.
    from pdm_stack.deploy.registry_client import Credentials

    username = project.config.get("stack.registry_username")
    password = project.config.get("stack.registry_password")
    if username and password:
        return Credentials(str(username), str(password))
    return None


def project_version(project: Project, stack: Stack) -> str | None:
    """The version of the stack's project (the default tag of a pushed stack)."""
    try:
        with stack.spec.path.open("rb") as stream:
            version = tomllib.load(stream).get("project", {}).get("version")
    except (OSError, tomllib.TOMLDecodeError):
        version = None
    if not version and stack.spec.path == project.root / "pyproject.toml":
        version = project.pyproject.metadata.get("version")
    return str(version) if version else None
