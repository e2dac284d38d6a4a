"""Build-time paths recorded by a runtime must follow the runtime wherever it is moved."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest

from pdm_stack.errors import StackError
from pdm_stack.runtimes.sysconfig_paths import (
    MARKER,
    make_sysconfig_relocatable,
    prefix_pattern,
    read_build_time_vars,
)
from tests.fixtures.runtimes import clean_env, copy_runtime

DATA_NAME = "_sysconfigdata__linux_x86_64-linux-gnu.py"


def _pbs_vars(prefix: str) -> dict[str, Any]:
    """A representative subset of a PBS build's variables (recorded prefix ``prefix``)."""
    return {
        "ABIFLAGS": "",
        "BINDIR": f"{prefix}/bin",
        "CONFIG_ARGS": "'--build=x86_64-unknown-linux-gnu' '--prefix=/install' '--with-openssl=/tools/deps'",
        "DESTDIRS": "/install /install/lib /install/lib/python3.12 /install/lib/python3.12/lib-dynload",
        "INCLUDEPY": f"{prefix}/include/python3.12",
        "INSTALL": "/usr/bin/install -c",
        "INSTSONAME": "libpython3.12.so.1.0",
        "LDFLAGS": "-L/tools/deps/lib -L/install/lib -Wl,-rpath,/install/lib",
        "LIBDIR": f"{prefix}/lib",
        "LIBPL": f"{prefix}/lib/python3.12/config-3.12-x86_64-linux-gnu",
        "Py_ENABLE_SHARED": 1,
        "WASM_ASSETS_DIR": "./install",
        "abs_srcdir": "/build/Python-3.12.10",
        "exec_prefix": prefix,
        "prefix": prefix,
    }


def _write_tree(root: Path, recorded: str) -> Path:
    """A text-only runtime tree as PBS ships it; ``recorded`` is the sysconfig prefix (PDM rewrites
    ``/install`` to its own folder there, and only there)."""
    stdlib = root / "lib" / "python3.12"
    config = stdlib / "config-3.12-x86_64-linux-gnu"
    config.mkdir(parents=True)
    (stdlib / "os.py").write_text("")
    (stdlib / DATA_NAME).write_text(
        "# system configuration generated and used by the sysconfig module\n"
        f"build_time_vars = {_pbs_vars(recorded)!r}\n"
    )
    (stdlib / "__pycache__").mkdir()
    (stdlib / "__pycache__" / f"{Path(DATA_NAME).stem}.cpython-312.pyc").write_bytes(b"stale")
    (config / "Makefile").write_text(
        "prefix=\t\t/install\n"
        "exec_prefix=\t${prefix}\n"
        "LIBDIR=\t\t/install/lib\n"
        "INSTALL=\t/usr/bin/install -c\n"
        "CONFIG_ARGS=\t '--prefix=/install' '--with-openssl=/tools/deps'\n"
        "libainstall:\n"
        "\t$(INSTALL_SCRIPT) $(srcdir)/install-sh $(DESTDIR)$(LIBPL)/install-sh\n"
    )
    (config / "python-config.py").write_text("#!/install/bin/python3.12\n# -*- python -*-\nprint('hi')\n")
    (root / "lib" / "pkgconfig").mkdir()
    (root / "lib" / "pkgconfig" / "python-3.12.pc").write_text(
        "prefix=/install\nlibdir=/install/lib\nincludedir=${prefix}/include\nLibs: -L${libdir}\n"
    )
    (root / "lib" / "pkgconfig" / "python3.pc").symlink_to("python-3.12.pc")
    (root / "bin").mkdir()
    script = root / "bin" / "python3.12-config"
    script.write_text(
        "#!/bin/sh\n"
        'installed_prefix ()\n{\n    RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))\n    echo $RESULT\n}\n'
        'prefix_real=$(installed_prefix "$0")\n'
        'prefix="/install"\n'
        'libdir=$(echo "/install/lib" | sed "s#$prefix#$prefix_real#")\n'
        'LIBS="-L/install/lib"\n'
        'case "$1" in\n  --prefix) echo "$prefix_real" ;;\n  --libs) echo "$LIBS $libdir" ;;\nesac\n'
    )
    script.chmod(0o755)
    (root / "bin" / "python3.12").write_bytes(b"\x7fELF binary")
    (stdlib / "build-details.json").write_text(
        json.dumps(
            {
                "schema_version": "1.0",
                "base_prefix": "/install",
                "base_interpreter": "/install/bin/python3.12",
                "c_api": {"headers": "/install/include/python3.12"},
            }
        )
    )
    (stdlib / "_sysconfig_vars__linux_x86_64-linux-gnu.json").write_text('{"prefix": "/install"}')
    return root


def _load_vars(root: Path) -> dict[str, Any]:
    namespace = runpy.run_path(str(root / "lib" / "python3.12" / DATA_NAME))
    build_vars: dict[str, Any] = namespace["build_time_vars"]
    return build_vars


def _assert_no_old_prefix(root: Path, *prefixes: str) -> None:
    pattern = prefix_pattern(prefixes)
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            text = path.read_text(errors="replace")
            assert not pattern.search(text), (path, pattern.search(text))


@pytest.mark.parametrize(
    "recorded",
    ["/install", "/home/user/.local/share/pdm/python/cpython@3.12.10"],
    ids=["pbs", "pdm-patched"],
)
def test_text_files_follow_the_tree(tmp_path: Path, recorded: str) -> None:
    root = _write_tree(tmp_path / "a" / "rt", recorded)
    make_sysconfig_relocatable(root)
    _assert_no_old_prefix(root, "/install", recorded)
    assert not (
        root / "lib" / "python3.12" / "__pycache__" / f"{Path(DATA_NAME).stem}.cpython-312.pyc"
    ).exists()
    assert not list((root / "lib" / "python3.12").glob("_sysconfig_vars_*.json"))

    for location in (root, tmp_path / "b" / "moved"):
        if location != root:
            location.parent.mkdir()
            root.rename(location)
        build_vars = _load_vars(location)
        assert build_vars["prefix"] == build_vars["exec_prefix"] == str(location)
        assert build_vars["LIBDIR"] == f"{location}/lib"
        assert build_vars["INCLUDEPY"] == f"{location}/include/python3.12"
        assert build_vars["LDFLAGS"] == f"-L/tools/deps/lib -L{location}/lib -Wl,-rpath,{location}/lib"
        assert f"'--prefix={location}'" in build_vars["CONFIG_ARGS"]
        assert build_vars["DESTDIRS"].split() == [
            str(location),
            f"{location}/lib",
            f"{location}/lib/python3.12",
            f"{location}/lib/python3.12/lib-dynload",
        ]
        assert build_vars["WASM_ASSETS_DIR"] == f".{location}"
        # Untouched: not the prefix, merely similar text.
        assert build_vars["INSTALL"] == "/usr/bin/install -c"
        assert build_vars["abs_srcdir"] == "/build/Python-3.12.10"
        assert build_vars["Py_ENABLE_SHARED"] == 1

        proc = subprocess.run(
            [str(location / "bin" / "python3.12-config"), "--prefix"], capture_output=True, text=True
        )
        assert proc.stdout.strip() == str(location.resolve())
        proc = subprocess.run(
            [str(location / "bin" / "python3.12-config"), "--libs"], capture_output=True, text=True
        )
        assert proc.stdout.split() == [f"-L{location.resolve()}/lib", f"{location.resolve()}/lib"]
    root = location

    makefile = (root / "lib" / "python3.12" / "config-3.12-x86_64-linux-gnu" / "Makefile").read_text()
    assert makefile.startswith("prefix:=\t$(abspath $(dir $(lastword $(MAKEFILE_LIST)))../../..)\n")
    assert "LIBDIR=\t\t$(prefix)/lib\n" in makefile
    assert "INSTALL=\t/usr/bin/install -c\n" in makefile
    assert "$(srcdir)/install-sh $(DESTDIR)$(LIBPL)/install-sh" in makefile

    pc = (root / "lib" / "pkgconfig" / "python-3.12.pc").read_text()
    assert pc.startswith("prefix=${pcfiledir}/../..\nlibdir=${prefix}/lib\n")
    assert (root / "lib" / "pkgconfig" / "python3.pc").is_symlink()

    python_config = root / "lib" / "python3.12" / "config-3.12-x86_64-linux-gnu" / "python-config.py"
    assert python_config.read_text().startswith("#!/bin/sh\n'''exec' ")
    assert "/'../../../bin/python3.12' " in python_config.read_text()
    assert python_config.read_text().endswith("# -*- python -*-\nprint('hi')\n")

    details = json.loads((root / "lib" / "python3.12" / "build-details.json").read_text())
    assert details["base_prefix"] == "../.."
    assert details["base_interpreter"] == "bin/python3.12"
    assert details["c_api"]["headers"] == "include/python3.12"
    assert (root / "bin" / "python3.12").read_bytes() == b"\x7fELF binary"


def test_rerun_is_a_no_op(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "rt", "/install")
    make_sysconfig_relocatable(root)
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    make_sysconfig_relocatable(root)
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot
    assert MARKER in (root / "lib" / "python3.12" / DATA_NAME).read_text()


def test_not_a_runtime(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="not a CPython runtime"):
        make_sysconfig_relocatable(tmp_path)


def test_relative_recorded_prefix_is_refused(tmp_path: Path) -> None:
    root = _write_tree(tmp_path / "rt", "install")
    with pytest.raises(StackError, match="not an absolute path"):
        make_sysconfig_relocatable(root)


def test_read_build_time_vars_never_executes(tmp_path: Path) -> None:
    data = tmp_path / "_sysconfigdata_x.py"
    data.write_text("import os\nos.exit(1)\nbuild_time_vars = {'prefix': '/p', 'X': 1}\n")
    assert read_build_time_vars(data) == {"prefix": "/p", "X": 1}
    data.write_text("build_time_vars = {'prefix': __file__}\n")
    with pytest.raises(StackError, match="not a plain literal"):
        read_build_time_vars(data)


def test_real_cpython_text_files(tmp_path: Path) -> None:
    """The sysconfig text files of a real CPython build (the interpreter running the tests), with
    its recorded prefix moved to ``/install`` as in a python-build-standalone build."""
    real = str(sysconfig.get_config_var("prefix"))
    source = Path(real)
    series = f"python{sys.version_info.major}.{sys.version_info.minor}"
    root = tmp_path / "rt"
    for pattern in (
        f"lib/{series}/_sysconfigdata_*.py",
        f"lib/{series}/config-*/Makefile",
        "lib/pkgconfig/python*.pc",
        f"bin/{series}-config",
    ):
        for found in source.glob(pattern):
            target = root / found.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            text = found.read_text(encoding="utf-8", errors="surrogateescape")
            target.write_text(text.replace(real, "/install"), encoding="utf-8", errors="surrogateescape")
            target.chmod(found.stat().st_mode & 0o777)
            if target.name.startswith("_sysconfigdata"):
                (target.parent / "os.py").touch()  # what marks lib/python3.X as a stdlib
    data_file = next(root.glob("lib/python3.*/_sysconfigdata_*.py"))
    original = read_build_time_vars(data_file)
    assert original["prefix"] == "/install"
    make_sysconfig_relocatable(root)
    _assert_no_old_prefix(root, "/install")
    relocated = runpy.run_path(str(data_file))["build_time_vars"]
    assert relocated.keys() == original.keys()
    assert relocated["prefix"] == str(root)
    for key, value in original.items():
        if isinstance(value, str) and "/install" not in value:
            assert relocated[key] == value, key


def test_real_runtime_tools_report_the_new_location(relocatable_runtime: Path, tmp_path: Path) -> None:
    runtime = copy_runtime(relocatable_runtime, tmp_path / "moved" / "rt")
    real = runtime.resolve()
    proc = subprocess.run(
        [str(runtime / "bin" / "python3-config"), "--prefix", "--includes"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    lines = proc.stdout.split("\n")
    assert lines[0] == str(real)
    assert f"-I{real}/include/python3" in lines[1]

    makefile = next(runtime.glob("lib/python3*/config-*/Makefile"))
    if shutil.which("make"):
        proc = subprocess.run(
            [
                "make",
                "-s",
                "-f",
                str(makefile),
                "--eval",
                ".PHONY: pp-prefix\npp-prefix: ; @echo $(prefix) $(LIBDIR)",
                "pp-prefix",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        assert proc.stdout.split() == [str(runtime), f"{runtime}/lib"]
    if shutil.which("pkg-config"):
        stdlib_name = next(runtime.glob("lib/python3*/os.py")).parent.name
        proc = subprocess.run(
            ["pkg-config", "--cflags", str(runtime / "lib" / "pkgconfig" / "python3.pc")],
            capture_output=True,
            text=True,
            check=True,
        )
        flag = proc.stdout.split()[0]
        assert flag.startswith("-I")
        assert Path(flag[2:]).resolve() == real / "include" / stdlib_name
