"""Small synthetic build folders shaped like real layers (runtime, framework venv, app venv).

``make_build`` can vary everything that must NOT show in an archive (the folder path, file
times, permission bits beyond "executable or not", creation order) so reproducibility tests can
build the same stack twice in different ways.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pdm_stack.building.layer_config import CONFIG_PATH
from pdm_stack.publish.publish_inputs import PublishLayer
from pdm_stack.stack_spec.model import LayerKind

LOCKED_AT = "2025-03-01T12:00:00+00:00"
LOCK_EPOCH = 1740830400
RUNTIME = "cpython-3.11"
FRAMEWORK = "framework-fw"
APP = "app-demo"
SITE = "lib/python3.11/site-packages"

TRAMPOLINE = "#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'python' \"$0\" \"$@\"\n' '''\n"


def _write(path: Path, text: str | bytes, *, executable: bool = False, variant: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    mode = 0o755 if executable else 0o644
    if variant:  # other permission bits, same "executable or not"
        mode = 0o775 if executable else 0o600
    path.chmod(mode)


def _config(layer: Path, **fields: object) -> None:
    data = {"py_version": "3.11.9", "site_dir": SITE, **fields}
    _write(layer / CONFIG_PATH, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _venv_layer(layer: Path, variant: int) -> None:
    _write(layer / "pyvenv.cfg", "include-system-site-packages = false\nversion = 3.11.9\n", variant=variant)
    (layer / "bin").mkdir(parents=True)
    (layer / "bin" / "python").symlink_to(f"../../{RUNTIME}/bin/python3")
    (layer / "bin" / "python3").symlink_to("python")
    (layer / "bin" / "python3.11").symlink_to("python")
    (layer / "lib64").symlink_to("lib")


def make_runtime(build: Path, variant: int = 0) -> Path:
    layer = build / RUNTIME
    _write(layer / "bin" / "python3.11", b"\x7fELF fake interpreter\n", executable=True, variant=variant)
    (layer / "bin" / "python3").symlink_to("python3.11")
    (layer / "bin" / "python").symlink_to("python3")
    _write(layer / "bin" / "pip3", TRAMPOLINE + "import pip\n", executable=True, variant=variant)
    _write(layer / "lib" / "python3.11" / "os.py", "# os module\n" * 50, variant=variant)
    _write(layer / "lib" / "python3.11" / "__pycache__" / "os.cpython-311.pyc", f"pyc {build}".encode())
    _write(layer / "lib" / "python3.11" / "stray.pyc", f"pyc {build}".encode())
    _write(layer / SITE / "README.txt", "site-packages\n", variant=variant)
    _config(layer, python="bin/python3", base_python="bin/python3")
    return layer


def make_framework(build: Path, variant: int = 0) -> Path:
    layer = build / FRAMEWORK
    _venv_layer(layer, variant)
    _write(layer / "bin" / "fwtool", TRAMPOLINE + "import fwpkg\n", executable=True, variant=variant)
    _write(layer / SITE / "fwpkg" / "__init__.py", "VALUE = 42\n", variant=variant)
    _write(layer / SITE / "fwpkg" / "data.bin", bytes(range(256)) * 64, variant=variant)
    _write(layer / SITE / "fwpkg" / "__pycache__" / "__init__.cpython-311.pyc", f"pyc {build}".encode())
    _write(layer / SITE / "sitecustomize.py", "# adds lower site dirs\n", variant=variant)
    _config(
        layer,
        python="bin/python",
        base_python=f"../{RUNTIME}/bin/python3",
        pylib_dirs=[f"../{RUNTIME}/{SITE}"],
    )
    return layer


def make_app(build: Path, variant: int = 0) -> Path:
    layer = build / APP
    _venv_layer(layer, variant)
    _write(layer / "bin" / "demo-cli", TRAMPOLINE + "import demo_app\n", executable=True, variant=variant)
    _write(layer / SITE / "demo_app.py", "print('demo app')\n", variant=variant)
    _write(layer / SITE / "sitecustomize.py", "# adds lower site dirs\n", variant=variant)
    _config(
        layer,
        python="bin/python",
        base_python=f"../{RUNTIME}/bin/python3",
        pylib_dirs=[f"../{FRAMEWORK}/{SITE}", f"../{RUNTIME}/{SITE}"],
        launch_module="demo_app",
    )
    return layer


def make_build(build: Path, *, variant: int = 0, mtime: int | None = None) -> Path:
    """A build folder with a runtime, a framework on it and an app on the framework."""
    makers = [make_runtime, make_framework, make_app]
    for maker in reversed(makers) if variant else makers:  # a different creation order
        maker(build, variant)
    if mtime is not None:
        for path in build.rglob("*"):
            os.utime(path, (mtime, mtime), follow_symlinks=False)
    return build


def publish_layers_of(build: Path, *, keep_console_scripts: bool = False) -> list[PublishLayer]:
    common = {
        "lock_version": 1,
        "locked_at": LOCKED_AT,
        "runtime_target": RUNTIME,
        "python_implementation": "cpython@3.11.9",
    }
    return [
        PublishLayer(
            kind=LayerKind.RUNTIME,
            env_name=RUNTIME,
            install_target=RUNTIME,
            folder=build / RUNTIME,
            requirements_hash="sha256:" + "1" * 64,
            required_layers=(),
            **common,  # type: ignore[arg-type]
        ),
        PublishLayer(
            kind=LayerKind.FRAMEWORK,
            env_name=FRAMEWORK,
            install_target=FRAMEWORK,
            folder=build / FRAMEWORK,
            requirements_hash="sha256:" + "2" * 64,
            required_layers=(),
            **common,  # type: ignore[arg-type]
        ),
        PublishLayer(
            kind=LayerKind.APPLICATION,
            env_name=APP,
            install_target=APP,
            folder=build / APP,
            requirements_hash="sha256:" + "3" * 64,
            required_layers=(FRAMEWORK,),
            launch_module="demo_app",
            keep_console_scripts=keep_console_scripts,
            **common,  # type: ignore[arg-type]
        ),
    ]
