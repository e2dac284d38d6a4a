pytest_plugins = ["pdm.pytest", "tests.fixtures.specs"]
