"""Building small real projects in tests: specs, runtimes, hand-made locks, and running layers.

Shared by the build tests; the runtime comes from the session's relocatable CPython copied into a
PDM install root, so every build takes the path users take, offline.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm_stack.building.stack_build import build_layers
from pdm_stack.lock import LayerLock, LockInputs, lock_layer
from pdm_stack.lock.layer_lock import LockPaths
from pdm_stack.lock.stack_lock import LockedLayer
from pdm_stack.reporting import NullReporter
from pdm_stack.runtimes.pdm_installs import PdmInstalls
from pdm_stack.runtimes.provider import RuntimeSettings
from pdm_stack.stack import Stack, open_stack
from tests.fixtures.runtimes import clean_env, copy_runtime

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.graph import Layer

PY = f"{sys.version_info[0]}.{sys.version_info[1]}"
SITE = f"lib/python{PY}/site-packages"
PLATFORM = "linux_x86_64"
# Exact pins keep resolutions reproducible, and their wheels are usually in uv's cache already.
NUMPY = "numpy==2.4.6"
SIX = "six==1.17.0"


def write_project(root: Path, layers: str) -> Path:
    """A pyproject.toml with a linux_x86_64 runtime ``cpython-3.11`` followed by ``layers``."""
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "pyproject.toml"
    spec.write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "demo"
            version = "0"

            [[tool.venvstacks.runtimes]]
            name = "cpython-3.11"
            python_implementation = "cpython@{PY}"
            requirements = []
            platforms = ["{PLATFORM}"]
            """
        )
        + textwrap.dedent(layers)
    )
    return spec


def pdm_install_root(relocatable_runtime: Path, folder: Path) -> Path:
    """A PDM install root holding the session's relocatable runtime, as ``pdm python install``
    would name it: runtime layers copy it (fast, offline) instead of searching for a CPython."""
    version = ".".join(map(str, sys.version_info[:3]))
    copy_runtime(relocatable_runtime, folder / f"cpython@{version}")
    return folder


def runtime_settings(install_root: Path) -> RuntimeSettings:
    return RuntimeSettings(
        cache_dir=install_root.parent / "cache",
        installed=(PdmInstalls(install_root),),
        register_root=install_root,
        local_runtime="never",
        platform=PLATFORM,
    )


def as_locked(lock: LayerLock, version: int = 1, *, versioned: bool = False) -> LockedLayer:
    meta = {"lock_version": version, "locked_at": "2025-01-01T00:00:00+00:00"}
    meta["requirements_hash"] = lock.requirements_hash
    target = f"{lock.env_name}@{version}" if versioned else lock.env_name
    return LockedLayer(lock.env_name, lock, meta, LockPaths.of(Path("requirements"), lock.env_name), target)


def empty_lock(env_name: str, inherited: Sequence[Any] = ()) -> LayerLock:
    return LayerLock(env_name, PY, (PLATFORM,), (), tuple(inherited))


def uv_lock(
    env_name: str, requirements: Sequence[str], folder: Path, lower: Sequence[LayerLock]
) -> LayerLock:
    inputs = LockInputs(env_name, tuple(requirements), PY, (PLATFORM,), lower=tuple(lower))
    return lock_layer(inputs, folder).lock


def run(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a layer interpreter without writing byte code and without the test's environment."""
    env = {**clean_env(), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [str(python), "-B", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def run_json(python: Path, code: str) -> Any:
    result = run(python, "-c", code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


PATH_CODE = "import json, sys; print(json.dumps(sys.path))"


@dataclass(frozen=True)
class Project:
    stack: Stack
    root: Path
    settings: RuntimeSettings

    @property
    def build(self) -> Path:
        return self.stack.settings.build_dir

    def layers(self, *env_names: str) -> list[Layer]:
        names = env_names or tuple(layer.env_name for layer in self.stack.graph)
        return [self.stack.graph.by_env_name(name) for name in names]


def build(
    project: Project, locks: dict[str, LockedLayer], *names: str, clean: bool = False
) -> dict[str, str]:
    layers = project.layers(*names)
    return build_layers(
        project.stack,
        layers,
        project.settings,
        NullReporter(),
        locks=locks,
        clean=clean,
    )


def copy_project(source: Project, dest: Path) -> Project:
    """A copy of a built project elsewhere: its build must still be up to date there."""
    shutil.copytree(source.root, dest, symlinks=True)
    return Project(open_stack(dest / "pyproject.toml"), dest, source.settings)
