"""Registration on the ``hatch`` entry-point group (``[project.entry-points.hatch]``)."""

from __future__ import annotations

from hatchling.plugin import hookimpl

from pdm_stack.hatch_plugin.builder import VenvstacksBuilder


@hookimpl
def hatch_register_builder() -> type[VenvstacksBuilder]:
    return VenvstacksBuilder
