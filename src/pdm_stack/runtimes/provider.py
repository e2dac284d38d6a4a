"""Where a runtime layer's CPython comes from, tried in a fixed, documented order.

1. an explicit ``runtime_archive`` of the layer (URL or path + sha256);
2. interpreters a tool already installed (``RuntimeSettings.installed``: PDM's
   ``python.install_root`` for ``pdm stack``, Hatch's ``hatch python install`` folder for the Hatch
   builder), newest matching first: no download;
3. (``local_runtime = "prefer"``) a CPython already on this machine, made relocatable;
4. a python-build-standalone download (or the configured mirror), sha256-verified and cached,
   then (with ``register_root``) installed into PDM's install root so later projects reuse it;
5. (``local_runtime = "fallback"``, the default) a local CPython, with a warning.

Every step is reported at ``-v`` so users can see why a source was or was not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pdm_stack.errors import StackError
from pdm_stack.host import host_platform
from pdm_stack.indexes import strip_credentials
from pdm_stack.runtimes.download import fetch_archive
from pdm_stack.runtimes.local import LocalInterpreter, find_local_interpreters
from pdm_stack.runtimes.pbs import RuntimeArchive, resolve_pbs_archive
from pdm_stack.runtimes.relocate import make_relocatable_runtime, runtime_content_hash
from pdm_stack.runtimes.requests import RuntimeRequest
from pdm_stack.runtimes.unpack import register_in_pdm_install_root, unpack_runtime_archive
from pdm_stack.stack_spec.field_values import DEFAULT_LOCAL_RUNTIME, LOCAL_RUNTIME_MODES

if TYPE_CHECKING:
    from collections.abc import Callable

    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.installed import InstalledRuntimes
    from pdm_stack.stack_spec.model import LayerSpec


@dataclass(frozen=True)
class RuntimeSettings:
    """How runtimes may be obtained; front ends fill it from their configuration."""

    #: pdm-stack's own cache: verified archives and unpacked custom runtimes. Survives --clean.
    cache_dir: Path
    #: Tool-managed interpreter installs tried, in order, before anything is downloaded.
    installed: tuple[InstalledRuntimes, ...] = ()
    mirror: str | None = None
    local_runtime: str = DEFAULT_LOCAL_RUNTIME
    #: Also install downloaded runtimes here, named as ``pdm python install`` names them, so the
    #: tool lists and reuses them (PDM's ``python.install_root``); None keeps them in the cache.
    register_root: Path | None = None
    #: Makes the HTTP client for downloads (PDM's session, with its proxies and certificates).
    client_factory: Callable[[], object] | None = None
    platform: str = field(default_factory=host_platform)

    def __post_init__(self) -> None:
        if self.local_runtime not in LOCAL_RUNTIME_MODES:
            raise StackError(
                f"local_runtime {self.local_runtime!r} is not one of {', '.join(LOCAL_RUNTIME_MODES)}",
                field="local_runtime",
            )


@dataclass(frozen=True)
class RuntimeSource:
    """Provenance of a runtime, recorded with the built layer."""

    kind: str  # archive | pdm-install | hatch-install | download | mirror | local
    version: str
    #: A folder or the archive's URL, never with credentials (build records are not secret).
    location: str
    #: sha256 of the archive the runtime was unpacked from (downloads, mirrors, custom archives).
    sha256: str | None = None
    #: ``sha256:<hex>`` over the runtime tree, for runtimes made from a local CPython.
    content_hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "location": self.location,
            "sha256": self.sha256,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True)
class ObtainedRuntime:
    """A pristine runtime ready to be copied into a layer (never modified in place)."""

    source: RuntimeSource
    tree: Path | None = None
    local: LocalInterpreter | None = None

    def materialize(self, dest: Path, reporter: Reporter) -> RuntimeSource:
        """Create ``dest`` from this runtime; returns the source record (local ones get their hash)."""
        if self.local is not None:
            make_relocatable_runtime(self.local, dest, reporter)
            return RuntimeSource(
                "local", self.source.version, self.source.location, content_hash=runtime_content_hash(dest)
            )
        assert self.tree is not None
        import shutil

        shutil.copytree(self.tree, dest, symlinks=True)
        return self.source


def parse_request(layer: LayerSpec) -> RuntimeRequest:
    try:
        return RuntimeRequest.parse(layer.python_implementation or "")
    except ValueError as exc:
        raise StackError(str(exc), layer=layer.label, field="python_implementation") from None


def obtain_runtime(layer: LayerSpec, settings: RuntimeSettings, reporter: Reporter) -> ObtainedRuntime:
    """Find or fetch the runtime for ``layer`` following the documented order."""
    request = parse_request(layer)
    if layer.runtime_archive is not None:
        return _from_custom_archive(layer, request, settings, reporter)

    for installed in settings.installed:
        found = installed.find(request)
        if found:
            version, folder = found[0]
            reporter.detail(
                f"{layer.label}: using {installed.tool}'s install of CPython {version} at {folder}"
            )
            return ObtainedRuntime(RuntimeSource(installed.kind, version, str(folder)), tree=folder)
        reporter.detail(f"{layer.label}: no install matching {request} in {installed.describe()}")

    if settings.local_runtime == "prefer":
        local = _local(request, layer, reporter, required=False)
        if local is not None:
            return local
    try:
        return _download(request, layer, settings, reporter)
    except StackError as exc:
        if settings.local_runtime != "fallback":
            raise
        reporter.detail(f"{layer.label}: download failed: {exc}")
        series_found: list[LocalInterpreter] = []
        local = _local(request, layer, reporter, required=False, series_found=series_found)
        if local is None:
            raise StackError(
                f"{exc.message}; {_no_local_match(request, series_found)}",
                layer=layer.label,
                field="python_implementation",
            ) from exc
        reporter.warn(
            f"{layer.label}: {exc.message}. Falling back to a relocatable copy of the local CPython"
            f" {local.source.version} at {local.source.location}; it links this machine's system"
            ' libraries (local_runtime = "never" forbids this fallback).'
        )
        return local


def _local_interpreters(request: RuntimeRequest) -> tuple[list[LocalInterpreter], list[LocalInterpreter]]:
    """``(matching, same series)``: local interpreters for ``request``, and all of its ``X.Y`` series
    (what an error can offer instead), from one search of the machine (searching is slow)."""
    series = ".".join(request.version.split(".")[:2])
    found = find_local_interpreters(request.implementation, series, request.free_threaded)
    wanted = request.version.split(".")
    return [c for c in found if c.version.split(".")[: len(wanted)] == wanted], found


def _no_local_match(request: RuntimeRequest, series_found: list[LocalInterpreter]) -> str:
    """The second half of "no source has it": what this machine has instead, and the way out."""
    if not request.is_exact or not series_found:
        return f"no PDM install or local CPython matches {request} either"
    series = ".".join(request.version.split(".")[:2])
    versions = ", ".join(dict.fromkeys(interpreter.version for interpreter in series_found))
    return (
        f"no PDM install or local CPython is {request.version} either (this machine has {versions});"
        f" an exact version must match exactly, 'cpython@{series}' takes any {series}"
    )


def _local(
    request: RuntimeRequest,
    layer: LayerSpec,
    reporter: Reporter,
    *,
    required: bool,
    series_found: list[LocalInterpreter] | None = None,
) -> ObtainedRuntime | None:
    candidates, found = _local_interpreters(request)
    if series_found is not None:
        series_found[:] = found
    if not candidates:
        reporter.detail(f"{layer.label}: no usable local interpreter matches {request}")
        if required:
            raise StackError(f"no local CPython matching {request} found", layer=layer.label)
        return None
    chosen = candidates[0]
    reporter.detail(
        f"{layer.label}: using local CPython {chosen.version} ({chosen.kind} build) at {chosen.prefix}"
    )
    return ObtainedRuntime(RuntimeSource("local", chosen.version, str(chosen.prefix)), local=chosen)


def _download(
    request: RuntimeRequest, layer: LayerSpec, settings: RuntimeSettings, reporter: Reporter
) -> ObtainedRuntime:
    archive = resolve_pbs_archive(request, settings.platform, settings.mirror)
    kind = "mirror" if settings.mirror else "download"
    reporter.detail(
        f"{layer.label}: {kind} {strip_credentials(archive.url, mask=True)} (sha256 {archive.sha256})"
    )
    client = settings.client_factory() if settings.client_factory is not None else None
    archive_file = fetch_archive(archive, settings.cache_dir / "archives", reporter, client)
    source = RuntimeSource(kind, archive.version, strip_credentials(archive.url), archive.sha256)
    if settings.register_root is not None:
        folder = register_in_pdm_install_root(
            archive_file, settings.register_root, request, original_filename=archive.filename
        )
        reporter.detail(f"{layer.label}: installed CPython {archive.version} into PDM's {folder}")
        return ObtainedRuntime(source, tree=folder)
    return ObtainedRuntime(source, tree=_unpacked(archive_file, archive, settings))


def _from_custom_archive(
    layer: LayerSpec, request: RuntimeRequest, settings: RuntimeSettings, reporter: Reporter
) -> ObtainedRuntime:
    assert layer.runtime_archive is not None
    url, sha256 = layer.runtime_archive.url, layer.runtime_archive.sha256
    filename = unquote(Path(urlsplit(url).path).name) or "runtime-archive"
    archive = RuntimeArchive(url=url, sha256=sha256, filename=filename, version=request.version)
    reporter.detail(
        f"{layer.label}: custom runtime archive {strip_credentials(url, mask=True)} (sha256 {sha256})"
    )
    archive_file = fetch_archive(archive, settings.cache_dir / "archives", reporter, _client(settings, url))
    tree = _unpacked(archive_file, archive, settings)
    return ObtainedRuntime(
        RuntimeSource("archive", request.version, strip_credentials(url), sha256), tree=tree
    )


def _client(settings: RuntimeSettings, url: str) -> object | None:
    if "://" in url and not url.startswith("file:") and settings.client_factory is not None:
        return settings.client_factory()
    return None


def _unpacked(archive_file: Path, archive: RuntimeArchive, settings: RuntimeSettings) -> Path:
    """Unpack once per archive digest into the cache; the cached tree is never modified."""
    folder = settings.cache_dir / "runtimes" / archive.sha256[:32]
    if not folder.exists():
        unpack_runtime_archive(archive_file, folder, original_filename=archive.filename)
    return folder
