"""Deploy published stack layers into a folder: ``python3 deploy_stack.py [ARTIFACTS] TARGET``.

This one file is the whole deployer. ``pdm stack publish`` copies it next to the archives, so a
target machine needs nothing but a Python 3.9+ interpreter; ``pdm stack deploy`` imports it, so
both behave the same. Standard library only (``zstandard`` only for ``.tar.zst`` before 3.14).

Deploying a layer: the archive's size and sha256 are checked against the published metadata
before anything is written; it is unpacked member by member into a hidden folder beside its final
place (absolute names, ``..``, hard links, devices and symlinks that leave TARGET are refused);
its ``postinstall.py`` runs there with the runtime's interpreter (runtimes first; every path in a
layer is relative, so the result is the same under the final name); then it is renamed into
place. A layer whose record names the same archive sha256 is skipped, so deploying again changes
nothing. ``TARGET/__venvstacks__/deployed/<install target>.json`` keeps each layer's metadata and
a sha256 of every unpacked file for ``pdm stack verify``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

METADATA_DIR = "__venvstacks__"
COMBINED_METADATA = "venvstacks.json"
#: Per-kind metadata folders and the layer kind they hold, lowest layers first.
KIND_FOLDERS = (("runtimes", "runtime"), ("frameworks", "framework"), ("applications", "application"))
#: Deployment records, inside TARGET but never inside a layer folder.
DEPLOYED_DIR = Path(METADATA_DIR, "deployed")
RECORD_FORMAT = 1
#: Install targets and archive names are plain names: no separators, no leading dot.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*\Z")
_ABSOLUTE = re.compile(r"[/\\]|[A-Za-z]:")
_CHUNK = 1 << 20
#: Decompression errors of the optional zstd readers, added when one is imported.
_ZSTD_ERRORS: list[type[Exception]] = []

Layer = dict[str, Any]


class DeployError(Exception):
    """A problem that stops the deployment, reported in one line."""


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- metadata and selection -------------------------------------------------------------------


def _checked(layer: Any, source: Path, kind: str) -> Layer:
    """A layer entry whose names are safe to use as paths and whose archive facts are present."""
    if not isinstance(layer, dict):
        raise DeployError(f"{source}: a layer entry is not a JSON object")
    kind = layer.get("layer_kind") or kind
    if kind == "runtime" and not layer.get("runtime_layer"):
        layer = dict(layer, runtime_layer=layer.get("install_target"))
    for key in ("layer_name", "install_target", "archive_name", "runtime_layer"):
        if not isinstance(layer.get(key), str) or not _PLAIN_NAME.match(layer[key]):
            raise DeployError(f"{source}: field '{key}' is missing or not a plain name")
    name = layer["install_target"]
    hashes = layer.get("archive_hashes")
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise DeployError(f"{source}: {name}: field 'archive_hashes' has no sha256")
    if not isinstance(layer.get("archive_size"), int):
        raise DeployError(f"{source}: {name}: field 'archive_size' is missing")
    required = layer.get("required_layers") or []
    if not isinstance(required, list) or not all(
        isinstance(r, str) and _PLAIN_NAME.match(r) for r in required
    ):
        raise DeployError(f"{source}: {name}: field 'required_layers' must list plain names")
    interpreter = layer.get("bound_to_implementation")
    if kind == "runtime" and interpreter is not None and not _inside_layer(interpreter):
        # Post-install runs this file: it must lie inside the runtime layer's own folder.
        raise DeployError(
            f"{source}: {name}: field 'bound_to_implementation' must be a relative path inside the layer"
        )
    return dict(layer, layer_kind=kind, required_layers=required)


def _inside_layer(relative: Any) -> bool:
    """A ``/``-separated path that stays inside the folder it is relative to."""
    if not isinstance(relative, str) or not relative or _ABSOLUTE.match(relative):
        return False
    return not any(part in ("", ".", "..") or "\\" in part for part in relative.split("/"))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DeployError(f"{path}: cannot read metadata ({exc})") from None


def load_metadata(artifacts: Path) -> list[Layer]:
    """Every published layer, lower layers first; from ``venvstacks.json`` or per-layer files."""
    meta_dir = artifacts / METADATA_DIR
    combined = meta_dir / COMBINED_METADATA
    found: list[Layer] = []
    if combined.is_file():
        groups = _read_json(combined)
        groups = groups.get("layers") if isinstance(groups, dict) else None
        if not isinstance(groups, dict):
            raise DeployError(f"{combined}: no 'layers' table")
        for folder, kind in KIND_FOLDERS:
            found.extend(_checked(layer, combined, kind) for layer in groups.get(folder) or [])
    else:
        for folder, kind in KIND_FOLDERS:
            files = sorted((meta_dir / folder).glob("*.json"))
            found.extend(_checked(_read_json(path), path, kind) for path in files)
    if not found:
        raise DeployError(f"{artifacts}: no published layers (no {METADATA_DIR}/{COMBINED_METADATA})")
    return _dependency_order(found)


def _requires(layer: Layer) -> list[str]:
    lower = [layer["runtime_layer"], *layer["required_layers"]]
    return [name for name in lower if name != layer["install_target"]]


def _dependency_order(layers: list[Layer]) -> list[Layer]:
    """Lower layers before the layers that need them, otherwise in the published order."""
    by_target = {layer["install_target"]: layer for layer in layers}
    ordered: list[Layer] = []

    def place(layer: Layer, chain: tuple[str, ...]) -> None:
        name = layer["install_target"]
        if any(done is layer for done in ordered):
            return
        if name in chain:
            raise DeployError(f"layers require each other: {' -> '.join((*chain, name))}")
        for lower in _requires(layer):
            if lower not in by_target:
                raise DeployError(f"{name} requires layer '{lower}', which is not published here")
            place(by_target[lower], (*chain, name))
        if by_target[layer["runtime_layer"]]["layer_kind"] != "runtime":
            raise DeployError(f"{name}: its runtime_layer '{layer['runtime_layer']}' is not a runtime layer")
        ordered.append(layer)

    for layer in layers:
        place(layer, ())
    return ordered


def _short_name(layer: Layer) -> str:
    name = str(layer["layer_name"])
    for prefix in ("framework-", "app-"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def select_layers(layers: list[Layer], names: Sequence[str] = (), apps: Sequence[str] = ()) -> list[Layer]:
    """The named layers (name, env name or install target) plus every layer they need."""
    if not names and not apps:
        return list(layers)
    by_target = {layer["install_target"]: layer for layer in layers}
    wanted: set[str] = set()
    for name, app_only in [(n, False) for n in names] + [(n, True) for n in apps]:
        candidates = [layer for layer in layers if not app_only or layer["layer_kind"] == "application"]
        # A full name wins over a short one; a short name shared by two layers is ambiguous.
        matches = [layer for layer in candidates if name in (layer["install_target"], layer["layer_name"])]
        matches = matches or [layer for layer in candidates if name == _short_name(layer)]
        if len(matches) > 1:
            found = ", ".join(layer["install_target"] for layer in matches)
            raise DeployError(f"'{name}' names several published layers ({found}): use one of those names")
        if not matches:
            known = ", ".join(layer["install_target"] for layer in layers)
            kind = "application" if app_only else "layer"
            raise DeployError(f"no published {kind} named '{name}' (published: {known})")
        pending = [matches[0]["install_target"]]
        while pending:
            current = pending.pop()
            if current not in wanted:
                wanted.add(current)
                pending.extend(_requires(by_target[current]))
    return [layer for layer in layers if layer["install_target"] in wanted]


# --- archives ---------------------------------------------------------------------------------


def archive_format(layer: Layer) -> str:
    for suffix in ("tar.gz", "tar.xz", "tar.zst"):
        if layer.get("archive_format") == suffix or layer["archive_name"].endswith("." + suffix):
            return suffix
    raise DeployError(f"{layer['archive_name']}: unknown archive format")


def check_archive(artifacts: Path, layer: Layer) -> Path:
    """The archive's path once its size and sha256 match the metadata (before any unpacking)."""
    name: str = layer["install_target"]
    path = artifacts / str(layer["archive_name"])
    if not path.is_file():
        raise DeployError(f"{name}: archive {path.name} is missing from {artifacts}")
    size = path.stat().st_size
    if size != layer["archive_size"]:
        raise DeployError(
            f"{name}: archive {path.name} has {size} bytes but the metadata says"
            f" {layer['archive_size']}: refusing a modified or truncated archive"
        )
    if sha256_file(path) != layer["archive_hashes"]["sha256"]:
        raise DeployError(
            f"{name}: sha256 of {path.name} does not match the metadata: refusing a modified archive"
        )
    return path


class _HashingReader(io.RawIOBase):
    """The bytes of an open archive, hashed as the decompressor reads them: what is unpacked is
    exactly what was hashed, even if the file is replaced or rewritten after it was checked."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._stream.read(len(view))
        view[: len(data)] = data
        self.digest.update(data)
        return len(data)

    def drain(self) -> str:
        """Hash the rest of the file (what the tar reader did not need); the sha256 of it all."""
        for chunk in iter(lambda: self._stream.read(_CHUNK), b""):
            self.digest.update(chunk)
        return self.digest.hexdigest()


@contextlib.contextmanager
def open_archive(path: Path, fmt: str, source: BinaryIO | None = None) -> Iterator[tarfile.TarFile]:
    """A streaming tar reader (one pass, no seeking) for the three published formats, reading
    ``source`` (the archive's bytes, e.g. a :class:`_HashingReader`) or else ``path``."""
    with contextlib.ExitStack() as stack:
        if source is None:
            source = stack.enter_context(path.open("rb"))
        raw: io.BufferedIOBase
        if fmt == "tar.gz":
            raw = gzip.GzipFile(fileobj=source, mode="rb")  # also reads concatenated members
        elif fmt == "tar.xz":
            raw = lzma.LZMAFile(source, "rb")  # noqa: SIM115 - closed below
        else:
            raw = _open_zstd(path, source)
        with raw, tarfile.open(fileobj=raw, mode="r|") as tar:
            yield tar


def _open_zstd(path: Path, source: BinaryIO) -> io.BufferedIOBase:
    try:
        from compression import zstd  # type: ignore[import-not-found,unused-ignore]  # 3.14+
    except ImportError:
        pass
    else:
        _ZSTD_ERRORS.append(zstd.ZstdError)
        return zstd.open(source, "rb")  # type: ignore[no-any-return,unused-ignore]
    try:
        import zstandard
    except ImportError:
        raise DeployError(
            f"{path.name}: unpacking .tar.zst needs Python 3.14+ or the 'zstandard' package"
            " (pip install zstandard); or publish in the default tar.gz format"
        ) from None
    _ZSTD_ERRORS.append(zstandard.ZstdError)
    reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True, closefd=False)
    return cast("io.BufferedIOBase", reader)


def _member_parts(name: str, top: str) -> list[str]:
    """The path parts of a member below the layer folder; rejects anything that could escape."""
    if _ABSOLUTE.match(name):
        raise DeployError(f"member '{name}' has an absolute path")
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        raise DeployError(f"member '{name}' contains '..'")
    if parts[0] != top:
        raise DeployError(f"member '{name}' is outside the layer folder '{top}/'")
    if any(part in ("", ".") or (os.sep == "\\" and "\\" in part) for part in parts[1:]):
        raise DeployError(f"member '{name}' has an unusual path")
    return parts[1:]


def _check_link(name: str, depth: int, linkname: str) -> None:
    """A symlink may climb at most ``depth`` folders (up to TARGET), and only with leading
    ``..``: after descending through a possible link, a ``..`` could climb out of TARGET."""
    if not linkname:
        raise DeployError(f"symlink '{name}' has an empty target")
    if _ABSOLUTE.match(linkname):
        raise DeployError(f"symlink '{name}' -> '{linkname}' is absolute")
    parts = [part for part in linkname.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if ".." in parts[ups:] or ups > depth:
        raise DeployError(f"symlink '{name}' -> '{linkname}' points outside the deployment folder")


def extract_layer(
    archive: Path, fmt: str, top: str, dest: Path, *, sha256: str | None = None
) -> dict[str, str]:
    """Unpack the ``top/...`` members into the empty folder ``dest``; returns the file manifest.

    ``dest`` lies beside the final layer folder, so relative symlinks are judged as they will
    resolve there. Nothing is extracted through a symlink (no member may lie below one) and
    files are created exclusively, so duplicate members cannot overwrite what was checked.
    Manifest values: ``sha256:<hex>`` or ``symlink:<target>``. With ``sha256``, the bytes read
    from the archive while unpacking must have that digest: a file swapped or rewritten after
    :func:`check_archive` is refused, and nothing from it runs.
    """
    manifest: dict[str, str] = {}
    links: set[str] = set()
    dirs: list[tuple[Path, int]] = []
    try:
        with archive.open("rb") as stream:
            source = _HashingReader(stream)
            with open_archive(archive, fmt, cast("BinaryIO", source)) as tar:
                for member in tar:
                    parts = _member_parts(member.name, top)
                    try:
                        _extract_member(tar, member, parts, dest, links, manifest, dirs)
                    except OSError as exc:
                        if exc.errno is None:
                            raise  # a decompression error: a damaged archive
                        problem = "cannot be unpacked"
                        if isinstance(exc, FileExistsError):
                            problem = "clashes with an earlier member"
                        raise DeployError(
                            f"{archive.name}: member '{member.name}' {problem} ({exc.strerror})"
                        ) from None
            digest = source.drain()
    except Exception as exc:
        damaged: tuple[type[Exception], ...] = (
            tarfile.TarError,
            EOFError,
            lzma.LZMAError,
            zlib.error,
            OSError,
        )
        damaged += tuple(_ZSTD_ERRORS)
        if not isinstance(exc, damaged) or (isinstance(exc, OSError) and exc.errno is not None):
            raise  # our own errors, or a problem reading the archive file
        raise DeployError(f"{archive.name}: damaged archive ({exc})") from None
    if sha256 is not None and digest != sha256:
        raise DeployError(
            f"{archive.name}: the archive changed while it was unpacked (its sha256 no longer"
            " matches the metadata): refusing a modified archive"
        )
    for path, mtime in reversed(dirs):
        path.chmod(0o755)
        os.utime(path, (mtime, mtime))
    return manifest


def _extract_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    parts: list[str],
    dest: Path,
    links: set[str],
    manifest: dict[str, str],
    dirs: list[tuple[Path, int]],
) -> None:
    relative = "/".join(parts)
    if any("/".join(parts[:i]) in links for i in range(1, len(parts) + 1)):
        raise DeployError(f"member '{member.name}' lies inside or replaces a symlink")
    path = dest.joinpath(*parts)
    if member.isdir():
        path.mkdir(parents=True, exist_ok=True)
        dirs.append((path, int(member.mtime)))
        return
    if not parts:
        raise DeployError(f"member '{member.name}' must be the layer folder")
    if member.islnk():
        raise DeployError(f"member '{member.name}' is a hard link")
    if not (member.issym() or member.isfile()):
        raise DeployError(f"member '{member.name}' is a device, FIFO or other special file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if member.issym():
        _check_link(member.name, len(parts), member.linkname)
        path.symlink_to(member.linkname)
        links.add(relative)
        manifest[relative] = "symlink:" + member.linkname
    else:
        manifest[relative] = "sha256:" + _write_file(tar, member, path)


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> str:
    source = tar.extractfile(member)
    if source is None:
        raise DeployError(f"member '{member.name}' has no content")
    digest = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
    path.chmod(0o755 if member.mode & 0o111 else 0o644)
    os.utime(path, (member.mtime, member.mtime))
    return digest.hexdigest()


# --- deployment -------------------------------------------------------------------------------


def record_path(target: Path, install_target: str) -> Path:
    return target / DEPLOYED_DIR / f"{install_target}.json"


def read_records(target: Path) -> dict[str, dict[str, Any]]:
    """The deployment records in TARGET by install target (unreadable ones are ignored)."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((target / DEPLOYED_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("layer"), dict):
            records[path.name[: -len(".json")]] = record
    return records


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(path)


def is_deployed(target: Path, layer: Layer, records: dict[str, dict[str, Any]]) -> bool:
    record = records.get(layer["install_target"])
    return (
        record is not None
        and record.get("archive_sha256") == layer["archive_hashes"]["sha256"]
        and (target / layer["install_target"]).is_dir()
    )


@contextlib.contextmanager
def _target_lock(target: Path) -> Iterator[None]:
    """One deployment at a time per TARGET (POSIX advisory lock; none where unsupported)."""
    path = target / METADATA_DIR / "deploy.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recover(target: Path) -> None:
    """Clean up after a killed deployment, putting back a layer parked mid-swap."""
    for leftover in target.iterdir():
        # Only the names deploy_layer's mkdtemp() gives: a user's ".notes.old-backup" stays.
        match = re.match(r"\.(.+)\.(new|old)-[a-z0-9_]{8}\Z", leftover.name)
        if not match or not _PLAIN_NAME.match(match.group(1)) or not leftover.is_dir():
            continue
        final, parked = target / match.group(1), leftover / "layer"
        if match.group(2) == "old" and parked.is_dir() and not os.path.lexists(final):
            parked.rename(final)
        shutil.rmtree(leftover, ignore_errors=True)


def _existing_interpreter(python: Path) -> Path:
    """``python`` or, if that alias is missing (archives from hosts without symlinks), the
    versioned interpreter beside it: the runtime's post-install recreates the alias."""
    if not python.is_file():
        versioned = [
            p for p in sorted(python.parent.glob("python3.*")) if re.match(r"python3\.\d+\Z", p.name)
        ]
        if versioned and versioned[-1].is_file():
            return versioned[-1]
    return python


def _run_postinstall(python: Path, layer_dir: Path, install_target: str) -> None:
    script = layer_dir / "postinstall.py"
    if not script.is_file():
        raise DeployError(f"{install_target}: the archive has no postinstall.py")
    python = _existing_interpreter(python)
    if not python.is_file():
        raise DeployError(f"{install_target}: runtime interpreter {python} is missing")
    command = [str(python), "-I", "-B", str(script), "--name", install_target]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise DeployError(f"{install_target}: postinstall failed: {lines[-1]}")


def run_postinstall(target: Path | str, install_targets: Sequence[str]) -> None:
    """Post-install layers already unpacked in ``target`` (as ``pdm stack export`` leaves them).

    Runtime layers (no ``pyvenv.cfg``) go first; each layer runs with the interpreter its layer
    config names as ``base_python``, so no published metadata is needed.
    """
    target = Path(target).absolute()
    ordered = sorted(install_targets, key=lambda name: (target / name / "pyvenv.cfg").exists())
    for name in ordered:
        layer_dir = target / name
        config = _read_json(layer_dir / "share/venv/metadata/venvstacks_layer.json")
        base_python = config.get("base_python") if isinstance(config, dict) else None
        if not isinstance(base_python, str) or not base_python or _ABSOLUTE.match(base_python):
            raise DeployError(f"{name}: the layer config has no relative 'base_python'")
        python = Path(os.path.normpath(layer_dir.joinpath(*base_python.split("/"))))
        _run_postinstall(python, layer_dir, name)


def _refresh(manifest: dict[str, str], layer_dir: Path) -> None:
    """Re-record what postinstall may legitimately change (pyvenv.cfg, interpreter links)."""
    candidates = [layer_dir / "pyvenv.cfg"]
    if (layer_dir / "bin").is_dir():
        candidates += sorted((layer_dir / "bin").glob("python*"))
    for path in candidates:
        relative = path.relative_to(layer_dir).as_posix()
        if path.is_symlink():
            manifest[relative] = "symlink:" + path.readlink().as_posix()
        elif path.is_file():
            manifest[relative] = "sha256:" + sha256_file(path)


def deploy_layer(archive: Path, layer: Layer, target: Path, runtime: Layer) -> None:
    """Unpack, post-install and swap one layer into ``target``: all or nothing."""
    name = layer["install_target"]
    work = Path(tempfile.mkdtemp(dir=target, prefix=f".{name}.new-"))
    final = target / name
    try:
        work.chmod(0o755)
        sha256 = layer["archive_hashes"]["sha256"]
        manifest = extract_layer(archive, archive_format(layer), name, work, sha256=sha256)
        # A runtime post-installs with its own interpreter where it was unpacked; the others use
        # the runtime already in place (runtimes are deployed first).
        folder = work.name if layer["layer_kind"] == "runtime" else layer["runtime_layer"]
        interpreter = str(runtime.get("bound_to_implementation") or "bin/python3")
        _run_postinstall(target.joinpath(folder, *interpreter.split("/")), work, name)
        _refresh(manifest, work)
        if os.path.lexists(final):
            parked = Path(tempfile.mkdtemp(dir=target, prefix=f".{name}.old-"))
            final.rename(parked / "layer")
            work.rename(final)
            shutil.rmtree(parked, ignore_errors=True)
        else:
            work.rename(final)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    record = {"format": RECORD_FORMAT, "archive_sha256": layer["archive_hashes"]["sha256"]}
    _write_json(record_path(target, name), dict(record, layer=layer, files=manifest))


def deploy(
    artifacts: Path | str,
    target: Path | str,
    layers: Sequence[str] = (),
    apps: Sequence[str] = (),
    *,
    force: bool = False,
    log: Callable[[str], None] = _log_stderr,
) -> list[tuple[str, str]]:
    """Deploy the selected layers; returns ``(install target, "deployed" | "up to date")``.

    Every archive that needs deploying is verified before TARGET is touched, so a tampered
    archive leaves nothing behind, not even an empty TARGET.
    """
    artifacts, target = Path(artifacts).absolute(), Path(target).absolute()
    published = load_metadata(artifacts)
    by_target = {layer["install_target"]: layer for layer in published}
    chosen = select_layers(published, layers, apps)
    records = read_records(target)
    pending = {
        layer["install_target"]: check_archive(artifacts, layer)
        for layer in chosen
        if force or not is_deployed(target, layer, records)
    }
    outcome: list[tuple[str, str]] = []
    if pending:
        target.mkdir(parents=True, exist_ok=True)
    with _target_lock(target) if pending else contextlib.nullcontext():
        if pending:
            _recover(target)
        for layer in chosen:
            name = layer["install_target"]
            if name not in pending:
                log(f"{name}: up to date")
                outcome.append((name, "up to date"))
                continue
            log(f"{name}: deploying {layer['archive_name']}")
            deploy_layer(pending[name], layer, target, by_target[layer["runtime_layer"]])
            outcome.append((name, "deployed"))
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy_stack.py",
        description="Deploy published stack layers into TARGET: archives checked against their sha256,"
        " unpacked side by side, post-installed runtime first. Deploying again skips what is in place.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="[ARTIFACTS_DIR] TARGET",
        help="the folder with the archives and __venvstacks__/ (default: this script's folder),"
        " then the deployment folder",
    )
    parser.add_argument("--layer", action="append", default=[], metavar="NAME", help="deploy this layer")
    parser.add_argument("--app", action="append", default=[], metavar="NAME", help="deploy this application")
    parser.add_argument("--force", action="store_true", help="redeploy layers that are already deployed")
    options = parser.parse_args(argv)
    if len(options.paths) > 2:
        parser.error("expected [ARTIFACTS_DIR] TARGET")
    artifacts = Path(__file__).absolute().parent if len(options.paths) == 1 else Path(options.paths[0])
    try:
        deploy(artifacts, options.paths[-1], options.layer, options.app, force=options.force)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.filename or options.paths[-1]}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
