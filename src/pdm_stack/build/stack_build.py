"""``build``: bring the selected layers of a stack up to date, one atomic layer at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.build.runtime_layer import InstallOptions, build_runtime_layer
from pdm_stack.build.staging import build_lock, clean_stale_staging
from pdm_stack.spec.model import LayerKind

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.graph import Layer
    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.provider import RuntimeSettings
    from pdm_stack.stack import Stack


def build_layers(
    stack: Stack,
    layers: Sequence[Layer],
    runtime_settings: RuntimeSettings,
    reporter: Reporter,
    *,
    clean: bool = False,
    install: InstallOptions | None = None,
) -> dict[str, str]:
    """Build ``layers`` in stack order; returns ``{env name: outcome}``."""
    build_dir: Path = stack.settings.build_dir
    build_dir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, str] = {}
    with build_lock(build_dir, reporter):
        clean_stale_staging(build_dir)
        for layer in layers:
            if runtime_settings.platform not in layer.platforms:
                reporter.info(f"{layer.env_name}: skipped (not built for {runtime_settings.platform})")
                outcomes[layer.env_name] = "skipped"
            elif layer.kind is LayerKind.RUNTIME:
                outcomes[layer.env_name] = build_runtime_layer(
                    layer, build_dir, runtime_settings, reporter, clean=clean, install=install
                )
            else:
                outcomes[layer.env_name] = "not supported"
    unsupported = [name for name, outcome in outcomes.items() if outcome == "not supported"]
    if unsupported:
        reporter.warn(
            f"not built: {', '.join(unsupported)} (this version of pdm-stack builds runtime layers only)"
        )
    return outcomes
