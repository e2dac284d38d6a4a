"""The published metadata under ``<output>/__venvstacks__/`` (venvstacks field names).

Each layer has its own JSON file, written only after its archive is in place; the combined
``venvstacks.json`` is regenerated from the per-layer files whose archive exists, so metadata
never names an archive that is not there, even after an interrupted or partial publish.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pdm_stack.atomic_files import write_atomically
from pdm_stack.stack_spec.model import LayerKind

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.publish.formats import ArchiveFormat
    from pdm_stack.publish.publish_inputs import PublishLayer

METADATA_DIR = "__venvstacks__"
COMBINED_NAME = "venvstacks.json"
_KIND_DIRS = {kind: kind.table for kind in LayerKind}


def metadata_path(output_dir: Path, kind: LayerKind, env_name: str) -> Path:
    return output_dir / METADATA_DIR / _KIND_DIRS[kind] / f"{env_name}.json"


def layer_metadata(
    layer: PublishLayer,
    *,
    archive_build: int,
    archive_name: str,
    archive_format: ArchiveFormat,
    target_platform: str,
    archive_size: int,
    archive_sha256: str,
    archive_unpacked_size: int | None = None,
) -> dict[str, Any]:
    """The per-layer dict: the fields of the publish contract, plus ``archive_unpacked_size``."""
    data: dict[str, Any] = {
        "layer_name": layer.env_name,
        "layer_kind": layer.kind.value,
        "install_target": layer.install_target,
        "requirements_hash": layer.requirements_hash,
        "lock_version": layer.lock_version,
        "locked_at": layer.locked_at,
        "runtime_layer": layer.runtime_target,
        "python_implementation": layer.python_implementation,
        "bound_to_implementation": layer.bound_to_implementation,
        "required_layers": list(layer.required_layers),
    }
    if layer.kind is LayerKind.APPLICATION:
        data["app_launch_module"] = layer.launch_module
        data["app_launch_module_hash"] = layer.launch_module_hash()
    data.update(
        archive_build=archive_build,
        archive_name=archive_name,
        archive_format=archive_format,
        target_platform=target_platform,
        archive_size=archive_size,
        archive_hashes={"sha256": archive_sha256},
    )
    if archive_unpacked_size is not None:
        # A pdm-stack extra (venvstacks ignores fields it does not know): the size of the
        # uncompressed tar stream, which bounds how far the deployer lets the archive expand.
        data["archive_unpacked_size"] = archive_unpacked_size
    return data


def read_metadata(path: Path) -> dict[str, Any] | None:
    """A previously published layer's metadata; unreadable files count as absent."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: readers see the old or the new file, whole."""
    write_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_combined(output_dir: Path) -> dict[str, Any]:
    """Regenerate ``venvstacks.json`` from the per-layer files whose archive is present."""
    layers: dict[str, list[dict[str, Any]]] = {}
    for kind_dir in _KIND_DIRS.values():
        entries = []
        folder = output_dir / METADATA_DIR / kind_dir
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            data = read_metadata(path)
            if data is not None and (output_dir / str(data.get("archive_name", ""))).is_file():
                entries.append(data)
        layers[kind_dir] = entries
    combined = {"layers": layers}
    write_json(output_dir / METADATA_DIR / COMBINED_NAME, combined)
    return combined
