"""Lock pieces that need neither uv nor the network: platform names, messages, merging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pdm_stack.errors import StackError
from pdm_stack.lock.layer_lock import LockInputs, other_inputs, other_inputs_hash
from pdm_stack.lock.platforms import platforms_marker, uv_python_platform
from pdm_stack.lock.pylock import merge_resolutions, parse_pylock, render_pylock
from pdm_stack.lock.uv_compile import UvFailure, compile_command, explain_failure
from pdm_stack.stack_spec.field_values import glibc_floor


def test_uv_platform_names() -> None:
    assert uv_python_platform("linux_x86_64") == "x86_64-manylinux_2_28"
    assert uv_python_platform("linux_aarch64", glibc_floor("glibc@2.34")) == "aarch64-manylinux_2_34"
    assert uv_python_platform("macosx_arm64") == "aarch64-apple-darwin"
    assert uv_python_platform("win_amd64") == "x86_64-pc-windows-msvc"
    with pytest.raises(ValueError, match=r"expected 'glibc' or 'glibc@X\.Y'"):
        glibc_floor("musl")


def test_marker_only_for_platform_subsets() -> None:
    both = ("win_amd64", "linux_x86_64")
    assert platforms_marker(both, both) is None
    assert platforms_marker(("win_amd64",), both) == "sys_platform == 'win32' and platform_machine == 'AMD64'"


def test_platform_tag_failure_names_package_and_platform() -> None:
    stderr = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because only tiny==1.0 is available and tiny==1.0 has no wheels with a matching"
        " platform tag (e.g., `win_amd64`), we can conclude that tiny cannot be used.\n"
    )
    error = explain_failure("app 'x'", UvFailure("win_amd64", 1, stderr), {})
    assert str(error).startswith(
        "app 'x': field 'requirements': no wheel of 'tiny' is available for platform win_amd64"
    )
    assert "matching platform tag" in error.details


def test_a_package_without_wheels_inside_a_conflict_is_not_the_cause() -> None:
    # uv 0.13's report for requests>=2.31 with urllib3<1 (two requests releases have no wheels).
    stderr = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because requests>=2.33.0 depends on urllib3>=1.26,<3 and all of:\n"
        "             requests==2.31.0\n"
        "             requests>=2.32.2,<=2.32.5\n"
        "         depend on urllib3>=1.21.1,<3, we can conclude that all of:\n"
        "             requests==2.31.0\n"
        "             requests>=2.32.2\n"
        "         depend on urllib3>=1.21.1,<3.\n"
        "         And because requests>=2.32.0,<=2.32.1 has no usable wheels, we can conclude that"
        " requests>=2.32.0,<=2.32.1 depends on urllib3>=1.21.1,<3.\n"
        "         And because pdm-stack-layer-input depends on requests>=2.31 and urllib3<1, we can"
        " conclude that your requirements are unsatisfiable.\n"
    )
    error = explain_failure("app 'x'", UvFailure("win_amd64", 1, stderr), {})
    assert str(error) == (
        "app 'x': field 'requirements': requirements conflict on win_amd64: the requirements on requests"
        " and urllib3 cannot all be met together (the layer requires requests>=2.31 and urllib3<1)"
    )


def test_a_package_with_no_wheel_at_all_is_a_missing_wheel() -> None:
    stderr = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because all versions of docopt have no usable wheels and pdm-stack-layer-input"
        " depends on docopt, we can conclude that your requirements are unsatisfiable.\n"
    )
    error = explain_failure("app 'x'", UvFailure("linux_x86_64", 1, stderr), {})
    assert "no wheel of 'docopt' is available for platform linux_x86_64" in str(error)


def wheel(url: str) -> dict[str, Any]:
    return {"url": url, "size": 1, "hashes": {"sha256": "00"}}


def test_merge_unions_platforms_strips_credentials_and_moves_lower_packages() -> None:
    platforms = ("win_amd64", "linux_x86_64")
    resolutions: dict[str, dict[str, Any]] = {
        "win_amd64": {
            "packages": [
                {
                    "name": "Six",
                    "version": "1.0",
                    "wheels": [wheel("https://u:secret@h/six-1.0-py3-none-any.whl")],
                },
                {
                    "name": "colorama",
                    "version": "0.4",
                    "marker": "sys_platform == 'win32'",
                    "wheels": [wheel("https://h/colorama-0.4-py3-none-any.whl")],
                },
                {"name": "attrs", "version": "25.1", "wheels": []},
            ]
        },
        "linux_x86_64": {
            "packages": [
                {"name": "six", "version": "1.0", "wheels": [wheel("https://h/six-1.0-py2.py3-none-any.whl")]}
            ]
        },
    }
    pins = {"win_amd64": {"attrs": ("25.1", "framework-a")}}
    lock = merge_resolutions("app-x", "3.12", platforms, resolutions, pins)
    assert [(p.name, p.platforms) for p in lock.packages] == [
        ("colorama", ("win_amd64",)),
        ("six", platforms),
    ]
    assert [w["url"] for w in lock.packages[1].wheels] == [
        "https://h/six-1.0-py2.py3-none-any.whl",
        "https://h/six-1.0-py3-none-any.whl",
    ]
    assert [(i.name, i.layer, i.platforms) for i in lock.inherited] == [
        ("attrs", "framework-a", ("win_amd64",))
    ]
    text = render_pylock(lock)
    assert "secret" not in text
    assert parse_pylock(text) == lock
    assert render_pylock(parse_pylock(text)) == text


def test_a_lock_that_is_not_pep_751_is_refused_by_the_standard_reader() -> None:
    text = '[[packages]]\nname = "six"\nversion = "1.0"\n[tool.pdm-stack]\nlayer = "x"\n'
    with pytest.raises(ValueError, match="not a valid PEP 751 lock"):
        parse_pylock(text)


def test_merge_rejects_a_version_other_than_the_lower_pin() -> None:
    resolutions = {"linux_x86_64": {"packages": [{"name": "attrs", "version": "24.1", "wheels": []}]}}
    with pytest.raises(StackError, match=r"framework-a provides 25\.1"):
        merge_resolutions(
            "app-x",
            "3.12",
            ("linux_x86_64",),
            resolutions,
            {"linux_x86_64": {"attrs": ("25.1", "framework-a")}},
        )


def test_unreachable_index_failure_names_the_index_not_the_credentials() -> None:
    stderr = (
        "error: Request failed after 3 retries\n"
        "  cause: Failed to fetch: `https://bob:hunter2@corp.example/simple/attrs/`\n"
        "  cause: Connection refused (os error 111)\n"
    )
    error = explain_failure(
        "app 'x'", UvFailure("linux_x86_64", 2, stderr), {}, indexes={"https://corp.example/simple": "corp"}
    )
    assert str(error) == (
        "app 'x': index 'corp' (https://corp.example/simple) is unreachable:"
        " Connection refused (os error 111); check the URL, the network or `pdm config`"
    )
    assert "hunter2" not in error.details and "://***@corp.example" in error.details


def test_uv_resolver_settings_reach_uv_and_count_as_lock_inputs(tmp_path: Path) -> None:
    options = {"prerelease": "allow", "index_strategy": "unsafe-best-match"}
    command = compile_command(
        "uv",
        tmp_path / "pyproject.toml",
        python_version="3.12",
        python_platform="x86_64-manylinux_2_28",
        output_file=tmp_path / "pylock.toml",
        uv_options=options,
        overrides_file=tmp_path / "overrides.txt",
    )
    joined = " ".join(command)
    assert "--prerelease allow" in joined and "--index-strategy unsafe-best-match" in joined
    assert f"--overrides {tmp_path / 'overrides.txt'}" in joined
    plain = LockInputs("app-x", ("six",), "3.12", ("linux_x86_64",))
    tuned = LockInputs("app-x", ("six",), "3.12", ("linux_x86_64",), uv_options=options)
    assert other_inputs_hash(plain) != other_inputs_hash(tuned)
    assert "uv" not in other_inputs(plain)  # locks made without uv settings keep their hash


def test_lower_layer_pins_are_named_as_pins_not_as_what_the_layer_requires() -> None:
    stderr = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because pdm-stack-layer-input depends on attrs>=24 and attrs==23.1.0, we can conclude"
        " that your requirements are unsatisfiable.\n"
    )
    error = explain_failure(
        "app 'x'", UvFailure("linux_x86_64", 1, stderr), {"attrs": "23.1.0"}, {"attrs": "framework-base"}
    )
    assert str(error).endswith(
        "no version of attrs satisfies every requirement (the layer requires attrs>=24);"
        " pinned by lower layers: attrs==23.1.0 (from framework-base)"
    )
