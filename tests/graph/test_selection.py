from __future__ import annotations

import pytest

from pdm_stack.errors import StackError
from pdm_stack.graph import select_layers
from pdm_stack.stack import open_stack
from tests.fixtures.specs import SpecWriter
from tests.graph.test_layer_graph import DIAMOND


def _names(layers: list) -> list[str]:  # type: ignore[type-arg]
    return [layer.env_name for layer in layers]


def test_no_pattern_selects_everything_in_stack_order(write_spec: SpecWriter) -> None:
    graph = open_stack(write_spec(DIAMOND)).graph
    assert _names(select_layers(graph)) == [layer.env_name for layer in graph]


def test_globs_match_spec_and_env_names(write_spec: SpecWriter) -> None:
    graph = open_stack(write_spec(DIAMOND)).graph
    assert _names(select_layers(graph, ["l*"])) == ["framework-left"]
    assert _names(select_layers(graph, ["framework-r*", "cpython-*"])) == ["cpython-3.11", "framework-right"]


def test_dependencies_and_derived_layers(write_spec: SpecWriter) -> None:
    graph = open_stack(write_spec(DIAMOND)).graph
    assert _names(select_layers(graph, ["left"], include_dependencies=True)) == [
        "cpython-3.11",
        "framework-base",
        "framework-left",
    ]
    assert _names(select_layers(graph, ["left"], include_derived=True)) == ["framework-left", "framework-top"]
    assert _names(select_layers(graph, ["base"], include_derived=True, include_dependencies=True)) == [
        "cpython-3.11",
        "framework-base",
        "framework-left",
        "framework-right",
        "framework-top",
    ]


def test_pattern_matching_nothing_is_an_error(write_spec: SpecWriter) -> None:
    graph = open_stack(write_spec(DIAMOND)).graph
    with pytest.raises(StackError, match="--include 'nomatch' matches no layer"):
        select_layers(graph, ["nomatch"])
