"""PDM front end: ``pdm stack ...``.

Loaded through the ``pdm`` entry point group. Importing this package must stay cheap and must not
fail, because PDM only reports "Failed to load plugin" for a plugin that raises here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.project.config import ConfigItem

from pdm_stack.pdm_plugin.project_file import read_project_file_first
from pdm_stack.pdm_plugin.stack import StackCommand
from pdm_stack.stack_spec.targets import DEFAULT_LOCAL_RUNTIME, LOCAL_RUNTIME_MODES

if TYPE_CHECKING:
    from pdm.core import Core


def _as_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    return value.strip().lower() in {"1", "true", "yes", "on"}


CONFIG_ITEMS: dict[str, ConfigItem] = {
    "stack.runtime_mirror": ConfigItem(
        "Base URL or local folder with python-build-standalone archives under their original names",
        "",
        env_var="PDM_STACK_RUNTIME_MIRROR",
    ),
    "stack.local_runtime": ConfigItem(
        f"When to make runtimes from a CPython on this machine: {', '.join(LOCAL_RUNTIME_MODES)}",
        DEFAULT_LOCAL_RUNTIME,
        env_var="PDM_STACK_LOCAL_RUNTIME",
    ),
    "stack.register_runtimes": ConfigItem(
        "Install downloaded runtimes into python.install_root so `pdm python list` shows them",
        True,
        env_var="PDM_STACK_REGISTER_RUNTIMES",
        coerce=_as_bool,
    ),
    "stack.registry_username": ConfigItem(
        "User name for OCI registries (pdm stack publish --to oci://..., pdm stack deploy oci://...)",
        "",
        env_var="PDM_STACK_REGISTRY_USERNAME",
    ),
    "stack.registry_password": ConfigItem(
        "Password or token for OCI registries (else Docker's config.json is used)",
        "",
        env_var="PDM_STACK_REGISTRY_PASSWORD",
    ),
}


def register(core: Core) -> None:
    """Entry point: adds ``pdm stack`` and the ``stack.*`` config keys."""
    core.register_command(StackCommand, "stack")
    read_project_file_first(core)
    for name, item in CONFIG_ITEMS.items():
        core.add_config(name, item)
