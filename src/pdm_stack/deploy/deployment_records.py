"""What a deployment leaves in TARGET about itself: per-layer records and the deployment lock.

``TARGET/__venvstacks__/deployed/<install target>.json`` keeps each deployed layer's metadata,
the sha256 of the archive it came from and a sha256 of every unpacked file. Deploying again
compares archive hashes with these records to skip layers already in place, and
``pdm stack verify`` compares the files with them. The lock keeps two deployments into one
TARGET from interleaving. Standard library only (see ``common``).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import METADATA_DIR, Layer, replace_file

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Deployment records, inside TARGET but never inside a layer folder.
DEPLOYED_DIR = Path(METADATA_DIR, "deployed")
RECORD_FORMAT = 1


def record_path(target: Path, install_target: str) -> Path:
    return target / DEPLOYED_DIR / f"{install_target}.json"


def read_records(target: Path) -> dict[str, dict[str, Any]]:
    """The deployment records in TARGET by install target (unreadable ones are ignored)."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((target / DEPLOYED_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("layer"), dict):
            records[path.name[: -len(".json")]] = record
    return records


def write_record(target: Path, install_target: str, data: dict[str, Any]) -> None:
    """Write a layer's record (temp file + rename: a reader sees the old or the new record)."""
    path = record_path(target, install_target)
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def is_deployed(target: Path, layer: Layer, records: dict[str, dict[str, Any]]) -> bool:
    record = records.get(layer["install_target"])
    return (
        record is not None
        and record.get("archive_sha256") == layer["archive_hashes"]["sha256"]
        and (target / layer["install_target"]).is_dir()
    )


def lock_path(target: Path) -> Path:
    """The lock file of TARGET, shared with ``pdm stack export`` (which locks it with filelock)."""
    return target / METADATA_DIR / "deploy.lock"


@contextlib.contextmanager
def target_lock(target: Path) -> Iterator[None]:
    """One deployment at a time per TARGET (POSIX advisory lock; none where unsupported)."""
    path = lock_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
