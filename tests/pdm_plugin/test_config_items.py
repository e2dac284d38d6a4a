"""``stack.*`` config items: bad values are one-line errors naming the key and what is allowed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

    from tests.fixtures.specs import SpecWriter


def assert_one_line_error(stderr: str, *expected: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip() and "-v" not in line]
    assert len(lines) == 1, stderr
    assert all(text in lines[0] for text in expected), stderr
    assert "Traceback" not in stderr


def test_a_typo_in_the_env_var_is_an_error_not_a_default(
    write_spec: SpecWriter, pdm: PDMCallable, project: Project
) -> None:
    result = pdm(
        ["stack", "build", "--spec", str(write_spec())],
        obj=project,
        env={"PDM_STACK_LOCAL_RUNTIME": "prefr"},
    )
    assert result.exit_code == 1
    assert_one_line_error(
        result.stderr, "stack.local_runtime", "PDM_STACK_LOCAL_RUNTIME", "'prefr'", "prefer, fallback, never"
    )


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("stack.local_runtime", "sometimes", "prefer, fallback, never"),
        ("stack.register_runtimes", "maybe", "true, false"),
    ],
)
def test_pdm_config_refuses_a_bad_value(
    pdm: PDMCallable, project: Project, key: str, value: str, allowed: str
) -> None:
    result = pdm(["config", key, value], obj=project)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, key, f"'{value}'", allowed)


def test_good_values_are_kept(pdm: PDMCallable, project: Project) -> None:
    pdm(["config", "stack.local_runtime", "Never"], obj=project, strict=True)
    pdm(["config", "stack.register_runtimes", "off"], obj=project, strict=True)
    assert project.config["stack.local_runtime"] == "never"
    assert project.config["stack.register_runtimes"] is False
