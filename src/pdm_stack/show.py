"""The data behind ``stack show``: one record per layer, as text or as the documented JSON.

The JSON shape is a public interface (docs/show-json.md) used by IDEs and scripts: add fields,
never rename or drop them. Values a capability cannot know yet are ``null``/``false``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pdm_stack import __version__
from pdm_stack.lock.layer_lock import LockPaths
from pdm_stack.lock.stack_lock import LockedLayer, install_target
from pdm_stack.stack_spec.loader import display_path
from pdm_stack.stack_spec.model import LayerKind
from pdm_stack.stack_spec.modules import import_name
from pdm_stack.status import LayerStatus, layer_status

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pdm_stack.graph import Layer
    from pdm_stack.lock.layer_lock import LockStatus
    from pdm_stack.stack import Stack

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LayerReport:
    layer: Layer
    status: LayerStatus
    #: Why the lock is not valid (empty when it is, or when locks were not checked).
    lock_reasons: tuple[str, ...] = ()
    lock_version: int | None = None

    def to_json(self) -> dict[str, Any]:
        spec = self.layer.spec
        return {
            "name": spec.name,
            "kind": spec.kind.value,
            "env_name": spec.env_name,
            "install_target": self.status.install_target,
            "runtime": self.layer.runtime,
            "python_implementation": spec.python_implementation,
            "frameworks": list(spec.frameworks),
            "depends_on": list(self.layer.depends_on),
            "platforms": list(self.layer.platforms),
            "requirements": list(spec.requirements),
            "launch_module": str(spec.launch_module) if spec.launch_module else None,
            "support_modules": [str(p) for p in spec.support_modules],
            "lock_file": str(self.status.lock_file) if self.status.lock_file else None,
            "lock_valid": self.status.lock_valid,
            "lock_version": self.lock_version,
            "lock_problems": list(self.lock_reasons),
            "build_dir": str(self.status.build_dir) if self.status.build_dir else None,
            "built": self.status.built,
        }


def collect_reports(
    stack: Stack, layers: list[Layer], locks: Mapping[str, LockStatus] | None = None
) -> list[LayerReport]:
    """Reports for ``layers``; ``locks`` (from :func:`lock_statuses`) fills the lock fields."""
    reports = []
    for layer in layers:
        lock = (locks or {}).get(layer.env_name)
        if lock is None:
            reports.append(LayerReport(layer, layer_status(stack, layer)))
            continue
        paths = LockPaths.of(stack.settings.requirements_dir, layer.env_name)
        locked = None
        if lock.valid and lock.lock is not None and lock.meta is not None:
            locked = LockedLayer(
                layer.env_name, lock.lock, lock.meta, paths, install_target(layer, lock.meta)
            )
        status = replace(
            layer_status(stack, layer, locked),
            lock_file=paths.pylock if paths.pylock.is_file() else None,
            lock_valid=lock.valid,
        )
        reasons = () if lock.valid else lock.reasons
        reports.append(LayerReport(layer, status, reasons, locked.lock_version if locked else None))
    return reports


def stack_json(stack: Stack, reports: list[LayerReport]) -> dict[str, Any]:
    settings = stack.settings
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "pdm_stack_version": __version__,
        "spec_file": str(stack.spec.path),
        "settings": {
            "build_dir": str(settings.build_dir),
            "output_dir": str(settings.output_dir),
            "export_dir": str(settings.export_dir),
            "requirements_dir": str(settings.requirements_dir),
        },
        "warnings": list(stack.spec.warnings),
        "layers": [report.to_json() for report in reports],
    }


def render_tree(stack: Stack, reports: list[LayerReport]) -> list[str]:
    """Human-readable tree: each runtime, with the frameworks and apps built on it below."""
    lines = [f"Stack {display_path(stack.spec.path)} {stack.spec.table}"]
    runtimes = [r for r in reports if r.layer.kind is LayerKind.RUNTIME]
    others = [r for r in reports if r.layer.kind is not LayerKind.RUNTIME]
    shown_runtimes = {rt.layer.name for rt in runtimes}
    for runtime in runtimes:
        spec = runtime.layer.spec
        lines.append(f"{spec.env_name}  {spec.python_implementation}  {_status(runtime, None)}")
        children = [r for r in others if r.layer.runtime == runtime.layer.name]
        for position, child in enumerate(children):
            branch = "└──" if position == len(children) - 1 else "├──"
            lines.append(f"{branch} {_describe(child)}  {_status(child, runtime.layer.platforms)}")
    # Layers selected without their runtime (e.g. --include app-*) are listed flat.
    lines.extend(
        f"{_describe(r)}  {_status(r, None)}" for r in others if r.layer.runtime not in shown_runtimes
    )
    return lines


def _describe(report: LayerReport) -> str:
    layer = report.layer
    text = layer.env_name
    frameworks = [d for d in layer.depends_on if d != layer.runtime]
    if frameworks:
        text += f" <- {', '.join(frameworks)}"
    if layer.spec.launch_module is not None:
        text += f"  [python -m {import_name(layer.spec.launch_module)}]"
    return text


def _status(report: LayerReport, runtime_platforms: tuple[str, ...] | None) -> str:
    """Requirements count, platforms (only where they differ from the runtime's), lock and build."""
    layer, status = report.layer, report.status
    parts = [f"{len(layer.spec.requirements)} requirement(s)"]
    if not layer.platforms:
        parts.append("disabled: no platforms")
    elif layer.platforms != runtime_platforms:
        parts.append(" ".join(layer.platforms))
    parts.append("locked" if status.lock_valid else ("stale lock" if status.lock_file else "not locked"))
    if status.build_dir is not None:
        parts.append("built" if status.built else "not built")
    return f"({'; '.join(parts)})"
