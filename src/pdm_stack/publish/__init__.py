"""Publishing built layers as reproducible archives, and exporting them to a local folder.

Nothing here imports PDM: the ``pdm stack publish`` / ``pdm stack export`` commands are thin
adapters around :func:`publish_layers` and :func:`export_layers`.

The names below load with their module on first use: the front ends' option parsers, set up on
every ``pdm`` run, need :mod:`~pdm_stack.publish.formats` but not the compressors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.lazy_exports import lazy_attributes

if TYPE_CHECKING:
    from pdm_stack.publish.export import ExportResult, export_layers
    from pdm_stack.publish.formats import ARCHIVE_FORMATS, ArchiveFormat
    from pdm_stack.publish.publish import PublishOptions, PublishResult, publish_layers
    from pdm_stack.publish.publish_inputs import PublishLayer, plan_layers

__all__ = [
    "ARCHIVE_FORMATS",
    "ArchiveFormat",
    "ExportResult",
    "PublishLayer",
    "PublishOptions",
    "PublishResult",
    "export_layers",
    "plan_layers",
    "publish_layers",
]

_MODULES = {
    "ARCHIVE_FORMATS": "formats",
    "ArchiveFormat": "formats",
    "ExportResult": "export",
    "export_layers": "export",
    "PublishLayer": "publish_inputs",
    "plan_layers": "publish_inputs",
    "PublishOptions": "publish",
    "PublishResult": "publish",
    "publish_layers": "publish",
}


__getattr__ = lazy_attributes(__name__, _MODULES)
