"""The ``--json`` documents of the stack commands (lock, build, publish, export, deploy, verify).

Every front end prints the same documents, so they are built here from the core's results, once.
The shape is a public interface (docs/json-output.md) read by IDEs and CI scripts: add fields,
never rename or drop them. A failed command prints :func:`error_document` instead, so a caller
never has to parse the human messages on stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pdm_stack import __version__
from pdm_stack.errors import StackError, StackErrors
from pdm_stack.status import layer_status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from pdm_stack.deploy.verify import LayerVerification
    from pdm_stack.graph import Layer
    from pdm_stack.lock.layer_lock import LockStatus
    from pdm_stack.lock.stack_lock import LayerLockOutcome, LockedLayer
    from pdm_stack.publish.export import ExportResult
    from pdm_stack.publish.oci_push import PushResult
    from pdm_stack.publish.publish import PublishResult
    from pdm_stack.stack import Stack

#: Bumped only for an incompatible change of any command's document.
SCHEMA_VERSION = 1

#: Exit codes shared by every command (documented in docs/json-output.md).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def command_document(command: str, layers: Sequence[Mapping[str, Any]], **fields: Any) -> dict[str, Any]:
    """The document of a command that ran to its end; ``ok`` is false only for failed layers."""
    return {
        "schema_version": SCHEMA_VERSION,
        "pdm_stack_version": __version__,
        "command": command,
        "ok": all(layer.get("status") != "failed" for layer in layers),
        **fields,
        "layers": [dict(layer) for layer in layers],
    }


def error_document(command: str, error: BaseException, *, exit_code: int = EXIT_FAILED) -> dict[str, Any]:
    """The document of a command that stopped: the one-line message and its locators."""
    errors = error.errors if isinstance(error, StackErrors) else [error]
    return {
        "schema_version": SCHEMA_VERSION,
        "pdm_stack_version": __version__,
        "command": command,
        "ok": False,
        "exit_code": exit_code,
        "error": {
            "message": "\n".join(str(e) for e in errors),
            "errors": [_error_json(e) for e in errors],
        },
        "layers": [],
    }


def _error_json(error: BaseException) -> dict[str, Any]:
    if isinstance(error, StackError):
        return {"message": error.message, "file": error.file, "layer": error.layer, "field": error.field}
    return {"message": str(error), "file": None, "layer": None, "field": None}


def _path(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _layer_fields(layer: Layer) -> dict[str, Any]:
    return {"name": layer.name, "env_name": layer.env_name, "kind": layer.kind.value}


def _lock_fields(locked: LockedLayer | None) -> dict[str, Any]:
    if locked is None:
        return {"lock_file": None, "lock_version": None, "locked_at": None, "requirements_hash": None}
    return {
        "lock_file": str(locked.paths.pylock),
        "lock_version": locked.lock_version,
        "locked_at": locked.meta.get("locked_at"),
        "requirements_hash": locked.requirements_hash,
    }


def lock_layers_json(stack: Stack, outcomes: Sequence[LayerLockOutcome]) -> list[dict[str, Any]]:
    """``status``: ``locked`` (uv ran), ``up to date`` or ``skipped`` (no target platform)."""
    from pdm_stack.lock.layer_lock import LockPaths

    layers = []
    for outcome in outcomes:
        layer = outcome.layer
        paths = LockPaths.of(stack.settings.requirements_dir, layer.env_name)
        meta = outcome.result.meta if outcome.result is not None else {}
        layers.append(
            {
                **_layer_fields(layer),
                "status": outcome.outcome,
                "changed": outcome.changed,
                "lock_file": str(paths.pylock) if paths.pylock.is_file() else None,
                "meta_file": str(paths.meta) if paths.meta.is_file() else None,
                "lock_version": meta.get("lock_version"),
                "locked_at": meta.get("locked_at"),
                "requirements_hash": meta.get("requirements_hash"),
                "written": [str(p) for p in outcome.result.written] if outcome.result else [],
            }
        )
    return layers


def lock_check_layers_json(
    layers: Sequence[Layer], statuses: Mapping[str, LockStatus]
) -> list[dict[str, Any]]:
    """``lock --check``: ``up to date``, ``stale`` (with why) or ``skipped`` (no platforms)."""
    result = []
    for layer in layers:
        lock = statuses.get(layer.env_name)
        problems = list(lock.reasons) if lock is not None and not lock.valid else []
        status = (
            "skipped"
            if not layer.platforms
            else ("stale" if lock is None or not lock.valid else "up to date")
        )
        result.append({**_layer_fields(layer), "status": status, "lock_problems": problems})
    return result


def build_layers_json(
    stack: Stack,
    layers: Sequence[Layer],
    outcomes: Mapping[str, str],
    locks: Mapping[str, LockedLayer],
) -> list[dict[str, Any]]:
    """``status``: ``built``, ``up to date`` or ``skipped`` (not built for this platform)."""
    result = []
    for layer in layers:
        locked = locks.get(layer.env_name)
        status = layer_status(stack, layer, locked)
        result.append(
            {
                **_layer_fields(layer),
                "status": outcomes.get(layer.env_name, "skipped"),
                "install_target": status.install_target,
                "path": _path(status.build_dir),
                **_lock_fields(locked),
            }
        )
    return result


def publish_layers_json(results: Sequence[PublishResult]) -> list[dict[str, Any]]:
    """``status``: ``published``, ``unchanged`` (rewritten, same bytes), ``skipped`` (inputs did not
    change), or with ``--dry-run`` ``would publish`` / ``would skip``."""
    layers = []
    for result in results:
        layer, metadata = result.layer, result.metadata or {}
        layers.append(
            {
                "env_name": layer.env_name,
                "kind": layer.kind.value,
                "status": result.outcome,
                "install_target": layer.install_target,
                "lock_version": layer.lock_version,
                "locked_at": layer.locked_at,
                "archive": str(result.archive),
                "archive_name": result.archive.name,
                "archive_build": metadata.get("archive_build"),
                "archive_size": metadata.get("archive_size"),
                "archive_sha256": metadata.get("archive_hashes", {}).get("sha256"),
            }
        )
    return layers


def publish_registry_json(pushed: PushResult | None) -> dict[str, Any]:
    """``publish --to oci://...``: the ``registry`` field (nothing for a folder or a dry run).

    Per layer ``blob`` is ``uploaded`` or ``already present`` (nothing was sent)."""
    if pushed is None:
        return {}
    layers = [
        {
            "env_name": layer.layer_name,
            "install_target": layer.install_target,
            "blob": "uploaded" if layer.uploaded else "already present",
            "digest": layer.digest,
            "size": layer.size,
            "manifest_digest": layer.manifest_digest,
            "tags": list(layer.tags),
        }
        for layer in pushed.layers
    ]
    return {"registry": {"stack": pushed.stack, "index_digest": pushed.index_digest, "layers": layers}}


def export_layers_json(results: Sequence[ExportResult]) -> list[dict[str, Any]]:
    return [
        {
            "env_name": result.layer.env_name,
            "kind": result.layer.kind.value,
            "status": "exported",
            "install_target": result.layer.install_target,
            "lock_version": result.layer.lock_version,
            "path": str(result.path),
            "files_linked": result.linked,
            "files_copied": result.copied,
        }
        for result in results
    ]


def deploy_layers_json(target: Path, outcome: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """``status``: ``deployed`` or ``up to date``."""
    return [
        {"install_target": name, "status": status, "path": str(target / name)} for name, status in outcome
    ]


def verify_layers_json(target: Path, results: Sequence[LayerVerification]) -> list[dict[str, Any]]:
    """``status``: ``ok`` or ``failed``; files ``added`` are reported without failing the layer."""
    return [
        {
            "install_target": result.install_target,
            "kind": result.layer_kind,
            "status": "ok" if result.ok else "failed",
            "path": str(target / result.install_target),
            "missing": list(result.missing),
            "modified": list(result.modified),
            "added": list(result.added),
            "problems": list(result.problems),
        }
        for result in results
    ]
