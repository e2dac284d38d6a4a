"""Build records: what each layer was built from, kept beside (not inside) the layers.

Records hold provenance that must not ship in a layer (such as the local path a runtime was
copied from) and the input hash that makes rebuilding incremental.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pdm_stack.build.layer_config import CONFIG_PATH
from pdm_stack.build.staging import state_dir

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class BuildRecord:
    env_name: str
    inputs_hash: str
    locked: bool
    runtime_source: dict[str, Any] | None = None
    packages: list[str] = field(default_factory=list)

    @staticmethod
    def path(build_dir: Path, env_name: str) -> Path:
        return state_dir(build_dir) / "layers" / f"{env_name}.json"

    def write(self, build_dir: Path) -> None:
        path = self.path(build_dir, self.env_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def read(cls, build_dir: Path, env_name: str) -> BuildRecord | None:
        try:
            data = json.loads(cls.path(build_dir, env_name).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):
            return None


def inputs_hash(data: Any) -> str:
    """``sha256:<hex>`` of a JSON-able value, independent of key order."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def is_built(build_dir: Path, env_name: str) -> bool:
    """A layer counts as built once swapped into place *and* recorded."""
    layer_dir = build_dir / env_name
    return (layer_dir / CONFIG_PATH).is_file() and BuildRecord.read(build_dir, env_name) is not None
