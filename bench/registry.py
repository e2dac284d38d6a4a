"""A throw-away OCI registry for benchmarks: Debian's ``docker-registry`` on 127.0.0.1.

Its access log (one line per request, response size in the 10th field) tells how many bytes a
deployment really fetched. ``apt-get install docker-registry`` provides it; without it the
scenarios that need one note that and skip.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_BLOB_GET = re.compile(r'"GET /v2/\S+/blobs/(sha256:[0-9a-f]{64}) HTTP/[0-9.]+" 200 (\d+)')
_MANIFEST_GET = re.compile(r'"GET /v2/\S+/manifests/\S+ HTTP/[0-9.]+" 200 (\d+)')


@dataclass(frozen=True)
class Registry:
    host: str
    log: Path

    def mark(self) -> int:
        return self.log.stat().st_size

    def fetched(self, since: int) -> tuple[dict[str, int], int]:
        """Blob bytes by digest, and manifest bytes, served since ``since``."""
        time.sleep(0.2)  # the last response's line lands once it is complete
        with self.log.open("rb") as stream:
            stream.seek(since)
            text = stream.read().decode(errors="replace")
        blobs: dict[str, int] = {}
        for digest, size in _BLOB_GET.findall(text):
            blobs[digest] = blobs.get(digest, 0) + int(size)
        return blobs, sum(int(size) for size in _MANIFEST_GET.findall(text))


def available() -> bool:
    return shutil.which("docker-registry") is not None


@contextlib.contextmanager
def run_registry(folder: Path) -> Iterator[Registry]:
    folder.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = folder / "config.yml"
    config.write_text(
        "version: 0.1\nlog: {level: info, accesslog: {disabled: false}}\n"
        f"storage: {{filesystem: {{rootdirectory: {folder / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: bench-only}}\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=sink, stderr=sink)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}", log)
    finally:
        process.terminate()
        process.wait(timeout=10)
