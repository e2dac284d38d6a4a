import pytest

pytest_plugins = [
    "pdm.pytest",
    "tests.fixtures.specs",
    "tests.fixtures.http_server",
    "tests.fixtures.runtimes",
    "tests.fixtures.native_wheels",
    "tests.fixtures.oci_registry",
]

#: Fixtures that make real runtimes and layers: every test using one, directly or through another
#: fixture, builds real environments and counts as ``slow`` (docs/contributing.md).
BUILDING_FIXTURES = frozenset({"relocatable_runtime"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if BUILDING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _no_pdm_update_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """PDM looks for a newer PDM on PyPI after each command; tests must not depend on that."""
    monkeypatch.setenv("PDM_CHECK_UPDATE", "false")
