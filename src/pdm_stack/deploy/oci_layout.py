"""How a published stack is laid out in an OCI registry (documented in docs/distribution.md).

Each layer is one OCI artifact manifest: its archive is the single blob, its published metadata
(the venvstacks per-layer JSON) is the config blob, and annotations repeat the facts other tools
want without fetching the config. A stack is an OCI image index listing the layer manifests,
each entry annotated with the layers it needs. Publishing (pdm-stack) writes this layout and
the deployers read it, so both take the names from here. Standard library only (see ``common``).
"""

from __future__ import annotations

import json
import re
from typing import Any

VENDOR = "application/vnd.pdm-stack"
#: ``artifactType`` of a layer manifest and of a stack index.
LAYER_ARTIFACT = f"{VENDOR}.layer.v1"
INDEX_ARTIFACT = f"{VENDOR}.stack.v1"
#: Media type of the config blob: the layer's published metadata JSON.
LAYER_CONFIG = f"{VENDOR}.layer.config.v1+json"
#: Media type of the archive blob, by archive format.
ARCHIVE_MEDIA_TYPES = {
    "tar.gz": f"{VENDOR}.layer.v1.tar+gzip",
    "tar.xz": f"{VENDOR}.layer.v1.tar+xz",
    "tar.zst": f"{VENDOR}.layer.v1.tar+zstd",
}

PREFIX = "dev.pdm-stack"
ANNOTATION_NAME = f"{PREFIX}.layer.name"
ANNOTATION_KIND = f"{PREFIX}.layer.kind"
ANNOTATION_INSTALL_TARGET = f"{PREFIX}.layer.install-target"
ANNOTATION_PLATFORM = f"{PREFIX}.layer.platform"
ANNOTATION_BUILD = f"{PREFIX}.layer.build"
ANNOTATION_LOCK_VERSION = f"{PREFIX}.layer.lock-version"
#: On index entries: the install targets the layer needs, itself last, in deployment order.
ANNOTATION_NEEDS = f"{PREFIX}.layer.needs"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_VERSION = "org.opencontainers.image.version"

_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def layer_tags(layer: dict[str, Any]) -> tuple[str, str]:
    """``<install target>-<platform>`` (the latest build) and ``...-<build number>``.

    Characters tags may not hold (the ``@`` of versioned layers) become ``_``.
    """
    base = _TAG_UNSAFE.sub("_", f"{layer['install_target']}-{layer['target_platform']}")
    return base, f"{base}-{layer['archive_build']}"


def config_bytes(layer: dict[str, Any]) -> bytes:
    """The config blob: the metadata in one canonical form, so an unchanged layer has the same
    digest in every publish."""
    return json.dumps(layer, sort_keys=True, separators=(",", ":")).encode()


def layer_annotations(layer: dict[str, Any]) -> dict[str, str]:
    return {
        ANNOTATION_NAME: str(layer["layer_name"]),
        ANNOTATION_KIND: str(layer["layer_kind"]),
        ANNOTATION_INSTALL_TARGET: str(layer["install_target"]),
        ANNOTATION_PLATFORM: str(layer["target_platform"]),
        ANNOTATION_BUILD: str(layer["archive_build"]),
        ANNOTATION_LOCK_VERSION: str(layer.get("lock_version", "")),
    }
