"""Building a runtime layer: a pristine relocatable CPython plus the layer's packages."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pdm_stack.build.installer import install_requirements
from pdm_stack.build.layer_config import LayerConfig
from pdm_stack.build.records import BuildRecord, inputs_hash, is_built
from pdm_stack.build.scripts import make_scripts_relocatable
from pdm_stack.build.staging import staged_layer
from pdm_stack.errors import StackError
from pdm_stack.runtimes.provider import RuntimeSettings, obtain_runtime
from pdm_stack.runtimes.sysconfig_paths import make_sysconfig_relocatable

if TYPE_CHECKING:
    from pdm_stack.graph import Layer
    from pdm_stack.reporting import Reporter


@dataclass(frozen=True)
class InstallOptions:
    """How packages are fetched (indexes as uv arguments; credentials only in ``env``)."""

    index_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def interpreter_relpath(layer_dir: Path) -> Path:
    if sys.platform == "win32":
        return Path("python.exe")
    return Path("bin/python3")


def runtime_inputs(layer: Layer) -> str:
    spec = layer.spec
    archive = spec.runtime_archive
    return inputs_hash(
        {
            "python_implementation": spec.python_implementation,
            "requirements": list(spec.requirements),
            "runtime_archive": [archive.url, archive.sha256] if archive else None,
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
) -> str:
    """Build ``<build_dir>/<env name>``; returns what happened: ``built`` or ``up to date``."""
    install = install or InstallOptions()
    dest = build_dir / layer.env_name
    wanted = runtime_inputs(layer)
    record = BuildRecord.read(build_dir, layer.env_name)
    if (
        not clean
        and record is not None
        and record.inputs_hash == wanted
        and is_built(build_dir, layer.env_name)
    ):
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
        if layer.spec.requirements:
            reporter.warn(
                f"{layer.env_name}: the layer is not locked yet; installing its requirements as declared"
            )
            with reporter.step(f"{layer.env_name}: installing {len(layer.spec.requirements)} requirement(s)"):
                install_requirements(
                    python,
                    layer.spec.requirements,
                    reporter,
                    label=layer.label,
                    index_args=install.index_args,
                    env=dict(install.env),
                )
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
        locked=False,
        runtime_source=source.to_json(),
        packages=list(layer.spec.requirements),
    ).write(build_dir)
    reporter.info(f"{layer.env_name}: built CPython {facts['version']} from {source.kind} ({dest})")
    return "built"


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
