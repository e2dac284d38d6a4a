"""Building a runtime layer: a pristine relocatable CPython plus the layer's packages.

A locked runtime layer gets exactly its lock's packages for the build platform; a layer without
a lock (only possible through the library API) falls back to installing its declared
requirements, with a warning, because nothing else guarantees what it would contain.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm_stack.building.build_records import inputs_hash
from pdm_stack.building.layer_builder import LayerBuilder
from pdm_stack.building.layer_config import LayerConfig
from pdm_stack.building.locked_install import install_locked, packages_for
from pdm_stack.building.uv_install import install_requirements
from pdm_stack.errors import StackError
from pdm_stack.indexes import strip_credentials
from pdm_stack.runtimes.provider import RuntimeSettings, obtain_runtime
from pdm_stack.runtimes.sysconfig_paths import make_sysconfig_relocatable

if TYPE_CHECKING:
    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockedLayer
    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.provider import ObtainedRuntime, RuntimeSource

#: Version of what this module adds to a runtime (layer config, script rewriting); bumping it
#: rebuilds existing runtime layers on the next build.
RUNTIME_FORMAT_VERSION = 1


@dataclass(frozen=True)
class InstallOptions:
    """How packages are fetched (indexes as uv arguments; credentials only in ``env``)."""

    index_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def interpreter_relpath(layer_dir: Path) -> Path:
    if sys.platform == "win32":
        return Path("python.exe")
    return Path("bin/python3")


def runtime_inputs(layer: Layer, locked: LockedLayer | None = None, platform: str | None = None) -> str:
    spec = layer.spec
    archive = spec.runtime_archive
    return inputs_hash(
        {
            "format": RUNTIME_FORMAT_VERSION,
            "python_implementation": spec.python_implementation,
            # The sha256 pins the bytes; credentials (rotated at will) must not even be hashed.
            "runtime_archive": [strip_credentials(archive.url), archive.sha256] if archive else None,
            # Locked: the lock is what gets installed. Unlocked: the declared requirements are.
            "requirements": None if locked else list(spec.requirements),
            "requirements_hash": locked.requirements_hash if locked else None,
            "install_target": locked.install_target if locked else layer.env_name,
            "platform": platform if locked else None,
        }
    )


class RuntimeLayerBuilder(LayerBuilder):
    """A runtime layer: a pristine relocatable CPython, then its packages installed into it."""

    def __init__(
        self,
        layer: Layer,
        build_dir: Path,
        settings: RuntimeSettings,
        reporter: Reporter,
        install: InstallOptions | None = None,
        locked: LockedLayer | None = None,
    ) -> None:
        super().__init__(layer, build_dir, locked.install_target if locked else layer.env_name, reporter)
        self.settings = settings
        self.install_options = install or InstallOptions()
        self.locked = locked
        self.obtained: ObtainedRuntime | None = None
        self.source: RuntimeSource | None = None
        self.facts: dict[str, str] = {}

    def inputs_hash(self) -> str:
        return runtime_inputs(self.layer, self.locked, self.settings.platform)

    def prepare(self) -> None:
        self.obtained = obtain_runtime(self.layer.spec, self.settings, self.reporter)

    def create(self, staging: Path) -> None:
        assert self.obtained is not None
        source = self.obtained.source
        with self.reporter.step(f"{self.layer.env_name}: preparing CPython {source.version} ({source.kind})"):
            self.source = self.obtained.materialize(staging, self.reporter)
            make_sysconfig_relocatable(staging)
        self.facts = _probe(staging / interpreter_relpath(staging), staging, self.layer)

    def install(self, staging: Path) -> list[str]:
        python = staging / interpreter_relpath(staging)
        return _install(
            self.layer, self.locked, python, self.settings.platform, self.reporter, self.install_options
        )

    def config(self, staging: Path) -> LayerConfig:
        return LayerConfig(
            python=str(interpreter_relpath(staging)),
            py_version=self.facts["version"],
            base_python=str(interpreter_relpath(staging)),
            site_dir=self.facts["site_dir"],
        )

    def record_fields(self) -> dict[str, Any]:
        assert self.source is not None
        return {
            "locked": self.locked is not None,
            "runtime_source": self.source.to_json(),
            "requirements_hash": self.locked.requirements_hash if self.locked else None,
        }

    def built_message(self, packages: list[str]) -> str:
        assert self.source is not None
        return (
            f"{self.layer.env_name}: built CPython {self.facts['version']} from {self.source.kind}"
            f" ({self.build_dir / self.target})"
        )


def _install(
    layer: Layer,
    locked: LockedLayer | None,
    python: Path,
    platform: str,
    reporter: Reporter,
    install: InstallOptions,
) -> list[str]:
    """Install the layer's packages into the staged runtime; returns what was installed."""
    if locked is not None:
        count = len(packages_for(locked.lock, platform))
        if not count:
            return []
        with reporter.step(f"{layer.env_name}: installing {count} package(s)"):
            return install_locked(
                python,
                locked.lock,
                platform,
                reporter,
                label=layer.label,
                index_args=install.index_args,
                env=dict(install.env),
                system=True,
                lock_dir=locked.paths.folder,
            )
    if not layer.spec.requirements:
        return []
    reporter.warn(f"{layer.env_name}: the layer is not locked yet; installing its requirements as declared")
    with reporter.step(f"{layer.env_name}: installing {len(layer.spec.requirements)} requirement(s)"):
        install_requirements(
            python,
            layer.spec.requirements,
            reporter,
            label=layer.label,
            index_args=install.index_args,
            env=dict(install.env),
        )
    return list(layer.spec.requirements)


_PROBE = """
import json, sys, sysconfig
print(json.dumps({
    "prefix": sys.prefix,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "purelib": sysconfig.get_path("purelib"),
}))
"""


def _probe(python: Path, root: Path, layer: Layer) -> dict[str, str]:
    """Run the new runtime once: it must start and know that it lives where it was put.

    ``-B``: bytecode written now would carry the staging path into the layer.
    """
    result = subprocess.run(
        [str(python), "-I", "-B", "-c", _PROBE], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise StackError(f"the runtime does not start: {result.stderr.strip()[-500:]}", layer=layer.label)
    data = json.loads(result.stdout)
    root = root.resolve()
    prefix, purelib = Path(data["prefix"]).resolve(), Path(data["purelib"]).resolve()
    if not prefix.is_relative_to(root) or not purelib.is_relative_to(root):
        raise StackError(
            f"the runtime is not relocatable: it reports sys.prefix {prefix}, outside {root}",
            layer=layer.label,
        )
    return {"version": data["version"], "site_dir": str(purelib.relative_to(root))}
