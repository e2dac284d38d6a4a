from __future__ import annotations

from pathlib import Path

import pytest

from tests.publish.fake_layers import make_build


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A synthetic build folder with a runtime, a framework and an app layer."""
    return make_build(tmp_path / "checkout-a" / "_build")
