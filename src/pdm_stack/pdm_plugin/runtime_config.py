"""Runtime and index settings for the core, read from PDM's configuration and the project.

Precedence, highest first: command-line option, ``PDM_STACK_*`` environment variable,
``[tool.pdm-stack]`` of the spec file, PDM config (``pdm config stack.*``), built-in default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    import argparse

    from pdm._types import RepositoryConfig
    from pdm.project import Project

    from pdm_stack.indexes import PackageIndex
    from pdm_stack.runtimes.provider import RuntimeSettings
    from pdm_stack.stack import Stack

ENV_VARS = {
    "runtime_mirror": "PDM_STACK_RUNTIME_MIRROR",
    "local_runtime": "PDM_STACK_LOCAL_RUNTIME",
    "register_runtimes": "PDM_STACK_REGISTER_RUNTIMES",
}


def _setting(project: Project, stack: Stack, name: str, cli_value: Any = None) -> Any:
    if cli_value is not None:
        return cli_value
    if ENV_VARS[name] in os.environ:
        return project.config[f"stack.{name}"]
    from_spec = getattr(stack.settings, name)
    if from_spec is not None:
        return from_spec
    return project.config[f"stack.{name}"]


def runtime_settings(project: Project, stack: Stack, options: argparse.Namespace) -> RuntimeSettings:
    # The runtimes package loads when a command runs, not on every pdm run (see common.py).
    from pdm_stack.runtimes.pdm_installs import PdmInstalls
    from pdm_stack.runtimes.provider import RuntimeSettings

    def make_client() -> object:
        from pdm.models.session import PDMPyPIClient

        session = PDMPyPIClient(sources=project.sources, timeout=project.config["request_timeout"])
        project.core.exit_stack.callback(session.close)
        return session

    mirror = _setting(project, stack, "runtime_mirror", getattr(options, "runtime_mirror", None))
    install_root = Path(project.config["python.install_root"]).expanduser()
    return RuntimeSettings(
        cache_dir=project.cache("stack"),
        installed=(PdmInstalls(install_root),),
        mirror=mirror or None,
        local_runtime=_setting(project, stack, "local_runtime", getattr(options, "local_runtime", None)),
        register_root=install_root if _setting(project, stack, "register_runtimes") else None,
        client_factory=make_client,
    )


def package_indexes(project: Project) -> list[PackageIndex]:
    """PDM's sources (pyproject and config, ``${ENV}`` expanded), credentials included."""
    from pdm_stack.indexes import PackageIndex

    indexes = []
    for source in project.sources:
        if not source.url:
            continue
        indexes.append(
            PackageIndex(
                name=source.name or "",
                url=source_url(source),
                kind="find_links" if source.type == "find_links" else "index",
                verify_ssl=source.verify_ssl is not False,
            )
        )
    return indexes


def source_url(source: RepositoryConfig) -> str:
    """The source's URL with its credentials, percent-encoded so the URL stays parseable.

    PDM pastes a configured (or keyring) ``username``/``password`` into the URL as they are: a
    token holding ``/`` or ``@`` would then move the host, break uv's URL parsing and escape the
    credential masking of messages. ``${ENV}`` credentials in the URL itself PDM already encodes.
    """
    assert source.url is not None
    source.populate_keyring_auth()
    if not source.username or not source.password:
        url = source.url_with_credentials
        return str(getattr(url, "secret", url))
    parts = urlsplit(source.url)
    host = parts.netloc.rpartition("@")[2]
    userinfo = f"{quote(source.username, safe='')}:{quote(source.password, safe='')}"
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))
