"""Build and publish as every front end runs them: from valid locks, for this platform only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.building.runtime_layer import InstallOptions
from pdm_stack.building.stack_build import build_layers
from pdm_stack.host import host_platform
from pdm_stack.indexes import uv_index_environment
from pdm_stack.lock.stack_lock import load_locked_layers
from pdm_stack.publish.publish_inputs import plan_layers

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pdm_stack.graph import Layer
    from pdm_stack.lock.stack_lock import LockOptions
    from pdm_stack.publish.publish_inputs import PublishLayer
    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.provider import RuntimeSettings
    from pdm_stack.stack import Stack


def build_locked_layers(
    stack: Stack,
    layers: Sequence[Layer],
    runtime_settings: RuntimeSettings,
    locking: LockOptions,
    reporter: Reporter,
    *,
    clean: bool = False,
) -> dict[str, str]:
    """Build ``layers`` from their current locks; a missing or stale lock is one error, before
    anything is built. Returns ``{env name: outcome}`` as :func:`build_layers` does."""
    locks = load_locked_layers(stack, layers, locking)
    # Only for credentials: files come from the URLs in the locks, no index is searched.
    install = InstallOptions(env=tuple(uv_index_environment(locking.indexes).items()))
    return build_layers(stack, layers, runtime_settings, reporter, clean=clean, install=install, locks=locks)


def keep_console_scripts(layer: Layer) -> bool:
    """``[tool.pdm-stack] keep_console_scripts`` names this application layer."""
    return layer.spec.keep_console_scripts


def publishable_layers(
    stack: Stack, layers: Sequence[Layer], locking: LockOptions, reporter: Reporter
) -> list[PublishLayer]:
    """The selected layers for this platform, with valid locks, checked to be built.

    Layers not built for this platform are reported and left out, so one command can publish a
    multi-platform stack on each platform in turn.
    """
    platform = host_platform()
    here = []
    for layer in layers:
        if platform in layer.platforms:
            here.append(layer)
        else:
            reporter.info(f"{layer.env_name}: skipped (not built for {platform})")
    locks = load_locked_layers(stack, here, locking)
    return plan_layers(
        stack.graph,
        here,
        locks,
        stack.settings.build_dir,
        keep_console_scripts=keep_console_scripts,
        spec_root=stack.spec.root,
        platform=platform,
    )
