"""One published stack per test session; tests deploy it into their own folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdm_stack.deploy.standalone import deploy
from tests.deploy.stack_factory import build_layers, publish


@pytest.fixture(scope="session")
def build_dir(relocatable_runtime: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hand-made layer folders (runtime, framework-fw, app-demo); read-only."""
    root = tmp_path_factory.mktemp("deploy-build") / "_build"
    build_layers(relocatable_runtime, root)
    return root


@pytest.fixture(scope="session")
def artifacts(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published stack: archives, ``__venvstacks__/`` metadata, ``deploy_stack.py``; read-only."""
    out = tmp_path_factory.mktemp("deploy-artifacts") / "_artifacts"
    publish(build_dir, out)
    return out


@pytest.fixture(scope="session")
def deployed_template(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment made once; tests that change a deployment work on :func:`copy_deployment`."""
    target = tmp_path_factory.mktemp("deploy-template") / "stack"
    deploy(artifacts, target, log=lambda _: None)
    return target
