"""Deployment order of published layers: lower layers first, whatever order the metadata lists."""

from __future__ import annotations

import pytest

from pdm_stack.deploy.common import DeployError
from pdm_stack.deploy.metadata_reader import dependency_order


def layer(target: str, kind: str, required: list[str]) -> dict[str, object]:
    return {"install_target": target, "layer_kind": kind, "runtime_layer": "rt", "required_layers": required}


def test_lower_layers_come_first() -> None:
    layers = [
        layer("app", "application", ["ml", "base"]),
        layer("ml", "framework", ["base"]),
        layer("base", "framework", []),
        layer("rt", "runtime", []),
    ]
    order = [item["install_target"] for item in dependency_order(layers)]
    assert order.index("rt") < order.index("base") < order.index("ml") < order.index("app")


def test_layers_requiring_each_other_are_named() -> None:
    layers = [layer("a", "framework", ["b"]), layer("b", "framework", ["a"]), layer("rt", "runtime", [])]
    with pytest.raises(DeployError, match=r"layers require each other: (a -> b -> a|b -> a -> b)"):
        dependency_order(layers)


def test_a_missing_lower_layer_is_named() -> None:
    with pytest.raises(DeployError, match="app requires layer 'fw', which is not published here"):
        dependency_order([layer("app", "application", ["fw"]), layer("rt", "runtime", [])])
