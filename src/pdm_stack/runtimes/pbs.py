"""Choosing the python-build-standalone archive for a runtime request and a target platform.

pbs-installer ships a table of every PBS release with its sha256, so no network access is needed to
decide *what* to download, and the checksum we verify against never comes from the server we
download from. That is what makes mirrors safe: a mirror only ever supplies bytes, and bytes that
differ from the upstream release are rejected.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import quote, unquote, urlsplit
from urllib.request import url2pathname

from pdm_stack.errors import StackError
from pdm_stack.indexes import strip_credentials
from pdm_stack.stack_spec.field_values import PLATFORMS

if TYPE_CHECKING:
    from typing import Literal

    from pdm_stack.runtimes.requests import RuntimeRequest

__all__ = [
    "MIRROR_CONFIG_KEY",
    "MIRROR_ENV_VAR",
    "RuntimeArchive",
    "mirror_url",
    "resolve_pbs_archive",
]

#: Where front ends read the mirror from (PDM config key and its environment variable).
MIRROR_CONFIG_KEY = "stack.runtime_mirror"
MIRROR_ENV_VAR = "PDM_STACK_RUNTIME_MIRROR"

#: pbs-installer's (platform, arch) of each target platform (``stack_spec.field_values.PLATFORMS``).
_PBS_TARGETS: dict[str, tuple[str, str]] = {
    "linux_x86_64": ("linux", "x86_64"),
    "linux_aarch64": ("linux", "aarch64"),
    "macosx_arm64": ("macos", "aarch64"),
    "macosx_x86_64": ("macos", "x86_64"),
    "win_amd64": ("windows", "x86_64"),
    "win_arm64": ("windows", "aarch64"),
}

_RELEASE_PATH_RE = re.compile(r"/releases/download/(?P<tag>[^/]+)/[^/]+$")
_FILENAME_TAG_RES = (
    re.compile(r"^cpython-[^+]+\+(?P<tag>\d{8})-"),  # cpython-3.11.7+20240107-...
    re.compile(r"-(?P<tag>\d{8})T\d{4}\.tar\."),  # cpython-3.10.0-...-20211017T1616.tar.zst
)


@dataclass(frozen=True)
class RuntimeArchive:
    """One downloadable runtime build, pinned by the sha256 from pbs-installer's table.

    ``version`` is the full version (``3.11.7``, ``3.13.1t`` for free-threaded builds) and
    ``filename`` the upstream file name, which is also the name used in caches and mirrors.
    """

    url: str
    sha256: str
    filename: str
    version: str

    @property
    def release_tag(self) -> str | None:
        """The PBS release (``20240107``) the archive belongs to, if it can be told."""
        return release_tag(self.url, self.filename)


def release_tag(url: str, filename: str) -> str | None:
    """The GitHub release tag of a PBS archive, from its URL or (for mirrored URLs) its file name."""
    match = _RELEASE_PATH_RE.search(urlsplit(url).path)
    if match is not None:
        return unquote(match["tag"])
    for regex in _FILENAME_TAG_RES:
        match = regex.search(filename)
        if match is not None:
            return match["tag"]
    return None


def _is_url(mirror: str) -> bool:
    """Tell URLs from paths, without mistaking a Windows drive letter (``C:``) for a scheme."""
    scheme = urlsplit(mirror).scheme
    return len(scheme) > 1


def mirror_url(mirror: str, filename: str, tag: str | None) -> str:
    """Where ``filename`` lives on ``mirror``.

    Two layouts are understood. A plain base URL or directory is flat (``<mirror>/<filename>``),
    which is what ``PBS_INSTALLER_BASE_URL`` (and so ``pdm python install``) expects. A mirror
    containing ``{tag}`` follows the GitHub release layout, e.g. ``https://mirror/pbs/{tag}``, as
    uv's ``UV_PYTHON_INSTALL_MIRROR`` does; ``{filename}`` may be placed explicitly too. A local
    directory is checked for both layouts, flat first.
    """
    if "{tag}" in mirror and tag is None:
        shown = strip_credentials(mirror, mask=True)
        raise StackError(f"cannot place {filename} in mirror {shown!r}: its PBS release tag is unknown")
    if _is_url(mirror) and not mirror.startswith("file:"):
        quoted = quote(filename, safe="")
        expanded = mirror.replace("{tag}", quote(tag or "", safe=""))
        if "{filename}" in expanded:
            return expanded.replace("{filename}", quoted)
        return f"{expanded.rstrip('/')}/{quoted}"

    base = url2pathname(urlsplit(mirror).path) if mirror.startswith("file:") else mirror
    expanded = base.replace("{tag}", tag or "")
    if "{filename}" in expanded:
        candidates = [Path(expanded.replace("{filename}", filename))]
    elif "{tag}" in base:
        candidates = [Path(expanded) / filename]
    else:
        candidates = [Path(base) / filename]
        if tag is not None:
            candidates.append(Path(base) / tag / filename)
    candidates = [c.expanduser().absolute() for c in candidates]
    chosen = next((c for c in candidates if c.is_file()), candidates[0])
    return chosen.as_uri()


def pbs_installer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pbs-installer")
    except PackageNotFoundError:  # pragma: no cover - it is a dependency
        return "unknown"


def series_is_known(request: RuntimeRequest) -> bool:
    """Whether python-build-standalone has any build of the request's ``X.Y`` series.

    Checked when the spec is read, offline, from pbs-installer's table: a series no platform has
    (``cpython@3.99``) would otherwise be locked for (rewriting the runtime's lock) and fail
    later with a message blaming the first package without wheels for it.
    """
    from pbs_installer import get_download_link

    series = ".".join(request.version.split(".")[:2]) + ("t" if request.free_threaded else "")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
        for pbs_platform, arch in set(_PBS_TARGETS.values()):
            try:
                get_download_link(series, arch=arch, platform=pbs_platform, build_dir=False)
            except ValueError:
                continue
            return True
    return False


def resolve_pbs_archive(request: RuntimeRequest, platform: str, mirror: str | None = None) -> RuntimeArchive:
    """Pick the archive for ``request`` on ``platform`` (a venvstacks platform name).

    pbs-installer's ``get_download_link`` does the version matching, so ``3.12`` means the same
    build here as in ``pdm python install 3.12``; it prefers the ``install_only(_stripped)`` build
    and falls back to the full build only for releases that have no install-only variant.
    Without ``mirror``, ``PBS_INSTALLER_BASE_URL`` (read by pbs-installer at import) still applies,
    so a mirror configured for PDM also works here.
    """
    from pbs_installer import get_download_link

    try:
        pbs_platform, arch = _PBS_TARGETS[platform]
    except KeyError:
        raise StackError(
            f"unknown platform {platform!r} for runtime {request}: expected one of {', '.join(PLATFORMS)}"
        ) from None
    try:
        with warnings.catch_warnings():
            # pbs-installer loads its table with a deprecated importlib.resources call on first use.
            warnings.filterwarnings("ignore", "open_text is deprecated", DeprecationWarning)
            version, (url, sha256) = get_download_link(
                request.pbs_request,
                arch=arch,
                platform=pbs_platform,
                implementation=cast("Literal['cpython', 'pypy']", request.implementation),
                build_dir=False,
            )
    except ValueError:
        raise StackError(
            f"no python-build-standalone build of {request} for {platform} is known to "
            f"pbs-installer {pbs_installer_version()}; pick another version or upgrade pbs-installer"
        ) from None
    full_version = f"{version.major}.{version.minor}.{version.micro}{'t' if version.freethreaded else ''}"
    filename = unquote(url.rsplit("/", 1)[-1])
    if not sha256:
        raise StackError(
            f"pbs-installer has no sha256 for {filename} ({request} on {platform}); refusing to use "
            "a runtime that cannot be verified"
        )
    if mirror:
        url = mirror_url(mirror, filename, release_tag(url, filename))
    return RuntimeArchive(url=url, sha256=sha256.lower(), filename=filename, version=full_version)
