"""Small but real published stacks for deployment tests, made without the build or publish code.

A runtime layer (a copy of the session's relocatable CPython), a framework venv and an app venv
are laid out by hand exactly as the layout contract says (home-less ``pyvenv.cfg``, relative
``bin/python`` link, ``__file__``-relative ``sitecustomize.py``, layer configs), then packed per
the publish contract (one top folder, sorted members, fixed mtime/owner/modes, no bytecode,
``postinstall.py`` added) with metadata in ``__venvstacks__/``. Deployment tests thus depend only
on the contracts, not on another component's implementation.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from pdm_stack.deploy import standalone_files
from tests.fixtures.runtimes import clean_env, copy_runtime

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
PY_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
SITE = f"lib/python{PY}/site-packages"
RUNTIME = f"cpython-{PY}"
FRAMEWORK = "framework-fw"
APP = "app-demo"
LOCKED_AT = "2025-03-01T12:00:00+00:00"

SITECUSTOMIZE = '''"""Adds the lower layers of this layer to sys.path (paths relative to this file)."""
import os
import shutil
import site

_here = os.path.dirname(os.path.abspath(__file__))
for _relative in {relatives!r}:
    site.addsitedir(os.path.normpath(os.path.join(_here, _relative)))
'''

FRAMEWORK_PACKAGE = '''"""A framework package the app imports."""


def answer():
    return 42
'''

APP_MAIN = """import json
import sys

import demo_app
import fwpkg

print(json.dumps({
    "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
    "executable": sys.executable,
    "files": [fwpkg.__file__, demo_app.__file__, json.__file__],
    "co_filename": fwpkg.answer.__code__.co_filename,
    "answer": fwpkg.answer(),
}))
"""


def write_config(layer_dir: Path, **fields: Any) -> None:
    path = layer_dir / "share/venv/metadata/venvstacks_layer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n")


def make_runtime_layer(relocatable_runtime: Path, build_dir: Path) -> Path:
    layer = copy_runtime(relocatable_runtime, build_dir / RUNTIME)
    (layer / SITE).mkdir(parents=True, exist_ok=True)
    write_config(layer, python="bin/python3", py_version=PY_VERSION, base_python="bin/python3", site_dir=SITE)
    return layer


def make_venv_layer(build_dir: Path, name: str, lower: list[str], modules: dict[str, str]) -> Path:
    """A framework/app venv: ``lower`` = install targets below it in sys.path order, runtime last."""
    layer = build_dir / name
    (layer / "bin").mkdir(parents=True)
    (layer / "pyvenv.cfg").write_text(f"include-system-site-packages = false\nversion = {PY_VERSION}\n")
    (layer / "bin/python").symlink_to(f"../../{RUNTIME}/bin/python3")
    (layer / "bin/python3").symlink_to("python")
    (layer / f"bin/python{PY}").symlink_to("python")
    site = layer / SITE
    site.mkdir(parents=True)
    from_site = [os.path.relpath(f"/x/{other}/{SITE}", f"/x/{name}/{SITE}") for other in lower]
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(relatives=from_site))
    for relative, text in modules.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text(text)
    launch = {"launch_module": "demo_app"} if name.startswith("app-") else {}
    write_config(
        layer,
        python="bin/python",
        py_version=PY_VERSION,
        base_python=f"../{RUNTIME}/bin/python3",
        site_dir=SITE,
        pylib_dirs=[f"../{other}/{SITE}" for other in lower],
        **launch,
    )
    return layer


def build_layers(relocatable_runtime: Path, build_dir: Path) -> dict[str, Path]:
    return {
        RUNTIME: make_runtime_layer(relocatable_runtime, build_dir),
        FRAMEWORK: make_venv_layer(build_dir, FRAMEWORK, [RUNTIME], {"fwpkg/__init__.py": FRAMEWORK_PACKAGE}),
        APP: make_venv_layer(
            build_dir,
            APP,
            [FRAMEWORK, RUNTIME],
            {"demo_app/__init__.py": "from fwpkg import answer\n", "demo_app/__main__.py": APP_MAIN},
        ),
    }


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def _info(
    name: str, kind: bytes, mtime: int, *, mode: int = 0o644, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mtime, info.mode, info.size, info.linkname = kind, mtime, mode, size, link
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def layer_members(layer_dir: Path, top: str, mtime: int) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    """The archive members of a layer folder per the publish contract."""
    postinstall = files("pdm_stack.deploy").joinpath("postinstall.py").read_bytes()
    members: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info(top, tarfile.DIRTYPE, mtime, mode=0o755), None)
    ]
    entries = [(f"{top}/postinstall.py", None, postinstall)]
    for path in sorted(layer_dir.rglob("*")):
        relative = path.relative_to(layer_dir).as_posix()
        if "__pycache__" in relative.split("/") or relative.endswith(".pyc"):
            continue
        entries.append((f"{top}/{relative}", path, None))
    for name, path, data in sorted(entries, key=lambda entry: entry[0]):
        if path is None:
            members.append((_info(name, tarfile.REGTYPE, mtime, size=len(data or b"")), data))
        elif path.is_symlink():
            members.append(
                (_info(name, tarfile.SYMTYPE, mtime, mode=0o777, link=path.readlink().as_posix()), None)
            )
        elif path.is_dir():
            members.append((_info(name, tarfile.DIRTYPE, mtime, mode=0o755), None))
        else:
            content = path.read_bytes()
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            members.append((_info(name, tarfile.REGTYPE, mtime, mode=mode, size=len(content)), content))
    return members


def write_archive(
    path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: str = "tar.gz"
) -> None:
    mode = {"tar.gz": "w:gz", "tar.xz": "w:xz"}.get(fmt)
    kwargs: dict[str, Any] = {"compresslevel": 1} if fmt == "tar.gz" else {}
    if fmt == "tar.zst":
        import zstandard

        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for info, data in members:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
        path.write_bytes(zstandard.ZstdCompressor(level=1).compress(buffer.getvalue()))
        return
    assert mode is not None
    with tarfile.open(path, mode, format=tarfile.PAX_FORMAT, **kwargs) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer_metadata(
    archive: Path, name: str, kind: str, required: list[str], *, launch_module: str | None = None
) -> dict[str, Any]:
    """The published per-layer dict (publish contract field names)."""
    fmt = next(suffix for suffix in ("tar.gz", "tar.xz", "tar.zst") if archive.name.endswith(suffix))
    data: dict[str, Any] = {
        "layer_name": name,
        "layer_kind": kind,
        "install_target": name,
        "requirements_hash": "sha256:" + "0" * 64,
        "lock_version": 1,
        "locked_at": LOCKED_AT,
        "runtime_layer": RUNTIME,
        "python_implementation": f"cpython@{PY_VERSION}",
        "bound_to_implementation": "bin/python3" if kind == "runtime" else f"../{RUNTIME}/bin/python3",
        "required_layers": required,
        "archive_build": 1,
        "archive_name": archive.name,
        "archive_format": fmt,
        "target_platform": "linux_x86_64",
        "archive_size": archive.stat().st_size,
        "archive_hashes": {"sha256": hashlib.sha256(archive.read_bytes()).hexdigest()},
        "archive_unpacked_size": unpacked_size(archive),
    }
    if launch_module:
        data["app_launch_module"] = launch_module
        data["app_launch_module_hash"] = "sha256:" + "1" * 64
    return data


def unpacked_size(archive: Path) -> int:
    """Bytes of the archive's uncompressed tar stream, as publish declares them."""
    data = archive.read_bytes()
    if archive.name.endswith(".tar.gz"):
        return len(gzip.decompress(data))
    if archive.name.endswith(".tar.xz"):
        return len(lzma.decompress(data))
    import zstandard

    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
        return len(reader.read())


def write_metadata(out_dir: Path, layers: list[dict[str, Any]]) -> None:
    meta = out_dir / "__venvstacks__"
    groups: dict[str, list[dict[str, Any]]] = {"runtimes": [], "frameworks": [], "applications": []}
    for layer in layers:
        folder = {"runtime": "runtimes", "framework": "frameworks", "application": "applications"}[
            layer["layer_kind"]
        ]
        (meta / folder).mkdir(parents=True, exist_ok=True)
        (meta / folder / f"{layer['layer_name']}.json").write_text(json.dumps(layer, indent=2))
        groups[folder].append(layer)
    (meta / "venvstacks.json").write_text(json.dumps({"layers": groups}, indent=2))


def publish(build_dir: Path, out_dir: Path, fmt: str = "tar.gz") -> list[dict[str, Any]]:
    """Archives, metadata and the standalone deployer for the three layers of :func:`build_layers`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    mtime = _epoch(LOCKED_AT)
    plan = [(RUNTIME, "runtime", []), (FRAMEWORK, "framework", []), (APP, "application", [FRAMEWORK])]
    published = []
    for name, kind, required in plan:
        archive = out_dir / f"{name}.{fmt}"
        write_archive(archive, layer_members(build_dir / name, name, mtime), fmt)
        launch = "demo_app" if kind == "application" else None
        published.append(layer_metadata(archive, name, kind, required, launch_module=launch))
    write_metadata(out_dir, published)
    for name, data in standalone_files().items():  # deploy_stack_lib/*.py, then deploy_stack.py
        (out_dir / name).parent.mkdir(exist_ok=True)
        (out_dir / name).write_bytes(data)
    return published


def run_app(target: Path) -> dict[str, Any]:
    """Run the app as users do (``bin/python -m``) and return what it reports."""
    proc = subprocess.run(
        [str(target / APP / "bin/python"), "-m", "demo_app"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=target.parent,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    facts: dict[str, Any] = json.loads(proc.stdout)
    return facts


def tree_snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every entry, to prove a second deployment rewrote nothing."""
    return {
        str(path.relative_to(root)): (path.lstat().st_ino, path.lstat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if "__pycache__" not in path.parts and path.name != "deploy.lock"
    }


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "", mode: int = 0o644):
    """One archive member for hand-made (often hostile) archives."""
    info = _info(
        name, kind, _epoch(LOCKED_AT), mode=mode, size=len(data) if kind == tarfile.REGTYPE else 0, link=link
    )
    return info, (data if kind == tarfile.REGTYPE else None)


def publish_single(
    out_dir: Path, name: str, members: list[tuple[tarfile.TarInfo, bytes | None]], fmt: str = "tar.gz"
) -> dict[str, Any]:
    """A one-layer publication (a runtime-kind layer ``name``) of arbitrary members."""
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / f"{name}.{fmt}"
    write_archive(archive, members, fmt)
    data = layer_metadata(archive, name, "runtime", [])
    data["runtime_layer"] = name
    write_metadata(out_dir, [data])
    return data


def republish_app(artifacts: Path, out_dir: Path, app_dir: Path) -> Path:
    """New artifacts: the published runtime and framework (hard links) plus ``app_dir`` packed."""
    out_dir.mkdir(parents=True)
    published = json.loads((artifacts / "__venvstacks__/venvstacks.json").read_text())["layers"]
    lower = [*published["runtimes"], *published["frameworks"]]
    for layer in lower:
        os.link(artifacts / layer["archive_name"], out_dir / layer["archive_name"])
    archive = out_dir / f"{APP}.tar.gz"
    write_archive(archive, layer_members(app_dir, APP, _epoch(LOCKED_AT)))
    layers = [*lower, layer_metadata(archive, APP, "application", [FRAMEWORK], launch_module="demo_app")]
    write_metadata(out_dir, layers)
    return out_dir


def copy_deployment(template: Path, dest: Path) -> Path:
    """A private copy of a deployment (symlinks kept): itself a move to a new place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, dest, symlinks=True)
    return dest
