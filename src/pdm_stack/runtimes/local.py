"""CPython interpreters already installed on this machine, as sources for relocatable runtimes.

Offline work and tests cannot download a python-build-standalone (PBS) archive, so pdm-stack can
derive a runtime from a local interpreter instead. Not every interpreter is usable: copying one only
works if it is a PBS build (already relocatable) or a ``--enable-shared`` build with an ordinary
prefix layout (pyenv, ``python:3.x`` container images, self-built CPython), whose run paths can be
rewritten. Distribution interpreters such as Debian's ``/usr/bin/python3`` link libpython statically
and share their prefix with the whole system, so they are classified and then rejected.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pdm_stack.errors import StackError

Kind = Literal["pbs", "shared", "static"]

# Runs inside the candidate interpreter, which may be much older than ours: keep it 3.6-compatible.
# ``sysconfig.get_config_var("prefix")`` reports sys.prefix, not the configure prefix, so the build
# prefix is read from the _sysconfigdata module itself (private, but present since 3.6).
_DESCRIBE_SCRIPT = """
import json, sys, sysconfig
def build_var(name):
    try:
        module = __import__(sysconfig._get_sysconfigdata_name(), fromlist=["build_time_vars"])
        return module.build_time_vars.get(name)
    except Exception:
        return sysconfig.get_config_var(name)
print(json.dumps({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": sys.implementation.name,
    "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "base_prefix": sys.base_prefix,
    "build_prefix": build_var("prefix"),
    "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
    "ldlibrary": sysconfig.get_config_var("LDLIBRARY"),
    "instsoname": sysconfig.get_config_var("INSTSONAME"),
    "ldversion": sysconfig.get_config_var("LDVERSION"),
    "stdlib": sysconfig.get_path("stdlib"),
    "base_executable": getattr(sys, "_base_executable", None) or sys.executable,
}))
"""

_ORIGIN = b"$ORIGIN"


@dataclass(frozen=True)
class LocalInterpreter:
    """An interpreter found on this machine and how (or whether) it can become a runtime."""

    executable: Path
    prefix: Path
    version: str
    implementation: str
    free_threaded: bool
    kind: Kind

    @property
    def usable(self) -> bool:
        """Static builds have no copyable prefix; everything else can be made relocatable."""
        return self.kind != "static"


def _clean_env() -> dict[str, str]:
    """Environment for probing interpreters: inherited PYTHONHOME/LD_LIBRARY_PATH would make a
    candidate report (or load) another installation's prefix or libpython."""
    env = dict(os.environ)
    for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "LD_LIBRARY_PATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    return env


def _probe(executable: Path) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [str(executable), "-I", "-c", _DESCRIBE_SCRIPT],
            capture_output=True,
            text=True,
            timeout=60,
            env=_clean_env(),
            check=False,
        )
    except OSError as exc:
        raise StackError(f"cannot run interpreter {executable}: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"interpreter {executable} did not answer within 60s") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StackError(f"cannot inspect interpreter {executable}: {last}")
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise StackError(f"interpreter {executable} printed an unexpected answer") from exc
    if not isinstance(data, dict):
        raise StackError(f"interpreter {executable} printed an unexpected answer")
    return data


def _mentions_origin(path: Path) -> bool:
    """Whether an ELF file uses ``$ORIGIN`` (in a run path or a NEEDED entry).

    A byte search avoids needing readelf/patchelf just to classify; CPython itself never contains
    that string elsewhere.
    """
    try:
        return _ORIGIN in path.read_bytes()
    except OSError:
        return False


def _base_executable(prefix: Path, ldversion: str, version: str, fallback: str) -> Path:
    """The real interpreter binary under the prefix, not a venv launcher or a pyenv shim."""
    major_minor = ".".join(version.split(".")[:2])
    for name in (f"python{ldversion}", f"python{major_minor}", "python3"):
        candidate = prefix / "bin" / name
        if candidate.is_file():
            return candidate
    return Path(fallback)


def _classify(data: dict[str, Any], prefix: Path, executable: Path) -> Kind:
    libdir = prefix / "lib"
    libpython: Path | None = None
    for name in (data.get("instsoname"), data.get("ldlibrary")):
        if isinstance(name, str) and name and (libdir / name).is_file():
            libpython = libdir / name
            break
    if data.get("build_prefix") == "/install":
        return "pbs"
    if libpython is not None and _mentions_origin(libpython):
        return "pbs"
    if _mentions_origin(executable):
        return "pbs"
    stdlib = Path(str(data.get("stdlib") or ""))
    has_layout = (stdlib / "os.py").is_file() and stdlib.parent == libdir
    if data.get("shared") and has_layout and libpython is not None:
        return "shared"
    return "static"


def describe_interpreter(executable: Path) -> LocalInterpreter:
    """Ask ``executable`` about itself; works for venv interpreters too (they report their base).

    Raises :class:`StackError` if it cannot be run or is not a Python 3 interpreter.
    """
    data = _probe(executable)
    prefix = Path(os.path.realpath(str(data["base_prefix"])))
    version = str(data["version"])
    ldversion = str(data.get("ldversion") or "")
    real_executable = _base_executable(prefix, ldversion, version, str(data["base_executable"]))
    return LocalInterpreter(
        executable=real_executable,
        prefix=prefix,
        version=version,
        implementation=str(data["implementation"]),
        free_threaded=bool(data["free_threaded"]),
        kind=_classify(data, prefix, real_executable),
    )


def _parse_request(version: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+(\.\d+){0,2}", version.strip()):
        raise StackError(f"invalid Python version request {version!r}: expected e.g. '3.11' or '3.11.7'")
    return tuple(int(part) for part in version.strip().split("."))


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _is_script(path: Path) -> bool:
    """pyenv/asdf shims are shell scripts that re-dispatch to an interpreter found anyway."""
    try:
        with path.open("rb") as handle:
            return handle.read(2) == b"#!"
    except OSError:
        return True


def _candidate_executables(request: tuple[int, ...]) -> list[Path]:
    """Interpreter binaries that may match ``request``, without running any of them.

    findpython's providers (PATH, pyenv, asdf, uv, rye, ...) list executables lazily; asking
    findpython to match versions would run each one, pyenv's shell shims included (seconds in
    all). Here the list is cut first: symlinks resolved, shims dropped, and binaries whose name
    states another version (``python3.12``) skipped; only what is left is probed, in parallel.
    """
    from findpython.providers import ALL_PROVIDERS  # imported lazily: only discovery needs it

    found: list[Path] = []
    for provider_class in ALL_PROVIDERS.values():
        provider = provider_class.create()
        if provider is not None:
            found.extend(Path(str(python.executable)) for python in provider.find_pythons())
    # The running interpreter is the most trusted candidate; findpython may not see it (e.g. it is
    # not on PATH when pdm-stack runs from a pipx/uv tool environment).
    running = Path(getattr(sys, "_base_executable", None) or sys.executable)
    unique: dict[str, Path] = {}
    for path in [running, *found]:
        real = os.path.realpath(path)
        if real in unique or not _named_version_may_match(Path(real).name, request):
            continue
        if Path(real).is_file() and not _is_script(Path(real)):
            unique[real] = Path(real)
    return list(unique.values())


def _named_version_may_match(name: str, request: tuple[int, ...]) -> bool:
    """False only for a binary whose name states a version the request excludes."""
    stated = re.fullmatch(r"python(\d+)(?:\.(\d+))?t?(?:\.exe)?", name)
    if stated is None:
        return True
    numbers = tuple(int(part) for part in stated.groups() if part is not None)
    return numbers[: len(request)] == request[: len(numbers)]


def _describe_or_none(executable: Path) -> LocalInterpreter | None:
    try:
        return describe_interpreter(executable)
    except StackError:
        return None


def find_local_interpreters(
    implementation: str, version: str, free_threaded: bool = False
) -> list[LocalInterpreter]:
    """Usable interpreters matching ``implementation`` and a version prefix, newest first.

    Several executables (``python``, ``python3``, ``python3.11``, venvs) usually lead to the same
    installation, so results are deduplicated by their real prefix.
    """
    request = _parse_request(version)
    by_prefix: dict[Path, LocalInterpreter] = {}
    candidates = _candidate_executables(request)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe") as pool:
        described = list(pool.map(_describe_or_none, candidates))
    for found in described:
        if found is None:
            continue
        if (
            found.usable
            and found.implementation == implementation.lower()
            and found.free_threaded == free_threaded
            and _version_key(found.version)[: len(request)] == request
            and found.prefix not in by_prefix
        ):
            by_prefix[found.prefix] = found
    return sorted(by_prefix.values(), key=lambda item: _version_key(item.version), reverse=True)
