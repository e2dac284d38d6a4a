"""PDM front end: ``pdm stack ...``.

Loaded through the ``pdm`` entry point group. Importing this package must stay cheap and must not
fail, because PDM only reports "Failed to load plugin" for a plugin that raises here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm.exceptions import PdmUsageError
from pdm.project.config import ConfigItem
from pdm.signals import pdm_signals

from pdm_stack.pdm_plugin.hooks import register_hooks
from pdm_stack.pdm_plugin.project_file import read_project_file_first
from pdm_stack.pdm_plugin.stack import StackCommand
from pdm_stack.pdm_plugin.use import refuse_installs_into_layer
from pdm_stack.stack_spec.field_values import DEFAULT_LOCAL_RUNTIME, LOCAL_RUNTIME_MODES

if TYPE_CHECKING:
    from pdm.core import Core


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class _Checked:
    """A ``coerce`` that rejects a bad value with one line naming the key, its env var and what
    is allowed: PDM would otherwise use a typo as a value, or fall back to a default silently."""

    def __init__(self, key: str, env_var: str, choices: tuple[str, ...], *, boolean: bool = False) -> None:
        self.key, self.env_var, self.choices, self.boolean = key, env_var, choices, boolean

    def __call__(self, value: object) -> object:
        if self.boolean and isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if self.boolean and text in _TRUE + _FALSE:
            return text in _TRUE
        if not self.boolean and text in self.choices:
            return text
        raise PdmUsageError(
            f"config {self.key} (env var {self.env_var}): {str(value)!r} is not one of"
            f" {', '.join(self.choices)}"
        )


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
        coerce=_Checked("stack.local_runtime", "PDM_STACK_LOCAL_RUNTIME", LOCAL_RUNTIME_MODES),
    ),
    "stack.register_runtimes": ConfigItem(
        "Install downloaded runtimes into python.install_root so `pdm python list` shows them",
        True,
        env_var="PDM_STACK_REGISTER_RUNTIMES",
        coerce=_Checked(
            "stack.register_runtimes", "PDM_STACK_REGISTER_RUNTIMES", ("true", "false"), boolean=True
        ),
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
    register_hooks()
    pdm_signals.signal("pre_invoke").connect(refuse_installs_into_layer, weak=False)
    for name, item in CONFIG_ITEMS.items():
        core.add_config(name, item)
