"""Make an unpacked layer work where it lies: ``python postinstall.py`` inside the layer folder.

This file is copied verbatim into every published layer archive, so it is standard library only
and runs on any Python 3.9+ (the deployer runs it with the runtime layer's interpreter, runtime
first). Layers are built so that nothing depends on where they are unpacked: venv layers have a
``pyvenv.cfg`` without ``home``, a relative ``bin/python`` symlink to the runtime folder beside
them and a ``sitecustomize.py`` with paths relative to itself. Moving a deployed stack therefore
needs no rerun. What is left for this script:

* check the layer config and that everything the layer points at (runtime interpreter, lower
  layers' site-packages) is present beside it, and fail loudly otherwise: a layer must never
  start against a stale or missing path;
* recreate interpreter links that an archive could not carry and drop a stale ``home`` from
  ``pyvenv.cfg`` (files are replaced by rename, never edited in place);
* compile bytecode once, deterministically, so read-only deployments start fast;
* start the layer's interpreter once and check that it lives where it was unpacked.

It is idempotent: running it again changes nothing but recompiling identical bytecode.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CONFIG_PATH = "share/venv/metadata/venvstacks_layer.json"

#: Prints where the interpreter thinks it lives; run in isolated mode (-I) without writing pyc. The
#: marker tells its line from whatever a ``.pth`` file or ``sitecustomize`` prints at startup.
_MARKER = "postinstall-probe:"
_PROBE = (
    "import json, sys; print('\\n" + _MARKER + "'"
    " + json.dumps({'prefix': sys.prefix, 'base_prefix': sys.base_prefix}))"
)


class PostinstallError(Exception):
    """A problem that makes the layer unusable where it is; reported in one line."""


def layer_path(layer_dir: Path, relative: str) -> Path:
    """A config path (relative, ``/``-separated) inside or beside the layer, ``..`` resolved
    lexically: the layer's own folder name may be temporary, its peers' names are not."""
    return Path(os.path.normpath(layer_dir.joinpath(*relative.split("/"))))


def _major_minor(config: dict[str, Any]) -> str:
    return ".".join(str(config["py_version"]).split(".")[:2])


def read_config(layer_dir: Path) -> dict[str, Any]:
    """The layer config, with every path field checked to be relative (a build path is stale)."""
    try:
        config = json.loads(layer_path(layer_dir, CONFIG_PATH).read_text(encoding="utf-8"))
    except OSError:
        raise PostinstallError(f"{CONFIG_PATH} is missing: this is not a complete layer folder") from None
    except ValueError as exc:
        raise PostinstallError(f"{CONFIG_PATH} is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise PostinstallError(f"{CONFIG_PATH} must hold a JSON object")
    for key in ("python", "base_python", "site_dir", "py_version"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise PostinstallError(f"{CONFIG_PATH}: field '{key}' is missing")
    paths = [config["python"], config["base_python"], config["site_dir"], *config.get("pylib_dirs", [])]
    for value in paths:
        if not isinstance(value, str) or value.startswith(("/", "\\")) or Path(value).is_absolute():
            raise PostinstallError(f"{CONFIG_PATH}: {value!r} is not a relative path (stale build path?)")
    return config


def is_venv_layer(layer_dir: Path) -> bool:
    return (layer_dir / "pyvenv.cfg").exists()


def _ensure_link(link: Path, target: str, changed: list[str], layer_dir: Path) -> None:
    """Point ``link`` at ``target``: a temporary link renamed over the old entry (atomic)."""
    if link.is_symlink() and link.readlink() == Path(target):
        return
    temporary = link.with_name(link.name + ".postinstall-tmp")
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(target)
    temporary.replace(link)
    changed.append(link.relative_to(layer_dir).as_posix())


def check_runtime(layer_dir: Path, config: dict[str, Any]) -> Path:
    """The runtime interpreter this layer runs on; an error naming it when it is not beside us."""
    base = layer_path(layer_dir, config["base_python"])
    if not base.is_file():
        parts = config["base_python"].split("/")
        if not is_venv_layer(layer_dir) or len(parts) < 2:
            raise PostinstallError(
                f"the interpreter {config['base_python']} is missing: the layer is damaged"
            )
        runtime = parts[1]
        raise PostinstallError(
            f"the runtime interpreter {config['base_python']} is missing: deploy the runtime layer"
            f" '{runtime}' into the same folder as this layer, then run postinstall.py again"
        )
    return base


def check_lower_layers(layer_dir: Path, config: dict[str, Any]) -> None:
    for relative in config.get("pylib_dirs", []):
        if not layer_path(layer_dir, relative).is_dir():
            raise PostinstallError(
                f"lower layer site-packages {relative} is missing: deploy that layer beside this one"
            )
    site_customize = config["site_dir"] + "/sitecustomize.py"
    if not layer_path(layer_dir, site_customize).is_file():
        raise PostinstallError(f"{site_customize} is missing: the lower layers would be unreachable")


def fix_interpreter_links(layer_dir: Path, config: dict[str, Any]) -> list[str]:
    """Recreate ``bin/python*`` links (archives from hosts without symlinks may lack them)."""
    changed: list[str] = []
    if os.name == "nt":
        return changed
    python = layer_path(layer_dir, config["python"])
    bin_dir = python.parent
    if is_venv_layer(layer_dir):
        # Always relative: a link naming the build folder or an old deployment is stale.
        wanted = os.path.relpath(layer_path(layer_dir, config["base_python"]), bin_dir)
        _ensure_link(python, wanted, changed, layer_dir)
        for alias in ("python3", f"python{_major_minor(config)}"):
            if bin_dir / alias != python:
                _ensure_link(bin_dir / alias, python.name, changed, layer_dir)
    else:
        real = bin_dir / f"python{_major_minor(config)}"
        for alias in ("python3", "python"):
            link = bin_dir / alias
            if real.is_file() and not link.is_symlink() and not link.exists():
                _ensure_link(link, real.name, changed, layer_dir)
    return changed


def fix_pyvenv_cfg(layer_dir: Path, config: dict[str, Any]) -> bool:
    """Drop ``home`` (found again through the interpreter link) and pin the keys we rely on."""
    path = layer_dir / "pyvenv.cfg"
    original = path.read_text(encoding="utf-8")
    wanted = {"include-system-site-packages": "false", "version": config["py_version"]}
    lines, seen = [], set()
    for line in original.splitlines():
        key = line.partition("=")[0].strip().lower()
        if key == "home":
            continue
        if key in wanted:
            line = f"{key} = {wanted[key]}"
            seen.add(key)
        lines.append(line)
    lines.extend(f"{key} = {value}" for key, value in wanted.items() if key not in seen)
    text = "\n".join(lines) + "\n"
    if text == original:
        return False
    temporary = path.with_name("pyvenv.cfg.postinstall-tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return True


def compile_bytecode(layer_dir: Path, config: dict[str, Any], base_python: Path) -> bool:
    """Compile the layer's Python files with the runtime; False if some could not be compiled.

    ``checked-hash`` pyc files (PEP 552) record a hash of their source instead of its mtime:
    their bytes are the same on every deployment (reproducible, as pip does under
    SOURCE_DATE_EPOCH), they stay valid when a copy resets mtimes, and an edited source is still
    noticed. ``-s`` strips the layer folder from the file names compiled into code objects: they
    are relative, so no pyc names a deployment path, and importlib sets the real file name when
    it loads the module, wherever the layer lies. The runtime's interpreter compiles (whatever
    Python runs this script), so the bytecode always matches the interpreter that loads it.
    """
    if is_venv_layer(layer_dir):
        folder = layer_path(layer_dir, config["site_dir"])
    else:
        folder = layer_dir / "lib" / f"python{_major_minor(config)}"
    if not folder.is_dir():
        return True
    command = [str(base_python), "-I", "-B", "-m", "compileall", "-q", "-q", "-f", "-j", "0"]
    command += ["--invalidation-mode", "checked-hash", "-s", str(layer_dir), str(folder)]
    result = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return result.returncode == 0


def self_check(layer_dir: Path, config: dict[str, Any]) -> None:
    """Start the layer's interpreter and check it lives here, on the runtime beside it."""
    python = layer_path(layer_dir, config["python"])
    result = subprocess.run(
        [str(python), "-I", "-B", "-c", _PROBE], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise PostinstallError(f"{config['python']} does not start: {lines[-1]}")
    reports = [line for line in result.stdout.splitlines() if line.startswith(_MARKER)]
    if not reports:
        raise PostinstallError(f"{config['python']} exits at startup before running any code")
    facts = json.loads(reports[-1][len(_MARKER) :])
    if Path(facts["prefix"]).resolve() != layer_dir.resolve():
        raise PostinstallError(f"{config['python']} runs with sys.prefix {facts['prefix']}, not this layer")
    runtime_dir = layer_path(layer_dir, config["base_python"]).resolve().parent.parent
    if Path(facts["base_prefix"]).resolve() != runtime_dir:
        raise PostinstallError(
            f"{config['python']} runs with sys.base_prefix {facts['base_prefix']}, not {runtime_dir}"
        )


def postinstall(layer_dir: Path, *, compile_pyc: bool = True) -> list[str]:
    """Run every step on ``layer_dir``; returns what was done, raises PostinstallError."""
    layer_dir = Path(layer_dir).absolute()
    done: list[str] = []
    config = read_config(layer_dir)
    if is_venv_layer(layer_dir):
        base_python = check_runtime(layer_dir, config)
        check_lower_layers(layer_dir, config)
        if fix_pyvenv_cfg(layer_dir, config):
            done.append("rewrote pyvenv.cfg (no home, no system site-packages)")
        done.extend(f"linked {link}" for link in fix_interpreter_links(layer_dir, config))
    else:
        # A runtime's own links come first: its interpreter may be reachable only through them.
        done.extend(f"linked {link}" for link in fix_interpreter_links(layer_dir, config))
        base_python = check_runtime(layer_dir, config)
    if compile_pyc:
        if compile_bytecode(layer_dir, config, base_python):
            done.append("compiled bytecode")
        else:
            done.append("compiled bytecode (some files could not be compiled; they run from source)")
    self_check(layer_dir, config)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make this layer work where it was unpacked.")
    parser.add_argument("--layer-dir", help="the layer folder (default: the folder of this script)")
    parser.add_argument("--name", help="the layer name used in messages (default: the folder name)")
    parser.add_argument("--no-compile", action="store_true", help="do not compile bytecode")
    options = parser.parse_args(argv)
    layer_dir = Path(options.layer_dir or Path(__file__).parent).absolute()
    name = options.name or layer_dir.name
    try:
        for line in postinstall(layer_dir, compile_pyc=not options.no_compile):
            print(f"{name}: {line}")
    except (PostinstallError, OSError) as exc:
        print(f"postinstall: {name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
