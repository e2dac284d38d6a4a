"""Inheritance resolved by the graph: sys.path order, runtimes, platforms, indexes."""

from __future__ import annotations

from pathlib import Path

from pdm_stack.stack import open_stack
from pdm_stack.stack_spec import LayerKind
from tests.fixtures.specs import SpecWriter

DIAMOND = """
[[tool.venvstacks.frameworks]]
name = "base"
runtime = "cpython-3.11"
requirements = []

[[tool.venvstacks.frameworks]]
name = "left"
frameworks = ["base"]
requirements = []

[[tool.venvstacks.frameworks]]
name = "right"
frameworks = ["base"]
requirements = []

[[tool.venvstacks.frameworks]]
name = "top"
frameworks = ["left", "right"]
requirements = []
"""


def test_diamond_is_linearised_with_c3(write_spec: SpecWriter) -> None:
    graph = open_stack(write_spec(DIAMOND)).graph
    top = graph.get(LayerKind.FRAMEWORK, "top")
    assert top.depends_on == ("framework-left", "framework-right", "framework-base", "cpython-3.11")
    assert top.runtime == "cpython-3.11"
    assert graph.get(LayerKind.FRAMEWORK, "left").depends_on == ("framework-base", "cpython-3.11")


def test_declared_order_decides_between_unrelated_frameworks(write_spec: SpecWriter) -> None:
    graph = open_stack(
        write_spec(DIAMOND.replace('frameworks = ["left", "right"]', 'frameworks = ["right", "left"]'))
    ).graph
    assert graph.get(LayerKind.FRAMEWORK, "top").depends_on[:2] == ("framework-right", "framework-left")


def test_platforms_default_to_the_intersection_below(write_spec: SpecWriter) -> None:
    graph = open_stack(
        write_spec(
            """
            [[tool.venvstacks.runtimes]]
            name = "rt"
            python_implementation = "cpython@3.12"
            requirements = []
            platforms = ["linux_x86_64", "win_amd64", "macosx_arm64"]

            [[tool.venvstacks.frameworks]]
            name = "a"
            runtime = "rt"
            requirements = []
            platforms = ["linux_x86_64", "win_amd64"]

            [[tool.venvstacks.frameworks]]
            name = "b"
            runtime = "rt"
            requirements = []
            platforms = ["linux_x86_64", "macosx_arm64"]

            [[tool.venvstacks.frameworks]]
            name = "ab"
            frameworks = ["a", "b"]
            requirements = []

            [[tool.venvstacks.frameworks]]
            name = "off"
            runtime = "rt"
            requirements = []
            platforms = []
            """
        )
    ).graph
    assert graph.get(LayerKind.RUNTIME, "cpython-3.11").platforms == (
        "win_amd64",
        "win_arm64",
        "linux_x86_64",
        "linux_aarch64",
        "macosx_arm64",
        "macosx_x86_64",
    )
    assert graph.get(LayerKind.FRAMEWORK, "ab").platforms == ("linux_x86_64",)
    assert graph.get(LayerKind.FRAMEWORK, "off").platforms == ()


def test_package_indexes_are_inherited_and_overridable(write_spec: SpecWriter, app_modules: Path) -> None:
    path = write_spec(
        """
        [[tool.pdm.source]]
        name = "mirror"
        url = "https://example.invalid/simple"

        [[tool.venvstacks.frameworks]]
        name = "a"
        runtime = "cpython-3.11"
        requirements = []
        package_indexes = { torch = "pypi" }

        [[tool.venvstacks.frameworks]]
        name = "b"
        runtime = "cpython-3.11"
        requirements = []
        package_indexes = { torch = "mirror" }

        [[tool.venvstacks.frameworks]]
        name = "c"
        frameworks = ["a", "b"]
        requirements = []
        index_overrides = { pypi = "mirror" }

        [[tool.venvstacks.applications]]
        name = "app"
        frameworks = ["a"]
        requirements = []
        launch_module = "main.py"
        package_indexes = { attrs = "mirror" }
        """
    )
    graph = open_stack(path).graph
    assert graph.get(LayerKind.FRAMEWORK, "c").package_indexes == {"torch": "mirror"}
    assert graph.get(LayerKind.APPLICATION, "app").package_indexes == {"torch": "pypi", "attrs": "mirror"}
