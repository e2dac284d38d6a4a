"""Package indexes as uv sees them, with credentials kept out of argv and files.

Front ends describe their sources (PDM's ``[[tool.pdm.source]]`` and config) as
:class:`PackageIndex` values; :func:`uv_index_environment` turns them into environment variables
for uv, the one place credentials may travel. Command lines and anything we write only ever show
:meth:`PackageIndex.public_url`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


@dataclass(frozen=True)
class PackageIndex:
    name: str
    #: The URL as configured, possibly with ``user:password@``; never log or write it.
    url: str
    kind: str = "index"  # index | find_links
    verify_ssl: bool = True

    @property
    def public_url(self) -> str:
        """The URL without credentials, safe for messages, locks and metadata."""
        return strip_credentials(self.url)


def strip_credentials(url: str, *, mask: bool = False) -> str:
    """``url`` without ``user:password@``; ``mask`` leaves ``***@`` so messages show some were set."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if mask:
        host = f"***@{host}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def uv_index_environment(indexes: list[PackageIndex]) -> dict[str, str]:
    """Environment variables that make uv use ``indexes`` (first index first, find-links too)."""
    env: dict[str, str] = {}
    regular = [index for index in indexes if index.kind != "find_links"]
    links = [index for index in indexes if index.kind == "find_links"]
    if regular:
        env["UV_INDEX_URL"] = regular[0].url
        if len(regular) > 1:
            env["UV_EXTRA_INDEX_URL"] = " ".join(index.url for index in regular[1:])
    if links:
        env["UV_FIND_LINKS"] = " ".join(index.url for index in links)
    insecure = sorted(
        {urlsplit(index.url).hostname or "" for index in indexes if not index.verify_ssl} - {""}
    )
    if insecure:
        env["UV_INSECURE_HOST"] = " ".join(insecure)
    return env
