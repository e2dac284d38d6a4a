"""Deploying layers into TARGET: the order of the steps, post-install, and the swap into place.

Each layer is unpacked into a hidden folder beside its final place, its ``postinstall.py`` runs
there with the runtime's interpreter (runtimes first; every path in a layer is relative, so the
result is the same under the final name), then it is renamed into place: a layer is deployed
whole or not at all, and a deployment killed mid-swap is repaired by the next one. Every archive
that needs deploying is checked before TARGET is touched. ``pdm stack deploy`` and the
standalone ``deploy_stack.py`` both end here. Standard library only (see ``common``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .archives import archive_format, expansion_limit, extract_layer, readable_format
from .common import ABSOLUTE, METADATA_DIR, PLAIN_NAME, DeployError, Layer, read_json, sha256_file
from .deployment_records import (
    DEPLOYED_DIR,
    RECORD_FORMAT,
    is_deployed,
    read_records,
    target_lock,
    write_record,
)
from .layer_sources import LayerSource, open_source
from .metadata_reader import select_layers

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _recover(target: Path) -> None:
    """Clean up after a killed deployment, putting back a layer parked mid-swap."""
    for leftover in target.iterdir():
        # Only the names deploy_layer's mkdtemp() gives: a user's ".notes.old-backup" stays.
        match = re.match(r"\.(.+)\.(new|old)-[a-z0-9_]{8}\Z", leftover.name)
        if (
            not match
            or not PLAIN_NAME.match(match.group(1))
            or leftover.is_symlink()
            or not leftover.is_dir()
        ):
            continue
        final, parked = target / match.group(1), leftover / "layer"
        if match.group(2) == "old" and parked.is_dir() and not os.path.lexists(final):
            parked.rename(final)
        shutil.rmtree(leftover, ignore_errors=True)


def _existing_interpreter(python: Path) -> Path:
    """``python`` or, if that alias is missing (archives from hosts without symlinks), the
    versioned interpreter beside it: the runtime's post-install recreates the alias."""
    if not python.is_file():
        versioned = [
            p for p in sorted(python.parent.glob("python3.*")) if re.match(r"python3\.\d+\Z", p.name)
        ]
        if versioned and versioned[-1].is_file():
            return versioned[-1]
    return python


def _postinstall_layer(
    python: Path, layer_dir: Path, install_target: str, *, compile_pyc: bool = True
) -> None:
    script = layer_dir / "postinstall.py"
    if not script.is_file():
        raise DeployError(f"{install_target}: the archive has no postinstall.py")
    python = _existing_interpreter(python)
    if not python.is_file():
        raise DeployError(f"{install_target}: runtime interpreter {python} is missing")
    command = [str(python), "-I", "-B", str(script), "--name", install_target]
    if not compile_pyc:
        command.append("--no-compile")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise DeployError(f"{install_target}: postinstall failed: {lines[-1]}")


def run_postinstall(target: Path | str, install_targets: Sequence[str], *, compile_pyc: bool = True) -> None:
    """Post-install layers already unpacked in ``target`` (as ``pdm stack export`` leaves them).

    Runtime layers (no ``pyvenv.cfg``) go first; each layer runs with the interpreter its layer
    config names as ``base_python``, so no published metadata is needed. ``compile_pyc=False``
    is for layers that arrived with their bytecode (an export links the build's).
    """
    target = Path(target).absolute()
    ordered = sorted(install_targets, key=lambda name: (target / name / "pyvenv.cfg").exists())
    for name in ordered:
        layer_dir = target / name
        config = read_json(layer_dir / "share/venv/metadata/venvstacks_layer.json")
        base_python = config.get("base_python") if isinstance(config, dict) else None
        if not isinstance(base_python, str) or not base_python or ABSOLUTE.match(base_python):
            raise DeployError(f"{name}: the layer config has no relative 'base_python'")
        python = Path(os.path.normpath(layer_dir.joinpath(*base_python.split("/"))))
        _postinstall_layer(python, layer_dir, name, compile_pyc=compile_pyc)


def _refresh(manifest: dict[str, str], layer_dir: Path) -> None:
    """Re-record what postinstall may legitimately change (pyvenv.cfg, interpreter links)."""
    candidates = [layer_dir / "pyvenv.cfg"]
    if (layer_dir / "bin").is_dir():
        candidates += sorted((layer_dir / "bin").glob("python*"))
    for path in candidates:
        relative = path.relative_to(layer_dir).as_posix()
        if path.is_symlink():
            manifest[relative] = "symlink:" + path.readlink().as_posix()
        elif path.is_file():
            manifest[relative] = "sha256:" + sha256_file(path)


def deploy_layer(archive: Path, layer: Layer, target: Path, runtime: Layer) -> None:
    """Unpack, post-install and swap one layer into ``target``: all or nothing."""
    name = layer["install_target"]
    work = Path(tempfile.mkdtemp(dir=target, prefix=f".{name}.new-"))
    final = target / name
    try:
        work.chmod(0o755)
        sha256 = layer["archive_hashes"]["sha256"]
        fmt, limit = archive_format(layer), expansion_limit(layer)
        manifest = extract_layer(archive, fmt, name, work, sha256=sha256, limit=limit)
        # A runtime post-installs with its own interpreter where it was unpacked; the others use
        # the runtime already in place (runtimes are deployed first).
        folder = work.name if layer["layer_kind"] == "runtime" else layer["runtime_layer"]
        interpreter = str(runtime.get("bound_to_implementation") or "bin/python3")
        _postinstall_layer(target.joinpath(folder, *interpreter.split("/")), work, name)
        _refresh(manifest, work)
        if os.path.lexists(final):
            parked = Path(tempfile.mkdtemp(dir=target, prefix=f".{name}.old-"))
            final.rename(parked / "layer")
            work.rename(final)
            shutil.rmtree(parked, ignore_errors=True)
        else:
            work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    record = {"format": RECORD_FORMAT, "archive_sha256": layer["archive_hashes"]["sha256"]}
    write_record(target, name, dict(record, layer=layer, files=manifest))


def check_target(target: Path) -> None:
    """Refuse a TARGET that cannot hold a deployment, before anything is created: a file, a
    path through a file, or a metadata folder that is a symlink (records would be written
    wherever it points)."""
    existing = target
    while not os.path.lexists(existing) and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        what = (
            "the deployment folder"
            if existing == target
            else f"{existing}, a parent of the deployment folder,"
        )
        raise DeployError(f"{target}: cannot deploy here: {what} is a file, not a folder")
    for folder in (target / METADATA_DIR, target / DEPLOYED_DIR):
        if folder.is_symlink() or (os.path.lexists(folder) and not folder.is_dir()):
            raise DeployError(f"{folder}: must be a folder of the deployment, not a symlink or a file")


def deploy(
    artifacts: Path | str | LayerSource,
    target: Path | str,
    layers: Sequence[str] = (),
    apps: Sequence[str] = (),
    *,
    force: bool = False,
    log: Callable[[str], None] = _log_stderr,
) -> list[tuple[str, str]]:
    """Deploy the selected layers; returns ``(install target, "deployed" | "up to date")``.

    ``artifacts`` is a publish output folder, an ``oci://`` stack reference or a
    :class:`LayerSource`. TARGET, and the format of every archive that needs deploying, are
    checked before TARGET is touched, and every archive is verified before any layer is
    unpacked; a folder's archives even before TARGET is touched, so a tampered archive leaves
    nothing behind, not even an empty TARGET (a registry's blobs are fetched into TARGET).
    """
    source = artifacts if isinstance(artifacts, LayerSource) else open_source(artifacts)
    target = Path(target).absolute()
    published = source.layers()
    by_target = {layer["install_target"]: layer for layer in published}
    chosen = select_layers(published, layers, apps)
    check_target(target)
    records = read_records(target)
    pending = [layer for layer in chosen if force or not is_deployed(target, layer, records)]
    for layer in pending:
        readable_format(layer)
    archives = source.fetch(pending, target, log) if pending and not source.downloads else {}
    outcome: list[tuple[str, str]] = []
    if pending:
        target.mkdir(parents=True, exist_ok=True)
    with target_lock(target, log) if pending else contextlib.nullcontext():
        if pending:
            _recover(target)
        if pending and source.downloads:
            archives = source.fetch(pending, target, log)
        for layer in chosen:
            name = layer["install_target"]
            if name not in archives:
                log(f"{name}: up to date")
                outcome.append((name, "up to date"))
                continue
            log(f"{name}: deploying {layer['archive_name']}")
            deploy_layer(archives[name], layer, target, by_target[layer["runtime_layer"]])
            source.deployed(layer, archives[name])
            outcome.append((name, "deployed"))
    return outcome
