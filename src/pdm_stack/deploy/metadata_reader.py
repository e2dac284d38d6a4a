"""Reading the published metadata and choosing the layers to deploy.

Everything the deployer later uses as a path or runs comes from this metadata, so it is checked
here, before TARGET is touched: names must be plain names, archive facts (size, sha256) must be
present, and a runtime's interpreter must lie inside its own layer. Layers come back lower
layers first, which is the order they must be deployed in. Standard library only (see ``common``).
"""

from __future__ import annotations

import graphlib
import re
from typing import TYPE_CHECKING, Any

from .common import ABSOLUTE, METADATA_DIR, PLAIN_NAME, DeployError, Layer, read_json

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

COMBINED_METADATA = "venvstacks.json"
#: Per-kind metadata folders and the layer kind they hold, lowest layers first.
KIND_FOLDERS = (("runtimes", "runtime"), ("frameworks", "framework"), ("applications", "application"))


def checked_layer(layer: Any, source: Path | str, kind: str) -> Layer:
    """A layer entry whose names are safe to use as paths and whose archive facts are present."""
    if not isinstance(layer, dict):
        raise DeployError(f"{source}: a layer entry is not a JSON object")
    kind = layer.get("layer_kind") or kind
    if kind == "runtime" and not layer.get("runtime_layer"):
        layer = dict(layer, runtime_layer=layer.get("install_target"))
    for key in ("layer_name", "install_target", "archive_name", "runtime_layer"):
        if not isinstance(layer.get(key), str) or not PLAIN_NAME.match(layer[key]):
            raise DeployError(f"{source}: field '{key}' is missing or not a plain name")
    name = layer["install_target"]
    hashes = layer.get("archive_hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise DeployError(f"{source}: {name}: field 'archive_hashes' has no sha256")
    if not isinstance(layer.get("archive_size"), int):
        raise DeployError(f"{source}: {name}: field 'archive_size' is missing")
    unpacked = layer.get("archive_unpacked_size")  # pdm-stack's extra field; optional
    if unpacked is not None and (not isinstance(unpacked, int) or isinstance(unpacked, bool) or unpacked < 0):
        raise DeployError(f"{source}: {name}: field 'archive_unpacked_size' must be a number of bytes")
    required = layer.get("required_layers") or []
    if not isinstance(required, list) or not all(
        isinstance(r, str) and PLAIN_NAME.match(r) for r in required
    ):
        raise DeployError(f"{source}: {name}: field 'required_layers' must list plain names")
    interpreter = layer.get("bound_to_implementation")
    if kind == "runtime" and interpreter is not None and not _inside_layer(interpreter):
        # Post-install runs this file: it must lie inside the runtime layer's own folder.
        raise DeployError(
            f"{source}: {name}: field 'bound_to_implementation' must be a relative path inside the layer"
        )
    return dict(layer, layer_kind=kind, required_layers=required)


def _inside_layer(relative: Any) -> bool:
    """A ``/``-separated path that stays inside the folder it is relative to."""
    if not isinstance(relative, str) or not relative or ABSOLUTE.match(relative):
        return False
    return not any(part in ("", ".", "..") or "\\" in part for part in relative.split("/"))


def load_metadata(artifacts: Path) -> list[Layer]:
    """Every published layer, lower layers first; from ``venvstacks.json`` or per-layer files."""
    meta_dir = artifacts / METADATA_DIR
    combined = meta_dir / COMBINED_METADATA
    found: list[Layer] = []
    if combined.is_file():
        groups = read_json(combined)
        groups = groups.get("layers") if isinstance(groups, dict) else None
        if not isinstance(groups, dict):
            raise DeployError(f"{combined}: no 'layers' table")
        for folder, kind in KIND_FOLDERS:
            found.extend(checked_layer(layer, combined, kind) for layer in groups.get(folder) or [])
    else:
        for folder, kind in KIND_FOLDERS:
            files = sorted((meta_dir / folder).glob("*.json"))
            found.extend(checked_layer(read_json(path), path, kind) for path in files)
    if not found:
        raise DeployError(f"{artifacts}: no published layers (no {METADATA_DIR}/{COMBINED_METADATA})")
    return dependency_order(found, where=str(combined if combined.is_file() else meta_dir))


def _check_unique_targets(layers: list[Layer], where: str) -> None:
    """Two layers unpacked into one folder would overwrite each other: name both."""
    seen: dict[str, Layer] = {}
    for layer in layers:
        target = layer["install_target"]
        if target in seen:
            raise DeployError(
                f"{where}: layers '{seen[target]['layer_name']}' and '{layer['layer_name']}' both have"
                f" install_target '{target}'"
            )
        seen[target] = layer


def _requires(layer: Layer) -> list[str]:
    lower = [layer["runtime_layer"], *layer["required_layers"]]
    return [name for name in lower if name != layer["install_target"]]


def dependency_order(layers: list[Layer], *, where: str = "published metadata") -> list[Layer]:
    """Lower layers before the layers that need them (``graphlib``, stdlib since 3.9).

    ``where`` (the metadata's file or location) names the source in messages.
    """
    _check_unique_targets(layers, where)
    by_target = {layer["install_target"]: layer for layer in layers}
    order: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for layer in layers:
        name = layer["install_target"]
        for lower in _requires(layer):
            if lower not in by_target:
                raise DeployError(f"{name} requires layer '{lower}', which is not published here")
        if by_target[layer["runtime_layer"]]["layer_kind"] != "runtime":
            raise DeployError(f"{name}: its runtime_layer '{layer['runtime_layer']}' is not a runtime layer")
        order.add(name, *_requires(layer))
    try:
        return [by_target[name] for name in order.static_order()]
    except graphlib.CycleError as exc:
        raise DeployError(f"layers require each other: {' -> '.join(reversed(exc.args[1]))}") from None


def _short_name(layer: Layer) -> str:
    name = str(layer["layer_name"])
    for prefix in ("framework-", "app-"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def select_layers(layers: list[Layer], names: Sequence[str] = (), apps: Sequence[str] = ()) -> list[Layer]:
    """The named layers (name, env name or install target) plus every layer they need."""
    if not names and not apps:
        return list(layers)
    by_target = {layer["install_target"]: layer for layer in layers}
    wanted: set[str] = set()
    for name, app_only in [(n, False) for n in names] + [(n, True) for n in apps]:
        candidates = [layer for layer in layers if not app_only or layer["layer_kind"] == "application"]
        # A full name wins over a short one; a short name shared by two layers is ambiguous.
        matches = [layer for layer in candidates if name in (layer["install_target"], layer["layer_name"])]
        matches = matches or [layer for layer in candidates if name == _short_name(layer)]
        if len(matches) > 1:
            found = ", ".join(layer["install_target"] for layer in matches)
            raise DeployError(f"'{name}' names several published layers ({found}): use one of those names")
        if not matches:
            known = ", ".join(layer["install_target"] for layer in layers)
            kind = "application" if app_only else "layer"
            raise DeployError(f"no published {kind} named '{name}' (published: {known})")
        pending = [matches[0]["install_target"]]
        while pending:
            current = pending.pop()
            if current not in wanted:
                wanted.add(current)
                pending.extend(_requires(by_target[current]))
    return [layer for layer in layers if layer["install_target"] in wanted]
