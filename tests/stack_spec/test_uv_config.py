"""A venvstacks.toml's ``[tool.uv]`` (or ``venvstacks.uv.toml``) becomes pdm-stack settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdm_stack.errors import StackErrors
from pdm_stack.stack_spec import load_stack
from pdm_stack.stack_spec.uv_config import UV_CONFIG_FILE
from tests.fixtures.specs import SpecWriter

STACK = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11"
requirements = []
"""


def errors_of(path: Path) -> list[str]:
    with pytest.raises(StackErrors) as info:
        load_stack(path)
    return [str(error) for error in info.value.errors]


def test_tool_uv_settings_become_stack_settings(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [tool.uv]
        exclude-newer = "2024-05-01T00:00:00Z"
        find-links = ["wheels"]
        prerelease = "allow"
        resolution = "lowest-direct"
        index-strategy = "unsafe-best-match"
        override-dependencies = ["six==1.16.0"]
        no-build = true
        sources = { torch = { index = "cpu" } }
        [[tool.uv.index]]
        name = "cpu"
        url = "https://download.example/cpu"
        explicit = true
        """
        + STACK,
        base=False,
        name="venvstacks.toml",
    )
    settings = load_stack(path).settings
    assert settings.exclude_newer == "2024-05-01T00:00:00Z"
    assert settings.find_links == (path.parent / "wheels",)
    assert settings.uv_options() == {
        "prerelease": "allow",
        "resolution": "lowest-direct",
        "index_strategy": "unsafe-best-match",
        "override_dependencies": ["six==1.16.0"],
    }
    assert settings.package_indexes == {"torch": "cpu"}
    assert [(i.name, i.explicit) for i in settings.uv_indexes] == [("cpu", True)]


def test_unsupported_uv_settings_are_errors_naming_the_key(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [tool.uv]
        exclude-newer = "2024-05-01"
        constraint-dependencies = ["six<2"]
        no-build = false
        prerelease = "sometimes"
        sources = { mylib = { path = "../mylib" } }
        """
        + STACK,
        base=False,
        name="venvstacks.toml",
    )
    messages = errors_of(path)
    assert any("[tool.uv]: field 'constraint-dependencies': uv setting not supported" in m for m in messages)
    assert any("[tool.uv]: field 'no-build': only no-build = true" in m for m in messages)
    assert any("field 'prerelease': invalid value 'sometimes'" in m for m in messages)
    assert any("'mylib': only { index = \"<name>\" } sources are supported" in m for m in messages)


def test_venvstacks_uv_toml_is_read_when_the_spec_has_no_tool_uv(write_spec: SpecWriter) -> None:
    path = write_spec(STACK, base=False, name="venvstacks.toml")
    (path.parent / UV_CONFIG_FILE).write_text('exclude-newer = "2023-01-01"\nbogus = 1\n')
    assert any(f"{UV_CONFIG_FILE}: field 'bogus'" in m for m in errors_of(path))
    (path.parent / UV_CONFIG_FILE).write_text('exclude-newer = "2023-01-01"\n')
    assert load_stack(path).settings.exclude_newer == "2023-01-01"
    # With a [tool.uv] table venvstacks reads only that table; pdm-stack says the file is unused.
    path.write_text('[tool.uv]\nprerelease = "allow"\n' + STACK)
    spec = load_stack(path)
    assert spec.settings.exclude_newer is None
    assert any(f"{UV_CONFIG_FILE} is ignored" in warning for warning in spec.warnings)


def test_a_setting_given_twice_differently_is_an_error(write_spec: SpecWriter) -> None:
    path = write_spec(
        '[tool.uv]\nexclude-newer = "2024-01-01"\n[tool.pdm-stack]\nexclude_newer = "2025-01-01"\n' + STACK,
        base=False,
        name="venvstacks.toml",
    )
    assert any("field 'exclude_newer': set differently in [tool.uv]" in m for m in errors_of(path))


def test_a_pyprojects_tool_uv_is_the_projects_own(write_spec: SpecWriter) -> None:
    # Only its index definitions are shared; its other uv settings are not stack settings.
    path = write_spec('[tool.uv]\nexclude-newer = "2024-01-01"\nconstraint-dependencies = ["x"]\n')
    spec = load_stack(path)
    assert spec.settings.exclude_newer is None and spec.settings.uv_options() == {}
