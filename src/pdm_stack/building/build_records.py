"""Build records: what each layer was built from, kept beside (not inside) the layers.

Records hold provenance that must not ship in a layer (such as the local path a runtime was
copied from) and the input hash that makes rebuilding incremental. A record is written only
after its layer folder was swapped into place, so a record never describes a half-built layer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pdm_stack.atomic_files import write_atomically
from pdm_stack.building.layer_config import CONFIG_PATH
from pdm_stack.building.staging import remove_layer_folder, state_dir

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.reporting import Reporter


@dataclass(frozen=True)
class BuildRecord:
    env_name: str
    inputs_hash: str
    locked: bool
    runtime_source: dict[str, Any] | None = None
    packages: list[str] = field(default_factory=list)
    #: Folder of the layer in the build dir; ``None`` in records of older versions (the env name).
    install_target: str | None = None
    #: ``requirements_hash`` of the lock the layer was built from (``None`` when unlocked).
    requirements_hash: str | None = None
    #: Whether the build compiled the layer's bytecode the way post-install compiles it
    #: (``False`` in records of older versions): export then links the bytecode.
    bytecode: bool = False

    @property
    def folder(self) -> str:
        return self.install_target or self.env_name

    @staticmethod
    def path(build_dir: Path, env_name: str) -> Path:
        return state_dir(build_dir) / "layers" / f"{env_name}.json"

    def write(self, build_dir: Path) -> None:
        text = json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"
        write_atomically(self.path(build_dir, self.env_name), text)

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


def built_record(build_dir: Path, env_name: str) -> BuildRecord | None:
    """The record of a layer whose recorded folder is complete, else ``None``."""
    record = BuildRecord.read(build_dir, env_name)
    if record is None or not (build_dir / record.folder / CONFIG_PATH).is_file():
        return None
    return record


def is_built(build_dir: Path, env_name: str, install_target: str | None = None) -> bool:
    """A layer counts as built once swapped into place *and* recorded.

    With ``install_target`` the build must also be the one for that target (a versioned layer
    built from an older lock is not the build of its current lock).
    """
    record = built_record(build_dir, env_name)
    return record is not None and (install_target is None or record.folder == install_target)


def retire_previous_folder(
    build_dir: Path, previous: BuildRecord | None, target: str, reporter: Reporter
) -> None:
    """Remove the folder of an earlier build under another install target (a versioned layer
    relocked), once the new build is in place and recorded."""
    if previous is not None and previous.folder != target and remove_layer_folder(build_dir, previous.folder):
        reporter.info(f"{previous.env_name}: removed the previous build {previous.folder}")
