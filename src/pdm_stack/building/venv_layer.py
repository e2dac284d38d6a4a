"""Building a framework or application layer: a virtual environment chained to lower layers.

The venv is written by hand rather than with ``python -m venv``, because its shape is the
deployment format (docs/layers.md): ``pyvenv.cfg`` without ``home`` (CPython finds the runtime
through the resolved interpreter symlink, so the venv survives being moved; a stale absolute
``home`` would not), ``bin/python`` a *relative* symlink to the runtime folder, and a generated
``sitecustomize.py`` that puts the lower layers' site-packages on ``sys.path``.

The layer is staged in a sibling of its final folder, so every relative path is right before
the folder is swapped in, and the new layer is started once before that: a layer that is not
in place and recorded was never reported as built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pdm_stack.app_modules import copy_module_files, files_hash, launch_module_name
from pdm_stack.atomic_files import write_atomically
from pdm_stack.building.app_pitfalls import shadowing_warnings
from pdm_stack.building.build_records import built_record, inputs_hash
from pdm_stack.building.dynlibs import DynlibSource, link_lower_dynlibs
from pdm_stack.building.layer_builder import LayerBuilder
from pdm_stack.building.layer_config import LayerConfig, read_layer_config
from pdm_stack.building.locked_install import install_locked, packages_for
from pdm_stack.building.sitecustomize import SITECUSTOMIZE_VERSION, relative_site_dir, render_sitecustomize
from pdm_stack.errors import StackError
from pdm_stack.stack_spec.model import LayerKind

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.app_modules import ModuleFile
    from pdm_stack.building.runtime_layer import InstallOptions
    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockedLayer
    from pdm_stack.reporting import Reporter

#: Version of everything this module generates (venv shape, config, sitecustomize); bumping it
#: rebuilds existing layers on the next build.
VENV_FORMAT_VERSION = 1


@dataclass(frozen=True)
class LowerBuild:
    """A built lower layer, as the layers above it see it."""

    env_name: str
    #: Its folder in the build dir (install target).
    folder: str
    inputs_hash: str
    requirements_hash: str | None
    #: Relative to its folder, from its layer config.
    python: str
    site_dir: str
    py_version: str
    dynlib_exclude: tuple[str, ...]


def read_lower_build(build_dir: Path, layer: Layer) -> LowerBuild | None:
    """What a built lower layer offers, or ``None`` if it is not (completely) built."""
    record = built_record(build_dir, layer.env_name)
    if record is None:
        return None
    config = read_layer_config(build_dir / record.folder)
    if config is None:
        return None
    return LowerBuild(
        env_name=layer.env_name,
        folder=record.folder,
        inputs_hash=record.inputs_hash,
        requirements_hash=record.requirements_hash,
        python=str(config["python"]),
        site_dir=str(config["site_dir"]),
        py_version=str(config["py_version"]),
        dynlib_exclude=layer.spec.dynlib_exclude,
    )


def venv_inputs(
    layer: Layer,
    locked: LockedLayer,
    lowers: Sequence[LowerBuild],
    app_files: Sequence[ModuleFile],
    platform: str,
) -> str:
    """Hash of everything the built layer depends on; equal hashes mean nothing to redo."""
    return inputs_hash(
        {
            "format": [VENV_FORMAT_VERSION, SITECUSTOMIZE_VERSION],
            "kind": layer.kind.value,
            "install_target": locked.install_target,
            "requirements_hash": locked.requirements_hash,
            "platform": platform,
            # A rebuilt lower layer may have moved or changed its libraries: relink against it.
            "lower": [[lower.folder, lower.inputs_hash, list(lower.dynlib_exclude)] for lower in lowers],
            "launch_module": launch_module_name(layer.spec),
            "app_modules": files_hash(app_files) if app_files else None,
        }
    )


class VenvLayerBuilder(LayerBuilder):
    """A framework or application layer: a venv chained to the layers below it."""

    def __init__(
        self,
        layer: Layer,
        locked: LockedLayer,
        lowers: Sequence[LowerBuild],
        build_dir: Path,
        reporter: Reporter,
        platform: str,
        install: InstallOptions,
        app_files: Sequence[ModuleFile] = (),
    ) -> None:
        """``lowers`` are the built layers of ``layer.depends_on``, in that order (the runtime last)."""
        if sys.platform == "win32":
            raise StackError(
                "framework and application layers cannot be built on Windows yet", layer=layer.label
            )
        if not lowers or [lower.env_name for lower in lowers] != list(layer.depends_on):
            raise StackError("internal error: lower layers do not match depends_on", layer=layer.label)
        super().__init__(layer, build_dir, locked.install_target, reporter)
        self.locked = locked
        self.lowers = lowers
        self.runtime = lowers[-1]
        self.platform = platform
        self.install_options = install
        self.app_files = app_files
        self.site_dir = ""
        self.dynlib_dirs: list[str] = []

    def inputs_hash(self) -> str:
        return venv_inputs(self.layer, self.locked, self.lowers, self.app_files, self.platform)

    def prepare(self) -> None:
        below = ", ".join(lower.folder for lower in self.lowers)
        self.reporter.info(f"{self.layer.env_name}: building {self.target} (on {below})")

    def create(self, staging: Path) -> None:
        self.site_dir = write_venv(staging, self.runtime)

    def install(self, staging: Path) -> list[str]:
        count = len(packages_for(self.locked.lock, self.platform))
        with self.reporter.step(f"{self.layer.env_name}: installing {count} package(s)"):
            return install_locked(
                staging / "bin" / "python",
                self.locked.lock,
                self.platform,
                self.reporter,
                label=self.layer.label,
                index_args=self.install_options.index_args,
                env=dict(self.install_options.env),
                lock_dir=self.locked.paths.folder,
            )

    def add(self, staging: Path) -> None:
        if self.layer.kind is LayerKind.APPLICATION:
            sites = [(self.layer.env_name, staging / self.site_dir)]
            sites += [
                (lower.env_name, self.build_dir / lower.folder / lower.site_dir) for lower in self.lowers
            ]
            for warning in shadowing_warnings(self.layer.spec, sites):
                self.reporter.warn(warning)
        if self.app_files:
            copied = copy_module_files(self.app_files, staging / self.site_dir)
            self.reporter.info(f"{self.layer.env_name}: copied {copied} file(s) of the application's modules")
        write_sitecustomize(staging / self.site_dir, self.target, self.site_dir, self.lowers)
        self.dynlib_dirs = link_lower_dynlibs(
            staging,
            [
                DynlibSource(lower.env_name, self.build_dir / lower.folder, lower.dynlib_exclude)
                for lower in self.lowers
            ],
            label=self.layer.label,
            reporter=self.reporter,
        )

    def config(self, staging: Path) -> LayerConfig:
        application = self.layer.kind is LayerKind.APPLICATION
        return LayerConfig(
            python="bin/python",
            py_version=self.runtime.py_version,
            base_python=f"../{self.runtime.folder}/{self.runtime.python}",
            site_dir=self.site_dir,
            pylib_dirs=[f"../{lower.folder}/{lower.site_dir}" for lower in self.lowers],
            dynlib_dirs=self.dynlib_dirs,
            launch_module=launch_module_name(self.layer.spec) if application else None,
        )

    def check(self, staging: Path) -> None:
        check_started(staging, self.build_dir, self.layer, self.site_dir, self.lowers)

    def record_fields(self) -> dict[str, Any]:
        return {"locked": True, "requirements_hash": self.locked.requirements_hash}

    def built_message(self, packages: list[str]) -> str:
        return f"{self.layer.env_name}: built {len(packages)} package(s) into {self.build_dir / self.target}"


def write_venv(layer_dir: Path, runtime: LowerBuild) -> str:
    """The bare venv: ``pyvenv.cfg``, interpreter links, empty site-packages; returns site_dir."""
    major_minor = ".".join(runtime.py_version.split(".")[:2])
    site_dir = f"lib/python{major_minor}/site-packages"
    bin_dir = layer_dir / "bin"
    bin_dir.mkdir(parents=True)
    (layer_dir / site_dir).mkdir(parents=True)
    # No "home": CPython finds the runtime through the resolved bin/python symlink.
    (layer_dir / "pyvenv.cfg").write_text(
        f"include-system-site-packages = false\nversion = {runtime.py_version}\n", encoding="utf-8"
    )
    (bin_dir / "python").symlink_to(f"../../{runtime.folder}/{runtime.python}")
    for alias in ("python3", f"python{major_minor}"):
        (bin_dir / alias).symlink_to("python")
    return site_dir


def write_sitecustomize(site_path: Path, target: str, site_dir: str, lowers: Sequence[LowerBuild]) -> None:
    relative = [relative_site_dir(target, site_dir, lower.folder, lower.site_dir) for lower in lowers]
    # Renamed into place: a package's own sitecustomize.py may be a hard link into uv's cache.
    write_atomically(site_path / "sitecustomize.py", render_sitecustomize(relative).encode())


_CHECK = (
    "import json, sys; print(json.dumps({'prefix': sys.prefix, 'base': sys.base_prefix, 'path': sys.path}))"
)


def check_started(
    layer_dir: Path, build_dir: Path, layer: Layer, site_dir: str, lowers: Sequence[LowerBuild]
) -> None:
    """Start the staged layer once: it must see itself and its lower layers in the right order.

    ``-B`` keeps byte code (which would embed the staging path) out of the layer.
    """
    result = subprocess.run(
        [str(layer_dir / "bin" / "python"), "-I", "-B", "-c", _CHECK],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"the new layer does not start: {result.stderr.strip()[-500:]}", layer=layer.label)
    facts = json.loads(result.stdout)
    expected = [layer_dir / site_dir, *(build_dir / lower.folder / lower.site_dir for lower in lowers)]
    wanted = [os.path.realpath(path) for path in expected]
    seen = [os.path.realpath(path) for path in facts["path"] if os.path.realpath(path) in wanted]
    problems = []
    if os.path.realpath(facts["prefix"]) != os.path.realpath(layer_dir):
        problems.append(f"sys.prefix is {facts['prefix']}")
    if os.path.realpath(facts["base"]) != os.path.realpath(build_dir / lowers[-1].folder):
        problems.append(f"its runtime is {facts['base']}")
    if seen != wanted:
        problems.append("sys.path lacks lower layers or has them out of order")
    if problems:
        raise StackError(f"the new layer is not set up right: {'; '.join(problems)}", layer=layer.label)
