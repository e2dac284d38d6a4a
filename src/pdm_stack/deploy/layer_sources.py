"""Where the deployer gets published layers from: a folder, or an OCI registry.

A source says which layers are published (their metadata) and hands over a checked archive file
for each layer that must be deployed. The folder source checks the archives beside the
metadata; the registry source downloads only the blobs it must (a layer whose archive sha256 is
already deployed in TARGET is never fetched), into ``TARGET/__venvstacks__/downloads/``, checking
each against its digest as it arrives, and drops each one once its layer is deployed (an
interrupted deployment keeps the verified downloads for the next attempt). Sources are picked
by location in one place, :func:`open_source`. Standard library only (see ``common``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .archives import archive_format, check_archive
from .common import CHUNK, METADATA_DIR, DeployError, Layer, human_size, open_new
from .metadata_reader import checked_layer, dependency_order, load_metadata
from .oci_layout import INDEX_ARTIFACT, LAYER_ARTIFACT, LAYER_CONFIG
from .registry_client import DIGEST, OCI_INDEX, OCI_MANIFEST, RegistryClient, is_registry, parse_reference

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .registry_client import Credentials

DOWNLOADS_DIR = Path(METADATA_DIR, "downloads")


class LayerSource:
    """The interface: published layers, and their archives."""

    #: Shown in messages.
    where = ""
    #: Archives are downloaded into TARGET (so :meth:`fetch` runs with TARGET locked); a
    #: folder's are checked in place, before TARGET is even created.
    downloads = False

    def layers(self) -> list[Layer]:
        """Every published layer, checked, lower layers first."""
        raise NotImplementedError

    def fetch(self, layers: Sequence[Layer], target: Path, log: Callable[[str], None]) -> dict[str, Path]:
        """A checked archive file for each of ``layers`` (by install target), before any
        layer is unpacked."""
        raise NotImplementedError

    def deployed(self, layer: Layer, archive: Path) -> None:
        """``layer`` is in place: its archive is no longer needed."""


class FolderSource(LayerSource):
    """The output folder of ``pdm stack publish``: archives plus ``__venvstacks__/``."""

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = Path(artifacts).absolute()
        self.where = str(self.artifacts)

    def layers(self) -> list[Layer]:
        return load_metadata(self.artifacts)

    def fetch(self, layers: Sequence[Layer], target: Path, log: Callable[[str], None]) -> dict[str, Path]:
        return {layer["install_target"]: check_archive(self.artifacts, layer) for layer in layers}


class RegistrySource(LayerSource):
    """A stack pushed by ``pdm stack publish --to oci://...``: its index names the layers."""

    downloads = True

    def __init__(
        self, location: str, *, credentials: Credentials | None = None, insecure: bool = False
    ) -> None:
        reference = parse_reference(location)
        if reference.tag is None:
            raise DeployError(f"'{location}': name the stack to deploy with :TAG (or @sha256:...)")
        self.where = str(reference)
        self.client = RegistryClient(reference, credentials=credentials, insecure=insecure)

    def layers(self) -> list[Layer]:
        client = self.client
        tag = client.reference.tag
        assert tag is not None
        index = _json(client.manifest(tag, (OCI_INDEX,)), f"{self.where}: the stack index")
        if index.get("mediaType") != OCI_INDEX or index.get("artifactType") != INDEX_ARTIFACT:
            raise DeployError(f"{self.where}: not a pdm-stack stack (artifactType {INDEX_ARTIFACT})")
        found = []
        for entry in index.get("manifests") or []:
            digest = entry.get("digest") if isinstance(entry, dict) else None
            if not isinstance(digest, str) or not DIGEST.match(digest):
                raise DeployError(f"{self.where}: the stack index lists a manifest without a sha256 digest")
            found.append(self._layer(digest))
        if not found:
            raise DeployError(f"{self.where}: the stack index lists no layers")
        return dependency_order(found, where=self.where)

    def _layer(self, digest: str) -> Layer:
        where = f"{self.where}: manifest {digest}"
        manifest = _json(self.client.manifest(digest, (OCI_MANIFEST,)), where)
        config, blobs = manifest.get("config"), manifest.get("layers")
        if manifest.get("artifactType") != LAYER_ARTIFACT or not isinstance(config, dict):
            raise DeployError(f"{where}: not a pdm-stack layer (artifactType {LAYER_ARTIFACT})")
        if config.get("mediaType") != LAYER_CONFIG or not isinstance(blobs, list) or len(blobs) != 1:
            raise DeployError(f"{where}: expected a {LAYER_CONFIG} config and one archive blob")
        metadata = _json(self.client.read_blob(str(config.get("digest"))), f"{where}: config")
        layer = checked_layer(metadata, where, str(metadata.get("layer_kind", "")))
        blob = blobs[0] if isinstance(blobs[0], dict) else {}
        sha256 = layer["archive_hashes"]["sha256"]
        if blob.get("digest") != f"sha256:{sha256}" or blob.get("size") != layer["archive_size"]:
            raise DeployError(f"{where}: the archive blob does not match the layer's archive_hashes/size")
        return layer

    def fetch(self, layers: Sequence[Layer], target: Path, log: Callable[[str], None]) -> dict[str, Path]:
        downloads = target / DOWNLOADS_DIR
        downloads.mkdir(parents=True, exist_ok=True)
        archives = {}
        for layer in layers:
            name, sha256, size = (
                layer["install_target"],
                layer["archive_hashes"]["sha256"],
                layer["archive_size"],
            )
            path = downloads / f"{sha256}.{archive_format(layer)}"
            checked = dict(layer, archive_name=path.name)
            if path.is_file():
                # Verified by an earlier, interrupted attempt: used if it is still intact.
                try:
                    archives[name] = check_archive(downloads, checked)
                    continue
                except DeployError:
                    path.unlink()
            log(f"{name}: fetching {human_size(size)} from {self.where}")
            self._download(sha256, size, path)
            archives[name] = check_archive(downloads, checked)
        return archives

    def _download(self, sha256: str, size: int, path: Path) -> None:
        partial = path.with_name(f".{path.name}.partial")
        digest, received = hashlib.sha256(), 0
        try:
            with self.client.open_blob(f"sha256:{sha256}") as response, open_new(partial) as out:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    received += len(chunk)
                    if received > size:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            self.client.received += received
            if received != size or digest.hexdigest() != sha256:
                raise DeployError(
                    f"{self.where}: blob sha256:{sha256} does not match its digest (got"
                    f" {received} bytes, expected {size}): refusing a modified or truncated blob"
                )
            partial.replace(path)
        finally:
            with contextlib.suppress(OSError):
                partial.unlink()

    def deployed(self, layer: Layer, archive: Path) -> None:
        with contextlib.suppress(OSError):
            archive.unlink()
        with contextlib.suppress(OSError):
            archive.parent.rmdir()


def _json(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise DeployError(f"{where} is not JSON") from None
    if not isinstance(value, dict):
        raise DeployError(f"{where} is not a JSON object")
    return value


#: Registered sources by location prefix; anything else is a folder.
SOURCES: dict[str, Callable[..., LayerSource]] = {"oci://": RegistrySource}


def open_source(
    location: Path | str, *, credentials: Credentials | None = None, insecure: bool = False
) -> LayerSource:
    """The source for ``location``: ``oci://...`` is a registry, anything else a folder."""
    text = str(location)
    for prefix, source in SOURCES.items():
        if text.startswith(prefix):
            return source(text, credentials=credentials, insecure=insecure)
    if credentials is not None or insecure:
        raise DeployError(f"{text}: credentials and --insecure apply to registry locations only")
    return FolderSource(Path(location))


__all__ = ["FolderSource", "LayerSource", "RegistrySource", "is_registry", "open_source"]
