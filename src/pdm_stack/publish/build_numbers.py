"""Build numbers, and knowing when a layer need not be archived again.

``archive_build`` is a promise to consumers: the same number means the same archive bytes. It
increases only when the freshly written archive's sha256 differs from the one recorded in the
output dir's previous metadata (so a rebuild that changed nothing keeps its number).

Compressing a large layer just to learn that nothing changed would be slow, so each publish also
records a fingerprint of its inputs (file identities and sizes, lock facts, format, tool
versions) in the build state. When the fingerprint, the previous metadata and the archive on disk
all still match, the layer is skipped without reading a single file.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pdm_stack.atomic_files import write_atomically
from pdm_stack.building.staging import state_dir
from pdm_stack.publish import compressors

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.publish.filters import Member
    from pdm_stack.publish.publish_inputs import PublishLayer

#: Bump whenever the archive writer's output for the same input changes.
WRITER_VERSION = 2


def _tool_versions() -> dict[str, str]:
    try:
        import zstandard

        zstd = str(zstandard.ZSTD_VERSION)
    except ImportError:  # pragma: no cover - zstandard is a dependency
        zstd = ""
    # liblzma has no version accessor in the stdlib; the Python build stands in for it.
    return {"zlib": zlib.ZLIB_RUNTIME_VERSION, "python": sys.version, "zstd": zstd}


def fingerprint(
    layer: PublishLayer,
    members: Sequence[Member],
    *,
    archive_format: str,
    postinstall: bytes,
    naming: str,
) -> str:
    """Hash of everything that determines the archive and its metadata (``naming``: tag settings)."""
    digest = hashlib.sha256()
    header = {
        "writer": WRITER_VERSION,
        "format": archive_format,
        "levels": [compressors.GZIP_LEVEL, compressors.XZ_PRESET, compressors.ZSTD_LEVEL],
        "chunks": [compressors.GZIP_CHUNK, compressors.XZ_CHUNK, compressors.XZ_DICT],
        "tools": _tool_versions(),
        "postinstall": hashlib.sha256(postinstall).hexdigest(),
        "naming": naming,
        "layer": {k: str(v) for k, v in asdict(layer).items() if k != "folder"},
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for m in members:
        digest.update(
            f"{m.relpath}\0{m.kind}\0{m.size}\0{m.executable:d}\0{m.link_target}\0{m.stamp}\n".encode(
                "utf-8", "surrogateescape"
            )
        )
    return digest.hexdigest()


@dataclass(frozen=True)
class PublishState:
    """What the last publish of a layer wrote, kept in the build state (never published)."""

    fingerprint: str
    output_dir: str
    archive_name: str
    sha256: str
    #: ``(size, mtime_ns)`` of the archive file right after it was written.
    archive_stat: tuple[int, int]

    @staticmethod
    def path(build_dir: Path, install_target: str) -> Path:
        return state_dir(build_dir) / "publish" / f"{install_target}.json"

    def write(self, build_dir: Path, install_target: str) -> None:
        write_atomically(
            self.path(build_dir, install_target), json.dumps(asdict(self), sort_keys=True) + "\n"
        )

    @classmethod
    def read(cls, build_dir: Path, install_target: str) -> PublishState | None:
        try:
            data = json.loads(cls.path(build_dir, install_target).read_text(encoding="utf-8"))
            data["archive_stat"] = tuple(data["archive_stat"])
            return cls(**data)
        except (OSError, ValueError, TypeError, KeyError):
            return None


def unchanged(
    state: PublishState | None, wanted: str, output_dir: Path, previous: dict[str, Any] | None
) -> bool:
    """True when the last publish into ``output_dir`` had the same inputs and is still intact."""
    if state is None or previous is None or state.fingerprint != wanted:
        return False
    if state.output_dir != str(output_dir.resolve()) or previous.get("archive_name") != state.archive_name:
        return False
    if _sha256_of(previous) != state.sha256:
        return False
    try:
        info = (output_dir / state.archive_name).stat()
    except OSError:
        return False
    return (info.st_size, info.st_mtime_ns) == state.archive_stat


def next_build(previous: dict[str, Any] | None, sha256: str) -> int:
    """The build number for an archive with this sha256, given the previous metadata."""
    if previous is None:
        return 1
    try:
        build = int(previous.get("archive_build", 0))
    except (TypeError, ValueError):
        build = 0
    if build >= 1 and _sha256_of(previous) == sha256:
        return build
    return build + 1


def _sha256_of(metadata: dict[str, Any]) -> str | None:
    hashes = metadata.get("archive_hashes")
    return str(hashes.get("sha256")) if isinstance(hashes, dict) else None
