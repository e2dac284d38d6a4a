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
from typing import TYPE_CHECKING

from pdm_stack.building.build_records import BuildRecord, built_record, inputs_hash, retire_previous_folder
from pdm_stack.building.layer_config import LayerConfig
from pdm_stack.building.locked_install import install_locked, packages_for
from pdm_stack.building.scripts import make_scripts_relocatable
from pdm_stack.building.staging import staged_layer
from pdm_stack.building.uv_install import install_requirements
from pdm_stack.errors import StackError
from pdm_stack.indexes import strip_credentials
from pdm_stack.runtimes.provider import RuntimeSettings, obtain_runtime
from pdm_stack.runtimes.sysconfig_paths import make_sysconfig_relocatable

if TYPE_CHECKING:
    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockedLayer
    from pdm_stack.reporting import Reporter

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


def build_runtime_layer(
    layer: Layer,
    build_dir: Path,
    settings: RuntimeSettings,
    reporter: Reporter,
    *,
    clean: bool = False,
    install: InstallOptions | None = None,
    locked: LockedLayer | None = None,
) -> str:
    """Build ``<build_dir>/<install target>``; returns what happened: ``built`` or ``up to date``."""
    install = install or InstallOptions()
    target = locked.install_target if locked else layer.env_name
    dest = build_dir / target
    wanted = runtime_inputs(layer, locked, settings.platform)
    previous = BuildRecord.read(build_dir, layer.env_name)
    current = built_record(build_dir, layer.env_name)
    if not clean and current is not None and current.inputs_hash == wanted and current.folder == target:
        reporter.info(f"{layer.env_name}: up to date")
        return "up to date"

    obtained = obtain_runtime(layer.spec, settings, reporter)
    with staged_layer(dest) as staging:
        title = f"{layer.env_name}: preparing CPython {obtained.source.version} ({obtained.source.kind})"
        with reporter.step(title):
            source = obtained.materialize(staging, reporter)
            make_sysconfig_relocatable(staging)
        python = staging / interpreter_relpath(staging)
        facts = _probe(python, staging, layer)
        packages = _install(layer, locked, python, settings.platform, reporter, install)
        make_scripts_relocatable(staging / "bin", [staging / "bin"])
        LayerConfig(
            python=str(interpreter_relpath(staging)),
            py_version=facts["version"],
            base_python=str(interpreter_relpath(staging)),
            site_dir=facts["site_dir"],
        ).write(staging)
    BuildRecord(
        env_name=layer.env_name,
        inputs_hash=wanted,
        locked=locked is not None,
        runtime_source=source.to_json(),
        packages=packages,
        install_target=target,
        requirements_hash=locked.requirements_hash if locked else None,
    ).write(build_dir)
    reporter.info(f"{layer.env_name}: built CPython {facts['version']} from {source.kind} ({dest})")
    retire_previous_folder(build_dir, previous, target, reporter)
    return "built"


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
