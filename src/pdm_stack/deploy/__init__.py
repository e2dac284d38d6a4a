"""The target side of a published stack: post-install, deployment and verification.

``postinstall.py`` and ``standalone.py`` are packaged resources as well as modules: publishing
copies them verbatim into every layer archive and next to the archives (as ``deploy_stack.py``),
where they run without pdm-stack on any Python 3.9+. This package only adapts them to the core's
conventions (:class:`StackError`, :class:`Reporter`) for ``pdm stack deploy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.deploy.standalone import DeployError, deploy
from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.reporting import Reporter

#: Resource names inside this package (``importlib.resources.files("pdm_stack.deploy")``).
POSTINSTALL_RESOURCE = "postinstall.py"
STANDALONE_RESOURCE = "standalone.py"
#: The name the standalone deployer gets next to the published archives.
STANDALONE_SCRIPT_NAME = "deploy_stack.py"


def deploy_stack(
    artifacts: Path,
    target: Path,
    *,
    layers: Sequence[str] = (),
    apps: Sequence[str] = (),
    force: bool = False,
    reporter: Reporter,
) -> list[tuple[str, str]]:
    """Deploy published layers into ``target``; returns ``(install target, outcome)`` pairs."""
    try:
        return deploy(artifacts, target, layers, apps, force=force, log=reporter.info)
    except DeployError as exc:
        raise StackError(str(exc)) from None
    except OSError as exc:
        raise StackError(exc.strerror or str(exc), file=str(exc.filename or target)) from None


__all__ = ["POSTINSTALL_RESOURCE", "STANDALONE_RESOURCE", "STANDALONE_SCRIPT_NAME", "deploy_stack"]
