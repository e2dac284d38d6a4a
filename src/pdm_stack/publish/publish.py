"""``publish``: one reproducible archive per layer plus its metadata, into the output folder.

Order of writes per layer: archive to a temporary name, rename into place, then its metadata;
the combined ``venvstacks.json`` comes last. Whatever point a publish is interrupted at, every
metadata file names an archive that exists (and a stale per-layer file is caught by the deployer's
sha256 check, never silently used). A publish holds ``__venvstacks__/publish.lock`` in the output
folder, so a second publish into it waits instead of removing the first one's partial files.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pdm_stack.atomic_files import write_atomically
from pdm_stack.deploy import STANDALONE_PACKAGE, STANDALONE_SCRIPT_NAME, standalone_files
from pdm_stack.deploy.common import human_size
from pdm_stack.errors import StackError
from pdm_stack.folder_lock import folder_lock
from pdm_stack.host import host_platform
from pdm_stack.publish.archive import archive_name, write_archive
from pdm_stack.publish.build_numbers import PublishState, fingerprint, next_build, unchanged
from pdm_stack.publish.filters import Member, postinstall_bytes
from pdm_stack.publish.formats import DEFAULT_FORMAT, ArchiveFormat
from pdm_stack.publish.publish_inputs import check_outside_build
from pdm_stack.publish.published_metadata import (
    METADATA_DIR,
    layer_metadata,
    metadata_path,
    read_metadata,
    write_combined,
)
from pdm_stack.publish.published_metadata import write_json as write_metadata

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from concurrent.futures import Executor
    from pathlib import Path

    from pdm_stack.publish.publish_inputs import PublishLayer
    from pdm_stack.reporting import Reporter

#: The lock file a publish holds, in the metadata folder of the output folder.
PUBLISH_LOCK = "publish.lock"
#: Build paths shorter than this are not searched for in shipped files (too many false hits).
_MIN_SCANNED_PATH = 8

Outcome = Literal["published", "unchanged", "skipped", "would publish", "would skip"]


@dataclass(frozen=True)
class PublishOptions:
    output_dir: Path
    archive_format: ArchiveFormat = DEFAULT_FORMAT
    #: Put the target platform and build number into archive names.
    tag_outputs: bool = False
    dry_run: bool = False
    #: Write archives even for layers whose inputs did not change since the last publish.
    force: bool = False
    target_platform: str = field(default_factory=host_platform)
    #: Compression threads (default: one per core). The bytes written do not depend on it.
    workers: int | None = None
    #: Layers archived at the same time (default: 2 on multi-core machines). Overlapping layers
    #: keeps every core busy while one layer's last chunks are still being compressed.
    layer_jobs: int | None = None


@dataclass(frozen=True)
class PublishResult:
    layer: PublishLayer
    outcome: Outcome
    #: The archive's final path (its expected path for a dry run).
    archive: Path
    metadata: dict[str, Any] | None = None


def lock_time(locked_at: str, *, layer: str) -> int:
    """The lock time as the integer epoch used for every archive member's mtime."""
    try:
        moment = datetime.fromisoformat(locked_at)
    except ValueError:
        raise StackError(
            f"the lock's locked_at '{locked_at}' is not an ISO time; run 'pdm stack lock'", layer=layer
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int(moment.timestamp()))


@contextlib.contextmanager
def publish_lock(output_dir: Path, reporter: Reporter) -> Iterator[None]:
    """Hold the output folder's publish lock (a second publish into it waits).

    :func:`publish_layers` takes it itself; a caller that goes on using the folder's contents
    after publishing (a registry push) holds it around both and passes ``locked=True``, so no
    other publish changes the archives between them.
    """
    with folder_lock(
        output_dir / METADATA_DIR / PUBLISH_LOCK, reporter, activity=f"publish into {output_dir}"
    ):
        yield


def publish_layers(
    layers: Sequence[PublishLayer], options: PublishOptions, reporter: Reporter, *, locked: bool = False
) -> list[PublishResult]:
    """Publish ``layers`` (stack order) into ``options.output_dir``; see the module docstring.

    ``locked``: the caller already holds :func:`publish_lock` for the output folder.
    """
    postinstall = postinstall_bytes()
    # Walk (and validate) every layer before writing anything.
    walked = [(layer, layer.members()) for layer in layers]
    output_dir = options.output_dir
    check_outside_build(output_dir, layers)
    if options.dry_run:
        return [_dry_run(layer, members, options, postinstall, reporter) for layer, members in walked]

    if locked:
        return _publish_all(walked, options, postinstall, reporter)
    # A second publish into this folder waits: its clean-up would remove this one's partial files.
    with publish_lock(output_dir, reporter):
        return _publish_all(walked, options, postinstall, reporter)


def _publish_all(
    walked: list[tuple[PublishLayer, list[Member]]],
    options: PublishOptions,
    postinstall: bytes,
    reporter: Reporter,
) -> list[PublishResult]:
    output_dir = options.output_dir
    _remove_partials(output_dir)
    workers = options.workers or os.cpu_count() or 1
    layer_jobs = max(1, min(len(walked), options.layer_jobs or (2 if workers > 1 else 1)))
    results: list[PublishResult] = []
    with (
        reporter.step(f"Publishing {len(walked)} layer(s) to {output_dir}"),
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="compress") as pool,
        ThreadPoolExecutor(max_workers=layer_jobs, thread_name_prefix="layer") as layer_pool,
    ):
        # Messages are collected per layer and shown in stack order, whatever finishes first.
        stop = threading.Event()
        futures = [
            layer_pool.submit(_publish_one, layer, members, options, postinstall, pool, workers, stop)
            for layer, members in walked
        ]
        try:
            for future in futures:
                result, messages = future.result()
                for level, message in messages:
                    (reporter.warn if level == "warn" else reporter.info)(message)
                results.append(result)
        except BaseException:
            # Ctrl-C or a failed layer: the other layers abandon their (temporary) archives.
            # Queued compression tasks are dropped too (a layer waiting for one gets a
            # CancelledError and cleans up): otherwise stopping would wait for every queued xz
            # block to be compressed, several seconds after Ctrl-C.
            stop.set()
            for future in futures:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        write_combined(output_dir)
        _write_deployer(output_dir, reporter)
    return results


def _naming(options: PublishOptions) -> str:
    return f"tagged:{options.target_platform}" if options.tag_outputs else "plain"


def _previous(layer: PublishLayer, options: PublishOptions) -> dict[str, Any] | None:
    """The layer's last published metadata, whatever its format.

    Build numbers count across formats on purpose: restarting at 1 for another format and
    coming back later would give two different archives the same tagged name.
    """
    return read_metadata(metadata_path(options.output_dir, layer.kind, layer.env_name))


def _publish_one(
    layer: PublishLayer,
    members: list[Member],
    options: PublishOptions,
    postinstall: bytes,
    pool: Executor,
    workers: int,
    stop: threading.Event,
) -> tuple[PublishResult, list[tuple[str, str]]]:
    """Publish one layer; returns its result and its messages (shown by the caller, in order)."""
    messages: list[tuple[str, str]] = []
    output_dir, fmt = options.output_dir, options.archive_format
    build_dir = layer.folder.parent
    previous = _previous(layer, options)
    wanted = fingerprint(layer, members, archive_format=fmt, postinstall=postinstall, naming=_naming(options))
    state = PublishState.read(build_dir, layer.install_target)
    if not options.force and unchanged(state, wanted, output_dir, previous):
        assert previous is not None
        name = str(previous["archive_name"])
        messages.append(
            (
                "info",
                f"{layer.env_name}: unchanged since the last publish, skipped ({name},"
                f" build {previous['archive_build']}; --force republishes it)",
            )
        )
        return PublishResult(layer, "skipped", output_dir / name, previous), messages

    written = write_archive(
        members,
        layer.install_target,
        postinstall,
        output_dir,
        fmt,
        mtime=lock_time(layer.locked_at, layer=layer.label),
        pool=pool,
        workers=workers,
        build_paths=_build_paths(build_dir),
        stop=stop,
    )
    try:
        build = next_build(previous, written.sha256)
        tag = (options.target_platform, build) if options.tag_outputs else None
        name = archive_name(layer.install_target, fmt, tag=tag)
        metadata = layer_metadata(
            layer,
            archive_build=build,
            archive_name=name,
            archive_format=fmt,
            target_platform=options.target_platform,
            archive_size=written.size,
            archive_unpacked_size=written.unpacked_size,
            archive_sha256=written.sha256,
        )
        final = output_dir / name
        written.temp_path.replace(final)
    finally:
        written.temp_path.unlink(missing_ok=True)
    write_metadata(metadata_path(output_dir, layer.kind, layer.env_name), metadata)
    info = final.stat()
    state = PublishState(
        wanted, str(output_dir.resolve()), name, written.sha256, (info.st_size, info.st_mtime_ns)
    )
    state.write(build_dir, layer.install_target)
    if written.build_path_hits:
        hits = written.build_path_hits
        messages.append(
            (
                "warn",
                f"{layer.env_name}: {len(hits)} shipped file(s) mention the build folder {build_dir}"
                f" (first: {hits[0]}); the layer may not work where it is deployed",
            )
        )
    same = previous is not None and previous.get("archive_build") == build
    outcome: Outcome = "unchanged" if same else "published"
    size = human_size(written.size)
    if same:
        messages.append(
            ("info", f"{layer.env_name}: {name} rewritten, content unchanged ({size}, build {build})")
        )
    else:
        messages.append(("info", f"{layer.env_name}: published {name} ({size}, build {build})"))
    return PublishResult(layer, outcome, final, metadata), messages


def _dry_run(
    layer: PublishLayer,
    members: list[Member],
    options: PublishOptions,
    postinstall: bytes,
    reporter: Reporter,
) -> PublishResult:
    previous = _previous(layer, options)
    fmt = options.archive_format
    wanted = fingerprint(layer, members, archive_format=fmt, postinstall=postinstall, naming=_naming(options))
    state = PublishState.read(layer.folder.parent, layer.install_target)
    if not options.force and unchanged(state, wanted, options.output_dir, previous):
        assert previous is not None
        name = str(previous["archive_name"])
        reporter.info(f"{layer.env_name}: would skip {name} (unchanged since the last publish)")
        return PublishResult(layer, "would skip", options.output_dir / name, previous)
    build = next_build(previous, "")
    tag = (options.target_platform, build) if options.tag_outputs else None
    name = archive_name(layer.install_target, options.archive_format, tag=tag)
    files = sum(1 for m in members if m.kind == "file")
    size = sum(m.size for m in members)
    note = f"build {build}" if previous is None else f"build {build} if its content changed"
    reporter.info(
        f"{layer.env_name}: would publish {name} ({files} files, {human_size(size)} uncompressed, {note})"
    )
    return PublishResult(layer, "would publish", options.output_dir / name)


def _build_paths(build_dir: Path) -> list[str]:
    paths = {str(build_dir.absolute()), str(build_dir.resolve())}
    return sorted(p for p in paths if len(p) >= _MIN_SCANNED_PATH)


def _remove_partials(output_dir: Path) -> None:
    """Temporary files of a publish that was killed (never under a final name, so safe to drop)."""
    subfolders = [*output_dir.joinpath(METADATA_DIR).glob("*"), output_dir / STANDALONE_PACKAGE]
    for folder in (output_dir, *subfolders):
        for partial in folder.glob(".*.partial") if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                partial.unlink()


def _write_deployer(output_dir: Path, reporter: Reporter) -> None:
    """Write the standalone deployer next to the archives: ``deploy_stack_lib/`` (its modules,
    verbatim), then the ``deploy_stack.py`` stub that runs them, each file atomically."""
    try:
        files = standalone_files()
    except (OSError, ModuleNotFoundError):
        reporter.warn(
            f"the standalone deployer is missing from this pdm-stack; {STANDALONE_SCRIPT_NAME} not written"
        )
        return
    for name, data in files.items():
        dest = output_dir.joinpath(*name.split("/"))
        write_atomically(dest, data, mode=0o755 if name == STANDALONE_SCRIPT_NAME else None)
    # Modules an older pdm-stack wrote and this one no longer has.
    for stale in sorted(output_dir.joinpath(STANDALONE_PACKAGE).glob("*.py")):
        if f"{STANDALONE_PACKAGE}/{stale.name}" not in files:
            stale.unlink()
