"""Publishing built layers as reproducible archives, and exporting them to a local folder.

Nothing here imports PDM: the ``pdm stack publish`` / ``pdm stack export`` commands are thin
adapters around :func:`publish_layers` and :func:`export_layers`.
"""

from pdm_stack.publish.archive import ARCHIVE_FORMATS, ArchiveFormat
from pdm_stack.publish.export import ExportResult, export_layers
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
