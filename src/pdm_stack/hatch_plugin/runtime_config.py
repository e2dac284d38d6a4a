"""Runtime settings for builds under Hatch: Hatch-managed Pythons first, then the usual sources.

Precedence, highest first: ``PDM_STACK_*`` environment variable, target option,
``[tool.pdm-stack]`` of the spec, built-in default; environment variables win over files so a
CI job can override a project's choice. Downloads are cached in Hatch's cache folder and never
added to Hatch's own installs (Hatch keeps metadata there that this builder does not write).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pdm_stack.errors import StackError
from pdm_stack.runtimes.hatch_installs import HatchInstalls, hatch_config, hatch_pythons_dir
from pdm_stack.runtimes.provider import RuntimeSettings
from pdm_stack.stack_spec.field_values import DEFAULT_LOCAL_RUNTIME, LOCAL_RUNTIME_MODES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pdm_stack.hatch_plugin.options import TargetOptions
    from pdm_stack.stack import Stack

MIRROR_ENV_VAR = "PDM_STACK_RUNTIME_MIRROR"
LOCAL_RUNTIME_ENV_VAR = "PDM_STACK_LOCAL_RUNTIME"


def hatch_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Hatch's cache folder: ``HATCH_CACHE_DIR``, else config ``dirs.cache``, else platformdirs'."""
    env = os.environ if env is None else env
    dirs = hatch_config(env).get("dirs")
    configured = dirs.get("cache") if isinstance(dirs, dict) else None
    value = env.get("HATCH_CACHE_DIR") or configured
    if not isinstance(value, str) or not value:
        import platformdirs

        value = platformdirs.user_cache_dir("hatch", appauthor=False)
    return Path(os.path.expandvars(value)).expanduser()


def runtime_settings(
    stack: Stack, options: TargetOptions, env: Mapping[str, str] | None = None
) -> RuntimeSettings:
    env = os.environ if env is None else env
    local = env.get(LOCAL_RUNTIME_ENV_VAR) or options.local_runtime or stack.settings.local_runtime
    if local and local not in LOCAL_RUNTIME_MODES:
        modes = ", ".join(LOCAL_RUNTIME_MODES)
        raise StackError(f"{LOCAL_RUNTIME_ENV_VAR} must be one of {modes}, not {local!r}")
    mirror = env.get(MIRROR_ENV_VAR) or options.runtime_mirror or stack.settings.runtime_mirror
    return RuntimeSettings(
        cache_dir=hatch_cache_dir(env) / "pdm-stack",
        installed=(HatchInstalls(hatch_pythons_dir(env)),),
        mirror=mirror or None,
        local_runtime=local or DEFAULT_LOCAL_RUNTIME,
    )
