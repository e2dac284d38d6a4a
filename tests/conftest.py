import pytest

pytest_plugins = [
    "pdm.pytest",
    "tests.fixtures.specs",
    "tests.fixtures.http_server",
    "tests.fixtures.runtimes",
    "tests.fixtures.native_wheels",
    "tests.fixtures.oci_registry",
]


@pytest.fixture(autouse=True)
def _no_pdm_update_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """PDM looks for a newer PDM on PyPI after each command; tests must not depend on that."""
    monkeypatch.setenv("PDM_CHECK_UPDATE", "false")
