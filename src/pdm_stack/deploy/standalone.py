"""The standalone deployer's API, as ``pdm stack deploy``, export and embedding applications use it.

The deployer is split by concern: ``common`` (its error, name rules, hashing), ``metadata``
(reading and checking the published metadata, choosing layers), ``archives`` (checking and
unpacking an archive), ``records`` (what TARGET remembers, the lock), ``deployer`` (the steps,
post-install, the swap into place) and ``cli``. They use only the standard library (Python
3.9+) and import each other only by relative imports, because ``pdm stack publish`` copies them,
with this file as ``__init__.py``, into ``deploy_stack_lib/`` next to the archives, where the
``deploy_stack.py`` stub runs them without pdm-stack. ``import deploy_stack_lib`` there gives the
names ``pdm_stack.deploy.standalone`` gives here.
"""

from __future__ import annotations

from .archives import check_archive, extract_layer
from .cli import main
from .common import DeployError
from .deployer import deploy, run_postinstall
from .deployment_records import read_records
from .metadata_reader import load_metadata, select_layers

__all__ = [
    "DeployError",
    "check_archive",
    "deploy",
    "extract_layer",
    "load_metadata",
    "main",
    "read_records",
    "run_postinstall",
    "select_layers",
]
