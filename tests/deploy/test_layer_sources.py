"""Where layers come from: what a registry source writes into TARGET while fetching."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any

from pdm_stack.deploy.layer_sources import DOWNLOADS_DIR, RegistrySource

if TYPE_CHECKING:
    from pathlib import Path


class _Blobs:
    """A registry client serving one blob from memory (the transport is tested elsewhere)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.received = 0

    def open_blob(self, digest: str) -> io.BytesIO:
        return io.BytesIO(self.data)


def test_a_download_never_follows_a_symlink_planted_in_target(tmp_path: Path) -> None:
    blob = b"archive bytes" * 100
    sha256 = hashlib.sha256(blob).hexdigest()
    source = RegistrySource("oci://127.0.0.1:5000/stack:1")
    source.client = _Blobs(blob)  # type: ignore[assignment]
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    target = tmp_path / "target"
    downloads = target / DOWNLOADS_DIR
    downloads.mkdir(parents=True)
    (downloads / f".{sha256}.tar.gz.partial").symlink_to(outside)
    layer: dict[str, Any] = {
        "install_target": "rt",
        "archive_name": "rt.tar.gz",
        "archive_format": "tar.gz",
        "archive_size": len(blob),
        "archive_hashes": {"sha256": sha256},
    }
    archives = source.fetch([layer], target, lambda _: None)
    assert archives["rt"].read_bytes() == blob
    assert outside.read_text() == "not yours"
