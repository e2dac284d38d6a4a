"""Fixtures of the build tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdm_stack.runtimes.provider import RuntimeSettings
from tests.building.layer_projects import pdm_install_root, runtime_settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, relocatable_runtime: Path) -> RuntimeSettings:
    return runtime_settings(
        pdm_install_root(relocatable_runtime, tmp_path_factory.mktemp("pdm") / "installs")
    )
