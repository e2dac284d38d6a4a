"""Pushing a published stack (an output folder) to an OCI registry, in the layout of
:mod:`pdm_stack.deploy.oci_layout`.

Every blob is looked up by digest before it is sent, so a layer already in the registry (the
same archive bytes, from any earlier publish or another stack sharing it) costs one ``HEAD``.
Manifests are written in dependency order and the stack index last: whoever reads the index
finds every layer it names. Archives are checked against their metadata before they are sent,
so a file changed since it was published is refused, never pushed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pdm_stack.deploy.archives import archive_format, check_archive
from pdm_stack.deploy.common import human_size
from pdm_stack.deploy.metadata_reader import load_metadata, select_layers
from pdm_stack.deploy.oci_layout import (
    ANNOTATION_INSTALL_TARGET,
    ANNOTATION_KIND,
    ANNOTATION_NAME,
    ANNOTATION_NEEDS,
    ANNOTATION_TITLE,
    ANNOTATION_VERSION,
    ARCHIVE_MEDIA_TYPES,
    INDEX_ARTIFACT,
    LAYER_ARTIFACT,
    LAYER_CONFIG,
    config_bytes,
    layer_annotations,
    layer_tags,
)
from pdm_stack.deploy.registry_client import OCI_INDEX, OCI_MANIFEST
from pdm_stack.publish.published_metadata import metadata_path, write_json

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.deploy.common import Layer
    from pdm_stack.deploy.registry_client import RegistryClient
    from pdm_stack.publish.publish import PublishOptions
    from pdm_stack.publish.publish_inputs import PublishLayer
    from pdm_stack.reporting import Reporter


@dataclass(frozen=True)
class PushedLayer:
    layer_name: str
    install_target: str
    #: The archive blob's digest and size.
    digest: str
    size: int
    #: False when the registry already had the archive blob (nothing was sent).
    uploaded: bool
    manifest_digest: str
    manifest_size: int
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PushResult:
    #: ``oci://HOST/REPOSITORY:TAG`` of the stack index.
    stack: str
    index_digest: str
    layers: list[PushedLayer]


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _ensure_blob(client: RegistryClient, digest: str, body: bytes | Path) -> bool:
    """Upload unless the registry has it; whether it was uploaded."""
    if client.blob_exists(digest):
        return False
    client.upload_blob(digest, body)
    return True


def _push_layer(client: RegistryClient, output_dir: Path, layer: Layer) -> PushedLayer:
    archive = check_archive(output_dir, layer)
    digest, size = f"sha256:{layer['archive_hashes']['sha256']}", int(layer["archive_size"])
    uploaded = _ensure_blob(client, digest, archive)
    config = config_bytes(layer)
    _ensure_blob(client, _digest(config), config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": LAYER_ARTIFACT,
        "config": {"mediaType": LAYER_CONFIG, "digest": _digest(config), "size": len(config)},
        "layers": [
            {
                "mediaType": ARCHIVE_MEDIA_TYPES[archive_format(layer)],
                "digest": digest,
                "size": size,
                "annotations": {ANNOTATION_TITLE: str(layer["archive_name"])},
            }
        ],
        "annotations": layer_annotations(layer),
    }
    data = _canonical(manifest)
    tags = layer_tags(layer)
    for tag in tags:
        client.put_manifest(tag, data, OCI_MANIFEST)
    return PushedLayer(
        str(layer["layer_name"]),
        str(layer["install_target"]),
        digest,
        size,
        uploaded,
        _digest(data),
        len(data),
        tags,
    )


def seed_build_numbers(
    client: RegistryClient, layers: Sequence[PublishLayer], options: PublishOptions
) -> None:
    """Continue the registry's build numbers when the output folder does not know a layer.

    Build numbers live in the output folder's metadata; a fresh folder (a CI runner without a
    cache) would restart at 1 and give the registry's ``...-1`` tag to other bytes. So the
    latest metadata the registry has for the layer (its ``<install target>-<platform>`` tag)
    becomes the folder's previous metadata: the same archive keeps its number, another gets
    the next one.
    """
    for layer in layers:
        path = metadata_path(options.output_dir, layer.kind, layer.env_name)
        if path.exists():
            continue
        facts = {"install_target": layer.install_target, "target_platform": options.target_platform}
        latest = client.find_manifest(layer_tags({**facts, "archive_build": 0})[0])
        if latest is None:
            continue
        try:
            config = json.loads(latest)["config"]
            metadata = json.loads(client.read_blob(str(config["digest"])))
            build = int(metadata["archive_build"])
        except (ValueError, KeyError, TypeError):
            continue  # not ours, or unreadable: start afresh
        if build > 0:
            write_json(path, metadata)


def push_stack(client: RegistryClient, output_dir: Path, tag: str, reporter: Reporter) -> PushResult:
    """Push every layer published in ``output_dir``, then the stack index tagged ``tag``."""
    layers = load_metadata(output_dir)
    pushed: list[PushedLayer] = []
    entries = []
    where = f"{client.host}/{client.repository}"
    with reporter.step(f"Pushing {len(layers)} layer(s) to {where}"):
        for layer in layers:
            result = _push_layer(client, output_dir, layer)
            state = "uploaded" if result.uploaded else "already present"
            reporter.info(f"{result.install_target}: {state} ({human_size(result.size)}, {result.tags[-1]})")
            pushed.append(result)
            needs = [lower["install_target"] for lower in select_layers(layers, [layer["install_target"]])]
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "artifactType": LAYER_ARTIFACT,
                    "digest": result.manifest_digest,
                    "size": result.manifest_size,
                    "annotations": {
                        ANNOTATION_NAME: str(layer["layer_name"]),
                        ANNOTATION_KIND: str(layer["layer_kind"]),
                        ANNOTATION_INSTALL_TARGET: str(layer["install_target"]),
                        ANNOTATION_NEEDS: ",".join(needs),
                    },
                }
            )
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "artifactType": INDEX_ARTIFACT,
        "manifests": entries,
        "annotations": {ANNOTATION_VERSION: tag},
    }
    data = _canonical(index)
    client.put_manifest(tag, data, OCI_INDEX)
    return PushResult(f"oci://{where}:{tag}", _digest(data), pushed)
