"""The venvstacks target's options: defaults, and one error line naming the file and option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pdm_stack.errors import StackError
from pdm_stack.hatch_plugin.options import OptionsLocation, TargetOptions, parse_target_options


def test_defaults_and_values() -> None:
    assert parse_target_options({"dependencies": ["pdm-stack"]}, env={}) == TargetOptions()
    options = parse_target_options(
        {"include": ["app-*"], "format": "tar.xz", "tag-outputs": True, "lock": "if-stale", "spec": "v.toml"},
        env={},
    )
    assert options.include == ("app-*",)
    assert (options.archive_format, options.tag_outputs, options.lock, options.spec) == (
        "tar.xz",
        True,
        "if-stale",
        "v.toml",
    )


T = "field 'tool.hatch.build.targets.venvstacks."


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"format": "zip"}, f"{T}format': must be one of tar.gz,"),
        ({"lock": "always"}, f"{T}lock': must be one of never, if-stale"),
        ({"tag-outputs": "yes"}, f"{T}tag-outputs': must be true or false"),
        ({"include": [1]}, f"{T}include': must be a list of layer"),
        ({"tag_outputs": True}, f"{T}tag_outputs': unknown option"),
        ({"local-runtime": "maybe"}, f"{T}local-runtime': must be one of"),
    ],
)
def test_bad_option_is_one_line_naming_it(table: dict[str, object], expected: str) -> None:
    with pytest.raises(StackError) as caught:
        parse_target_options(table, env={})
    message = str(caught.value)
    assert message.startswith(f"pyproject.toml: {expected}"), message
    assert "\n" not in message


def test_hatch_toml_location_is_named() -> None:
    where = OptionsLocation("hatch.toml", "build.targets.venvstacks")
    with pytest.raises(StackError, match=r"^hatch.toml: field 'build.targets.venvstacks.spec'"):
        parse_target_options({"spec": ""}, where, env={})


def test_ci_can_demand_current_locks_over_the_project_option() -> None:
    assert parse_target_options({"lock": "if-stale"}, env={"PDM_STACK_LOCK": "never"}).lock == "never"
    with pytest.raises(StackError, match="PDM_STACK_LOCK must be one of never, if-stale"):
        parse_target_options({}, env={"PDM_STACK_LOCK": "sometimes"})


def hatchling_build(project: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    """The builder as Hatch runs it in its build environment (here: this test environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HATCH_", "PDM_STACK_"))}
    return subprocess.run(
        [sys.executable, "-m", "hatchling", "build", *(f"--target={target}" for target in targets)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_hatch_toml_options_are_read_and_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "hatch.toml").write_text('[build.targets.venvstacks]\nformat = "zip"\n')
    bad = hatchling_build(tmp_path, "venvstacks")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        "hatch.toml: field 'build.targets.venvstacks.format':"
        " must be one of tar.gz, tar.xz, tar.zst, not 'zip'"
    ]

    # `spec` is relative to the project, whatever the working folder of the build.
    (tmp_path / "hatch.toml").write_text('[build.targets.venvstacks]\nspec = "stacks/venvstacks.toml"\n')
    missing = hatchling_build(tmp_path, "venvstacks:lock")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == "stacks/venvstacks.toml: stack spec not found"
