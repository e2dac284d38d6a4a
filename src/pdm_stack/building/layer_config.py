"""The deployed layer config ``share/venv/metadata/venvstacks_layer.json``.

Field names follow the venvstacks format so existing deployment tooling can read our layers.
Every path is relative to the layer folder: a layer must keep working after it is moved.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

CONFIG_PATH = Path("share/venv/metadata/venvstacks_layer.json")


def is_layer_folder(path: Path) -> bool:
    """Whether ``path`` is a layer (built, exported or deployed), not a folder of the user's.

    Builds and exports replace layer folders whole; anything else under a layer's name (the
    lock folders, when ``build_dir`` points at the requirements folder) is the user's to keep.
    """
    return not path.is_symlink() and (path / CONFIG_PATH).is_file()


@dataclass(frozen=True)
class LayerConfig:
    python: str
    py_version: str
    base_python: str
    site_dir: str
    pylib_dirs: list[str] = field(default_factory=list)
    dynlib_dirs: list[str] = field(default_factory=list)
    launch_module: str | None = None

    def write(self, layer_dir: Path) -> Path:
        path = layer_dir / CONFIG_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {key: value for key, value in asdict(self).items() if value is not None}
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def read_layer_config(layer_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((layer_dir / CONFIG_PATH).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
