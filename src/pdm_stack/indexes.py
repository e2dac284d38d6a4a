"""Package indexes as uv sees them, with credentials kept out of argv and files.

Front ends describe their sources (PDM's ``[[tool.pdm.source]]`` and config) as
:class:`PackageIndex` values; :func:`uv_index_environment` turns them into environment variables
for uv, the one place credentials may travel. Command lines and anything we write only ever show
:meth:`PackageIndex.public_url`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


@dataclass(frozen=True)
class PackageIndex:
    name: str
    #: The URL as configured, possibly with ``user:password@``; never log or write it.
    url: str
    kind: str = "index"  # index | find_links
    verify_ssl: bool = True
    #: Only for distributions pinned to it with ``package_indexes`` (uv's ``explicit = true``).
    explicit: bool = False
    #: Replaces PyPI as the index searched last (uv's ``default = true``).
    default: bool = False
    #: What lock hashes record instead of the URL, e.g. a project folder's path relative to the
    #: project, so a checkout in another place does not make every lock stale.
    identity: str | None = None

    @property
    def public_url(self) -> str:
        """The URL without credentials, safe for messages, locks and metadata."""
        return strip_credentials(self.url)

    @property
    def lock_identity(self) -> str:
        """How lock hashes see the index's location (never with credentials)."""
        return self.identity or self.public_url


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


def url_problem(index: PackageIndex) -> str | None:
    """What makes the index's URL unusable, or ``None``.

    uv takes a malformed index URL for an index that has no packages and reports the first
    requirement as missing, so the URL is checked before any lock runs.
    """
    url = index.url
    if any(char.isspace() for char in url):
        return "it contains white space"
    parts = urlsplit(url)
    if not parts.scheme:
        return "it has no scheme; expected http://, https:// or file://"
    if parts.scheme not in ("http", "https", "file"):
        return f"unknown scheme '{parts.scheme}'; expected http://, https:// or file://"
    if parts.scheme != "file" and not parts.hostname:
        return "it has no host; expected e.g. https://host/simple"
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        return "its port is not a number"
    return None


_USERINFO = re.compile(r"://[^/\s@`'\"]+@")


def mask_credentials(text: str) -> str:
    """``text`` (e.g. a tool's error output) with every ``://user:password@`` shown as ``://***@``."""
    return _USERINFO.sub("://***@", text)


def uv_env_name(index_name: str) -> str:
    """The upper-case form uv uses for an index name in ``UV_INDEX_<NAME>_USERNAME``."""
    return re.sub(r"[^A-Za-z0-9]", "_", index_name).upper()


def split_indexes(
    indexes: Sequence[PackageIndex],
    *,
    priority: Sequence[str] = (),
    explicit: Iterable[str] = (),
) -> tuple[list[PackageIndex], list[PackageIndex]]:
    """``(general, pinned)``: the order uv searches for any package, and the indexes kept for pins.

    ``priority`` names move to the front of the search order; otherwise the index named ``pypi``
    is searched last (uv's default index), after the project's own indexes. ``explicit`` names
    (the targets of ``package_indexes``) are only used for the distributions pinned to them, so a
    special-purpose index (a PyTorch CPU index, a private mirror) never leaks other packages into
    the lock.
    """
    explicit_names = set(explicit)
    rank = {name: position for position, name in enumerate(priority)}
    general = [index for index in indexes if index.name not in explicit_names and not index.explicit]
    general.sort(
        key=lambda index: (rank.get(index.name, len(rank)), index.name == "pypi" and index.name not in rank)
    )
    pinned = [index for index in indexes if index.name in explicit_names]
    return general, pinned


def uv_index_environment(
    indexes: Sequence[PackageIndex], *, pinned: Sequence[PackageIndex] = (), ordered: bool = False
) -> dict[str, str]:
    """Environment variables that make uv search ``indexes`` in order (find-links too).

    The last regular index is uv's default index; the others come before it in ``UV_INDEX``,
    highest priority first. Unless ``indexes`` is already in search order (``ordered``, as
    :func:`split_indexes` returns it), the index named ``pypi`` is moved last, after the
    project's own indexes. ``pinned`` indexes are declared in
    uv's input file without credentials; their credentials travel here as
    ``UV_INDEX_<NAME>_USERNAME``/``_PASSWORD``.
    """
    env: dict[str, str] = {}
    regular = [index for index in indexes if index.kind != "find_links"]
    links = [index for index in indexes if index.kind == "find_links"]
    if regular:
        if not ordered:
            regular.sort(key=lambda index: index.name == "pypi")
        *others, default = regular
        env["UV_DEFAULT_INDEX"] = _named(default)
        if others:
            env["UV_INDEX"] = " ".join(_named(index) for index in others)
    if links:
        env["UV_FIND_LINKS"] = " ".join(index.url for index in links)
    for index in pinned:
        parts = urlsplit(index.url)
        if parts.username is not None:
            env[f"UV_INDEX_{uv_env_name(index.name)}_USERNAME"] = unquote(parts.username)
        if parts.password is not None:
            env[f"UV_INDEX_{uv_env_name(index.name)}_PASSWORD"] = unquote(parts.password)
    insecure = sorted(
        {urlsplit(index.url).hostname or "" for index in (*indexes, *pinned) if not index.verify_ssl} - {""}
    )
    if insecure:
        env["UV_INSECURE_HOST"] = " ".join(insecure)
    return env


def _named(index: PackageIndex) -> str:
    """``name=url`` when the name is one uv accepts, so uv's messages can name the index."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", index.name or ""):
        return f"{index.name}={index.url}"
    return index.url
