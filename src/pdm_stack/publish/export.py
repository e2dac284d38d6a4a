"""``export``: built layers as a ready-to-run local deployment, without archives.

The export folder gets exactly what an archive would carry (same filtering, plus each layer's
``postinstall.py``), then the post-install steps run as on a target machine, except that the
bytecode a build compiled (in the very form post-install writes) is linked, not compiled again. Files are hard
links into the build where the file system allows (exporting a gigabyte framework then costs
almost nothing), except the few files post-install may replace, which are copied so the build
(and uv's cache, which the build's files are themselves linked to) can never be changed
through the export. Symlinks stay symlinks.

A re-export builds each layer beside its old copy and swaps it in with two renames, so a layer
folder under its final name is always complete. An export holds the deployer's lock on the folder
(``__venvstacks__/deploy.lock``): a second export or a deployment into it waits, so neither
removes the other's staging folders as leftovers.
"""

from __future__ import annotations

import os
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdm_stack.building.layer_config import is_layer_folder
from pdm_stack.deploy.common import DeployError
from pdm_stack.deploy.deployer import run_postinstall as postinstall_layers
from pdm_stack.deploy.deployment_records import lock_path
from pdm_stack.errors import StackError
from pdm_stack.folder_lock import folder_lock
from pdm_stack.publish.filters import POSTINSTALL_NAME, Member, postinstall_bytes
from pdm_stack.publish.publish_inputs import check_outside_build
from pdm_stack.stack_spec.model import LayerKind

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.publish.publish_inputs import PublishLayer
    from pdm_stack.reporting import Reporter

#: Files post-install may rewrite (by rename, but a hard link must not even be at risk).
_COPIED_NAMES = frozenset({"pyvenv.cfg", "sitecustomize.py"})
_COPIED_DIRS = ("share/venv/metadata/",)
_STAGING_MARK = ".export-"
#: Layers post-installed at once (each compiles its bytecode on every core already).
_POSTINSTALL_JOBS = 4
_PARKED_MARK = ".replaced-"


@dataclass(frozen=True)
class ExportResult:
    layer: PublishLayer
    path: Path
    linked: int
    copied: int


def export_layers(
    layers: Sequence[PublishLayer], export_dir: Path, reporter: Reporter, *, postinstall: bool = True
) -> list[ExportResult]:
    """Export ``layers`` (stack order) into ``export_dir`` and run their post-install steps."""
    script = postinstall_bytes()
    walked = [(layer, layer.members(bytecode=True)) for layer in layers]
    check_outside_build(export_dir, layers, export=True)
    for layer in layers:
        final = export_dir / layer.install_target
        if (final.exists() or final.is_symlink()) and not is_layer_folder(final):
            raise StackError(
                f"{final} is not a layer pdm-stack exported, so an export will not replace it;"
                " move it away or export to another folder",
                layer=layer.env_name,
            )
    # The deployer's lock: another export or a deployment into this folder waits for this one.
    with folder_lock(lock_path(export_dir), reporter, activity=f"export or deployment into {export_dir}"):
        _remove_leftovers(export_dir)
        results = []
        for layer, members in walked:
            with reporter.step(f"{layer.env_name}: exporting to {export_dir / layer.install_target}"):
                results.append(_export_one(layer, members, export_dir, script))
            result = results[-1]
            reporter.detail(f"{layer.env_name}: {result.linked} file(s) hard-linked, {result.copied} copied")
        if postinstall:
            run_postinstall(export_dir, layers, reporter)
    return results


def _export_one(layer: PublishLayer, members: list[Member], export_dir: Path, script: bytes) -> ExportResult:
    final = export_dir / layer.install_target
    staging = export_dir / f".{layer.install_target}{_STAGING_MARK}{secrets.token_hex(4)}"
    linked = copied = 0
    try:
        for member in members:
            dest = staging / member.relpath if member.relpath else staging
            if member.kind == "dir":
                dest.mkdir()
            elif member.kind == "symlink":
                dest.symlink_to(member.link_target)
            elif member.source is not None and _link_or_copy(member, dest):
                linked += 1
            else:
                copied += 1
        (staging / POSTINSTALL_NAME).write_bytes(script)
        _swap(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(layer, final, linked, copied)


def _link_or_copy(member: Member, dest: Path) -> bool:
    """Hard-link ``member`` to ``dest`` when safe and possible; returns whether it was linked."""
    assert member.source is not None
    relpath = member.relpath
    must_copy = relpath.rsplit("/", 1)[-1] in _COPIED_NAMES or relpath.startswith(_COPIED_DIRS)
    if not must_copy:
        try:
            os.link(member.source, dest)
            return True
        except OSError:
            pass  # another file system, no permission, too many links: copy instead
    shutil.copy2(member.source, dest)
    return False


def _swap(staging: Path, final: Path) -> None:
    parked = final.with_name(f".{final.name}{_PARKED_MARK}{secrets.token_hex(4)}")
    if final.exists() or final.is_symlink():
        final.replace(parked)
    staging.replace(final)
    if parked.exists():
        shutil.rmtree(parked, ignore_errors=True)


def _remove_leftovers(export_dir: Path) -> None:
    for mark in (_STAGING_MARK, _PARKED_MARK):
        for leftover in export_dir.glob(f".*{mark}*"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)


def run_postinstall(target: Path, layers: Sequence[PublishLayer], reporter: Reporter) -> None:
    """Run each layer's ``postinstall.py`` with its runtime's interpreter, runtime layers first.

    The deployer's own post-install runner does it, so export and deploy run it the same way.
    """
    ordered = sorted(layers, key=lambda layer: layer.kind is not LayerKind.RUNTIME)
    for layer in ordered:
        python = target / layer.runtime_target / "bin" / "python3"
        if not python.exists():
            raise StackError(
                f"its runtime {layer.runtime_target} is not in {target}; export it too"
                " (add --include-dependencies)",
                layer=layer.env_name,
            )
    runtimes = [layer for layer in ordered if layer.kind is LayerKind.RUNTIME]
    others = [layer for layer in ordered if layer.kind is not LayerKind.RUNTIME]
    with reporter.step(f"Running post-install steps in {target}"):
        try:
            for runtime in runtimes:
                # A layer exported with its build's bytecode needs no compiling.
                postinstall_layers(target, [runtime.install_target], compile_pyc=not runtime.bytecode)
            # Layers on a runtime only read it, so they post-install side by side: the small
            # layers' interpreter starts and checks overlap the big layers' compilation.
            with ThreadPoolExecutor(max_workers=_POSTINSTALL_JOBS, thread_name_prefix="postinstall") as pool:
                futures = [
                    pool.submit(
                        postinstall_layers, target, [layer.install_target], compile_pyc=not layer.bytecode
                    )
                    for layer in others
                ]
                for future in futures:
                    future.result()
        except DeployError as exc:
            raise StackError(f"post-install failed: {exc}", file=str(target)) from exc
