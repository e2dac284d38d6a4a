"""Make the build-time paths a runtime records about itself follow the runtime when it moves.

CPython records its configure prefix in ``_sysconfigdata_*.py`` (read by :mod:`sysconfig`, hence by
pip, setuptools and every extension build), in the ``config-3.X-*/Makefile``, in ``lib/pkgconfig``
and in ``bin/python3.X-config``. A PBS archive says ``/install``; PDM rewrites only some of those to
its own install folder; a copy of a pyenv build says the pyenv folder. Any absolute value is wrong as
soon as the runtime is moved, and values pointing at an install that still exists are the worst:
extension builds would silently use the original headers and libraries.

Instead of patching in the current location (which needs a rerun after every move), each file
computes the prefix from its own location: ``_sysconfigdata`` from ``__file__``, pkg-config from
``${pcfiledir}``, the Makefile from ``$(MAKEFILE_LIST)`` and the shell script from ``$0``.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pdm_stack.atomic_files import write_atomically
from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Iterable

MARKER = "pdm-stack: relocatable sysconfig data"

_SYSCONFIGDATA_HEADER = f"""\
# system configuration generated and used by the sysconfig module
# {MARKER}: every path is computed from this file's location
# (<prefix>/lib/pythonX.Y/), so the runtime can be moved without touching this file.
import os as _os

_prefix = _os.path.dirname(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))))

"""

# A prefix only counts where a path starts: after a separator, quote, '=', ',', ':' or a compiler
# flag such as -I/-L. That keeps "/usr/bin/install" and "$(srcdir)/install-sh" intact when the
# recorded prefix is PBS's "/install".
_BEFORE = r"(?:^|(?<=[\s'\"=:,;(.])|(?<=-[A-Za-z]))"
_AFTER = r"(?=$|[/\s'\"=:,;)])"

_MAKEFILE_PREFIX = "$(abspath $(dir $(lastword $(MAKEFILE_LIST)))../../..)"
_CONFIG_SCRIPT_PREFIX_REAL = 'prefix_real=$(cd "$(dirname "$0")/.." && pwd -P)'


def prefix_pattern(prefixes: Iterable[str]) -> re.Pattern[str]:
    """Regex matching any of ``prefixes`` where it starts a path (longest first)."""
    ordered = sorted({p.rstrip("/") for p in prefixes if p}, key=len, reverse=True)
    if not ordered:
        raise StackError("no recorded prefix to replace")
    alternatives = "|".join(re.escape(p) for p in ordered)
    return re.compile(f"{_BEFORE}(?:{alternatives}){_AFTER}", re.MULTILINE)


def stdlib_dirs(runtime_root: Path) -> list[Path]:
    """``lib/python3.X[t]`` folders of a runtime (normally exactly one)."""
    lib = runtime_root / "lib"
    if not lib.is_dir():
        return []
    return sorted(d for d in lib.glob("python3*") if d.is_dir() and (d / "os.py").is_file())


def read_build_time_vars(path: Path) -> dict[str, Any]:
    """The literal ``build_time_vars`` dict of an unmodified ``_sysconfigdata`` module.

    Parsed, never executed: the file belongs to a runtime we may not be able to trust or run.
    """
    tree = ast.parse(_read_text(path), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "build_time_vars" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError as exc:
                raise StackError(f"{path}: build_time_vars is not a plain literal") from exc
            if isinstance(value, dict):
                return value
    raise StackError(f"{path}: no build_time_vars dict found")


def recorded_prefixes(build_vars: dict[str, Any]) -> set[str]:
    """Every install prefix a runtime may have recorded.

    PDM's patcher rewrites ``prefix`` but leaves ``'--prefix=/install'`` inside CONFIG_ARGS and
    ``-L/install/lib`` inside flags, so the configure arguments are consulted too.
    """
    found: set[str] = set()
    for key in ("prefix", "exec_prefix"):
        value = build_vars.get(key)
        if isinstance(value, str):
            found.add(value)
    config_args = build_vars.get("CONFIG_ARGS")
    if isinstance(config_args, str):
        found.update(re.findall(r"--(?:exec-)?prefix=([^'\"\s]+)", config_args))
    cleaned = {p.rstrip("/") for p in found if p}
    for prefix in cleaned:
        if not prefix.startswith("/"):
            raise StackError(f"recorded prefix {prefix!r} is not an absolute path")
    if not cleaned:
        raise StackError("the runtime's sysconfig data records no prefix")
    return cleaned


def _write_text(path: Path, text: str) -> None:
    """Replace a file atomically, keeping its permissions (python3.X-config must stay executable)."""
    write_atomically(path, text.encode("utf-8", errors="surrogateescape"))


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="surrogateescape")


def _own_prefix(text: str, regex: str) -> set[str]:
    match = re.search(regex, text, re.MULTILINE)
    if match and match.group(1).startswith("/"):
        return {match.group(1).rstrip("/")}
    return set()


def _fix_makefile(path: Path, prefixes: set[str]) -> None:
    text = _read_text(path)
    pattern = prefix_pattern(prefixes | _own_prefix(text, r"^prefix=[ \t]*(\S+)[ \t]*$"))
    text = pattern.sub("$(prefix)", text)
    # Simply expanded (":=") so MAKEFILE_LIST is read while this Makefile is being parsed.
    text = re.sub(r"^prefix=.*$", f"prefix:=\t{_MAKEFILE_PREFIX}", text, count=1, flags=re.MULTILINE)
    _write_text(path, text)


def _fix_pkgconfig(path: Path, prefixes: set[str]) -> None:
    text = _read_text(path)
    pattern = prefix_pattern(prefixes | _own_prefix(text, r"^prefix=(\S+)\s*$"))
    text = pattern.sub("${prefix}", text)
    text = re.sub(r"^prefix=.*$", "prefix=${pcfiledir}/../..", text, count=1, flags=re.MULTILINE)
    _write_text(path, text)


def _fix_config_script(path: Path, prefixes: set[str]) -> None:
    text = _read_text(path)
    pattern = prefix_pattern(prefixes | _own_prefix(text, r"^prefix=[\"']?([^\"'\s]+)[\"']?\s*$"))
    if "prefix_real=" not in text:
        # Not CPython's template: define the variable it will need right after the shebang.
        first, _, rest = text.partition("\n")
        text = f"{first}\n{_CONFIG_SCRIPT_PREFIX_REAL}\n{rest}"
    text = pattern.sub("${prefix_real}", text)
    text = re.sub(r"^prefix=.*$", 'prefix="${prefix_real}"', text, count=1, flags=re.MULTILINE)
    _write_text(path, text)


_TRAMPOLINE = """#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")"/'{relative}' "$0" "$@"
' '''"""


def _fix_shebang(path: Path, runtime_root: Path, prefixes: set[str]) -> bool:
    """Replace ``#!<old prefix>/bin/python3.X`` with PBS's relative ``/bin/sh`` trampoline.

    Left alone, such a script (e.g. ``config-3.X/python-config.py``) would keep running the
    original installation.
    """
    text = _read_text(path)
    first, newline, rest = text.partition("\n")
    words = first[2:].split()
    if not first.startswith("#!") or not words:
        return False
    interpreter = words[0]
    old = next((p for p in sorted(prefixes, key=len, reverse=True) if interpreter.startswith(p + "/")), None)
    if old is None:
        return False
    target = runtime_root / interpreter[len(old) :].lstrip("/")
    if not target.is_file():
        target = runtime_root / "bin" / "python3"
    relative = os.path.relpath(target, path.parent)
    _write_text(path, _TRAMPOLINE.format(relative=relative) + newline + rest)
    return True


def _fix_build_details(path: Path, prefixes: set[str]) -> None:
    """PEP 739 allows relative paths: base_prefix relative to the file, the rest to base_prefix."""
    data = json.loads(_read_text(path))
    pattern = prefix_pattern(prefixes)

    def relocate(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: relocate(item) for key, item in value.items()}
        if isinstance(value, list):
            return [relocate(item) for item in value]
        if isinstance(value, str):
            match = pattern.match(value)
            if match and match.end() == len(value):
                return "."
            if match and value[match.end()] == "/":
                return value[match.end() + 1 :]
        return value

    data = relocate(data)
    if isinstance(data, dict) and "base_prefix" in data:
        data["base_prefix"] = os.path.relpath(path.parents[2], path.parent)
    _write_text(path, json.dumps(data, indent=2) + "\n")


def _value_expression(value: Any, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str):
        return repr(value)
    pieces = pattern.split(value)
    if len(pieces) == 1:
        return repr(value)
    parts: list[str] = []
    for index, piece in enumerate(pieces):
        if index:
            parts.append("_prefix")
        if piece:
            parts.append(repr(piece))
    return " + ".join(parts)


def _rewrite_sysconfigdata(path: Path, build_vars: dict[str, Any], prefixes: set[str]) -> None:
    pattern = prefix_pattern(prefixes)
    lines = [_SYSCONFIGDATA_HEADER, "build_time_vars = {\n"]
    lines.extend(f"    {key!r}: {_value_expression(value, pattern)},\n" for key, value in build_vars.items())
    lines.append("}\n")
    _write_text(path, "".join(lines))
    # A stale .pyc would keep serving the old absolute paths if its mtime check ever matched.
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink()


def _is_text_script(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as handle:
        return handle.read(2) == b"#!"


def _is_done(path: Path) -> bool:
    with path.open(encoding="utf-8") as handle:
        return MARKER in handle.read(512)


def _check_clean(files: Iterable[Path], prefixes: set[str]) -> None:
    pattern = prefix_pattern(prefixes)
    for path in files:
        match = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            raise StackError(f"{path}: still records the old prefix {match.group(0)!r} after rewriting")


def make_sysconfig_relocatable(runtime_root: Path) -> None:
    """Make every recorded install path of the runtime at ``runtime_root`` location-independent.

    Safe to call again (already rewritten ``_sysconfigdata`` files are recognised and skipped); the
    ``_sysconfigdata`` modules are rewritten last so their marker means the whole tree is done.
    ``_sysconfig_vars_*.json`` (3.14+, a static copy for cross-build tools that cannot run the
    interpreter) has no location-independent form and is removed rather than left stale.
    """
    runtime_root = Path(runtime_root)
    stdlibs = stdlib_dirs(runtime_root)
    data_files = [f for d in stdlibs for f in sorted(d.glob("_sysconfigdata_*.py")) if f.is_file()]
    if not data_files:
        raise StackError(f"{runtime_root}: not a CPython runtime (no lib/python3.X/_sysconfigdata_*.py)")
    pending = {f: read_build_time_vars(f) for f in data_files if not _is_done(f)}
    if not pending:
        return
    prefixes: set[str] = set()
    for build_vars in pending.values():
        prefixes |= recorded_prefixes(build_vars)
    if "" in prefixes or "/" in prefixes:
        raise StackError(f"{runtime_root}: refusing to rewrite a runtime whose recorded prefix is '/'")

    touched: list[Path] = []
    for stdlib in stdlibs:
        for makefile in sorted(stdlib.glob("config-*/Makefile")):
            _fix_makefile(makefile, prefixes)
            touched.append(makefile)
        for build_details in sorted(stdlib.glob("build-details.json")):
            _fix_build_details(build_details, prefixes)
            touched.append(build_details)
        for vars_json in sorted(stdlib.glob("_sysconfig_vars_*.json")):
            vars_json.unlink()
    for pc_file in sorted((runtime_root / "lib" / "pkgconfig").glob("*.pc")):
        if pc_file.is_file() and not pc_file.is_symlink():
            _fix_pkgconfig(pc_file, prefixes)
            touched.append(pc_file)
    for script in sorted((runtime_root / "bin").glob("python*-config")):
        if script.is_file() and not script.is_symlink() and script.read_bytes()[:2] == b"#!":
            _fix_config_script(script, prefixes)
            touched.append(script)
    scripts = [p for d in stdlibs for p in sorted(d.glob("config-*/*.py"))]
    scripts += sorted((runtime_root / "bin").glob("*"))
    for script in scripts:
        if _is_text_script(script) and _fix_shebang(script, runtime_root, prefixes):
            touched.append(script)
    for data_file, build_vars in pending.items():
        _rewrite_sysconfigdata(data_file, build_vars, prefixes)
        touched.append(data_file)
    _check_clean(touched, prefixes)
