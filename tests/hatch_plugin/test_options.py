"""The venvstacks target's options: defaults, and one error line naming the file and option."""

from __future__ import annotations

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
