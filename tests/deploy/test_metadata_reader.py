"""Deployment order of published layers: lower layers first, whatever order the metadata lists."""

from __future__ import annotations

import pytest

from pdm_stack.deploy.common import DeployError, human_size
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


def test_sizes_in_messages_use_the_unit_that_shows_them() -> None:
    """A 5 kB app archive once read "fetching 0.0 MB", as if nothing was fetched."""
    assert [human_size(size) for size in (0, 999, 1000, 4974, 75_123, 21_881_610, 2_500_000_000)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "5.0 kB",
        "75.1 kB",
        "21.9 MB",
        "2.5 GB",
    ]
