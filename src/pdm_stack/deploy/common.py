"""What every module of the standalone deployer shares: its error, the name rules, hashing.

The deployer (this module, ``metadata_reader``, ``archives``, ``deployment_records``,
``deployer``, ``cli`` and the ``standalone`` facade) runs on target machines without pdm-stack:
``pdm stack publish`` copies these files into ``deploy_stack_lib/`` next to the archives. So each
of them uses the standard library only, parses as Python 3.9, and imports its siblings by
relative imports only.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

METADATA_DIR = "__venvstacks__"
#: Install targets and archive names are plain names: no separators, no leading dot.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*\Z")
#: The start of an absolute path, POSIX or Windows.
ABSOLUTE = re.compile(r"[/\\]|[A-Za-z]:")
CHUNK = 1 << 20

#: One published layer's metadata (a venvstacks layer JSON object, checked by ``metadata``).
Layer = dict[str, Any]


class DeployError(Exception):
    """A problem that stops the deployment, reported in one line."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeployError(f"{path}: cannot read metadata ({exc})") from None
