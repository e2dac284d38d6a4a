"""Reusing interpreters that ``hatch python install`` put in Hatch's data folder.

Hatch keeps one folder per distribution, named by its minor series (``3.11``, ``3.13t``,
``pypy3.11``), holding the unpacked python-build-standalone archive (``python/bin/python3``) and a
``hatch-dist.json`` naming the archive's URL. The folder name never says the patch version, so it
is read from the runtime's headers, else from the archive name.

A builder runs inside Hatch's build environment, where there is no ``hatch`` command: the folder
is found the way Hatch itself finds it, from ``HATCH_DATA_DIR``, Hatch's config file
(``HATCH_CONFIG``, ``dirs.data``, ``dirs.python``) and platformdirs' defaults.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pdm_stack.runtimes.installed import InstalledRuntimes
from pdm_stack.runtimes.pdm_installs import interpreter_path, version_from_headers, version_from_interpreter
from pdm_stack.runtimes.requests import parse_full_version
from pdm_stack.runtimes.unpack import archive_version

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pdm_stack.runtimes.requests import RuntimeRequest

__all__ = ["HatchInstalls", "hatch_pythons_dir"]

#: Hatch's metadata file next to each install.
METADATA_FILE = "hatch-dist.json"
_NAME_RE = re.compile(r"^(?P<impl>pypy)?(?P<series>\d+\.\d+)(?P<t>t)?$")


def _expand(value: str) -> Path:
    """As Hatch expands configured folders: environment variables, then ``~``."""
    return Path(os.path.expandvars(value)).expanduser().absolute()


def hatch_config(env: Mapping[str, str] | None = None) -> dict[str, object]:
    """Hatch's user config file as a dict; an unreadable or missing file counts as empty."""
    env = os.environ if env is None else env
    import platformdirs

    location = env.get("HATCH_CONFIG") or str(
        Path(platformdirs.user_config_dir("hatch", appauthor=False)) / "config.toml"
    )
    try:
        with Path(location).open("rb") as stream:
            return tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def hatch_pythons_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where ``hatch python install`` puts interpreters, by Hatch's own precedence.

    ``dirs.python`` from the config, where the default ``"isolated"`` means ``<data dir>/pythons``;
    the data dir is ``HATCH_DATA_DIR``, else ``dirs.data``, else platformdirs' user data dir.
    """
    env = os.environ if env is None else env
    dirs = hatch_config(env).get("dirs")
    dirs = dirs if isinstance(dirs, dict) else {}
    python = dirs.get("python")
    if isinstance(python, str) and python and python != "isolated":
        return _expand(python)
    data = env.get("HATCH_DATA_DIR") or dirs.get("data")
    if not isinstance(data, str) or not data:
        import platformdirs

        data = platformdirs.user_data_dir("hatch", appauthor=False)
    return _expand(data) / "pythons"


class HatchInstalls(InstalledRuntimes):
    """``hatch python install``'s folder (see :func:`hatch_pythons_dir`)."""

    kind = "hatch-install"
    tool = "Hatch"

    def find(self, request: RuntimeRequest) -> list[tuple[str, Path]]:
        try:
            children = sorted(self.root.expanduser().iterdir())
        except OSError:
            return []
        found: list[tuple[tuple[int, int, int], str, Path]] = []
        for child in children:
            match = _NAME_RE.match(child.name)
            if match is None or not child.is_dir():
                continue
            if (match["impl"] or "cpython") != request.implementation:
                continue
            install = _read_install(child)
            if install is None:
                continue
            version, tree = install
            numbers, free_threaded = parse_full_version(version)
            series = f"{numbers[0]}.{numbers[1]}"
            # The folder's name is what Hatch matched the install by: it must agree with its content.
            if series != match["series"] or free_threaded != bool(match["t"]):
                continue
            if request.matches(version):
                found.append((numbers, version, tree))
        found.sort(key=lambda item: item[0], reverse=True)
        return [(version, tree) for _, version, tree in found]


def _read_install(folder: Path) -> tuple[str, Path] | None:
    """``(full version, runtime tree)`` of one Hatch install, or None if it is not complete."""
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # Hatch itself ignores folders without its metadata
    if not isinstance(metadata, dict):
        return None
    default = "python/python.exe" if sys.platform == "win32" else "python/bin/python3"
    python_path = metadata.get("python_path")
    relative = PurePosixPath(python_path if isinstance(python_path, str) and python_path else default)
    exe = folder / relative
    tree = exe.parent.parent if exe.parent.name == "bin" else exe.parent
    if interpreter_path(tree) is None:
        return None
    source = metadata.get("source")
    archive_name = unquote(PurePosixPath(urlsplit(source).path).name) if isinstance(source, str) else ""
    from_source = archive_version(archive_name)
    version = version_from_headers(tree) or from_source or version_from_interpreter(exe)
    if version is None:
        return None
    try:
        parse_full_version(version)
    except ValueError:
        return None
    return version, tree
