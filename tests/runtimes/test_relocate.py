"""Relocatable runtimes made from local interpreters: they must really run from wherever they are."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pdm_stack.errors import StackError
from pdm_stack.reporting import NullReporter, PlainReporter
from pdm_stack.runtimes import relocate
from pdm_stack.runtimes.local import LocalInterpreter, describe_interpreter
from pdm_stack.runtimes.relocate import make_relocatable_runtime, runtime_content_hash, scrubbed_prefix
from tests.fixtures.runtimes import clean_env, copy_runtime, runtime_facts

ORIGINAL_PREFIX = os.path.realpath(sys.base_prefix)


@pytest.fixture(scope="module")
def source() -> LocalInterpreter:
    found = describe_interpreter(Path(sys.executable))
    if found.kind != "shared":
        pytest.skip("needs a --enable-shared interpreter (e.g. pyenv) as the running Python")
    return found


def _inside(path: str, root: Path) -> bool:
    return Path(path).resolve().is_relative_to(root.resolve())


def _files_containing(root: Path, needles: list[str]) -> list[str]:
    """Files of the tree that mention any needle. ``__pycache__`` is skipped: CPython rewrites a
    cached module's co_filename when it is loaded from a new place."""
    encoded = [needle.encode() for needle in needles]
    hits = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                target = str(path.readlink())
                if any(needle in target for needle in needles):
                    hits.append(str(path))
                continue
            data = path.read_bytes()
            if any(needle in data for needle in encoded):
                hits.append(str(path))
    return hits


def _assert_self_contained(root: Path, facts: dict[str, object]) -> None:
    for key in ("prefix", "base_prefix", "executable"):
        assert _inside(str(facts[key]), root), (key, facts[key])
    config_vars = facts["config_vars"]
    paths = facts["paths"]
    assert isinstance(config_vars, dict) and isinstance(paths, dict)
    for name, value in [*config_vars.items(), *paths.items()]:
        assert _inside(value, root), (name, value)
    assert Path(config_vars["prefix"]).resolve() == root.resolve()
    assert Path(config_vars["LIBDIR"]).resolve() == (root / "lib").resolve()
    modules = facts["modules"]
    assert isinstance(modules, list)
    for module in modules:
        assert _inside(module, root), module
    libpython = facts["libpython"]
    assert isinstance(libpython, list) and libpython, "libpython was not mapped at all?"
    for lib in libpython:
        assert _inside(lib, root), lib


@pytest.mark.slow
def test_runtime_survives_being_moved_twice(relocatable_runtime: Path, tmp_path: Path) -> None:
    expected_version = sys.version
    first = copy_runtime(relocatable_runtime, tmp_path / "first" / "runtime")
    second = tmp_path / "second" / "nested" / "runtime"
    third = tmp_path / "third" / "rt"
    forbidden = [ORIGINAL_PREFIX, sys.base_prefix, str(relocatable_runtime)]
    location = first
    for step, next_location in enumerate([second, third, None]):
        facts = runtime_facts(location, cwd=tmp_path)
        assert facts["version"] == expected_version
        _assert_self_contained(location, facts)
        assert _files_containing(location, forbidden) == [], f"after move #{step}"
        if next_location is None:
            break
        forbidden.append(str(location))
        next_location.parent.mkdir(parents=True)
        location.rename(next_location)
        location = next_location


def test_missing_stdlib_fails_loudly_instead_of_using_the_original(
    relocatable_runtime: Path, tmp_path: Path
) -> None:
    # The original install still exists; without the prefix scrub, libpython would fall back to it
    # and this broken copy would appear to work.
    copy = copy_runtime(relocatable_runtime, tmp_path / "rt")
    stdlib = next((copy / "lib").glob("python3*"))
    stdlib.rename(stdlib.with_name("hidden"))
    proc = subprocess.run(
        [str(copy / "bin" / "python3"), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert proc.returncode != 0, proc.stdout
    assert ORIGINAL_PREFIX not in proc.stdout


def test_runtime_layout(relocatable_runtime: Path) -> None:
    major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    bin_dir = relocatable_runtime / "bin"
    assert (bin_dir / f"python{major_minor}").is_file()
    assert (bin_dir / "python3").readlink() == Path(f"python{major_minor}")
    assert (bin_dir / "python").readlink() == Path(f"python{major_minor}")
    stdlib = relocatable_runtime / "lib" / f"python{major_minor}"
    assert (stdlib / "os.py").is_file()
    assert list((stdlib / "site-packages").iterdir()) == []
    assert not (stdlib / "test").exists()
    assert (stdlib / "lib-dynload").is_dir()
    assert list((relocatable_runtime / "lib").glob(f"libpython{major_minor}.so*"))
    assert (relocatable_runtime / "include" / f"python{major_minor}" / "Python.h").is_file()


@pytest.mark.slow
def test_runtime_copy_is_recognised_as_pbs_like_and_copied_as_is(
    relocatable_runtime: Path, tmp_path: Path
) -> None:
    copy = copy_runtime(relocatable_runtime, tmp_path / "src" / "rt")
    described = describe_interpreter(copy / "bin" / "python3")
    assert described.kind == "pbs"
    assert described.prefix == copy.resolve()
    dest = tmp_path / "dest" / "rt"
    make_relocatable_runtime(described, dest, NullReporter())
    assert runtime_content_hash(dest) == runtime_content_hash(copy)


def test_static_build_is_rejected(tmp_path: Path) -> None:
    static = LocalInterpreter(
        executable=Path("/usr/bin/python3.11"),
        prefix=Path("/usr"),
        version="3.11.2",
        implementation="cpython",
        free_threaded=False,
        kind="static",
    )
    dest = tmp_path / "rt"
    with pytest.raises(StackError, match="statically linked") as excinfo:
        make_relocatable_runtime(static, dest, NullReporter())
    assert "\n" not in str(excinfo.value)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no distribution python3")
def test_distribution_python_is_rejected(tmp_path: Path) -> None:
    found = describe_interpreter(Path("/usr/bin/python3"))
    if found.kind != "static":
        pytest.skip("/usr/bin/python3 is not a static distribution build here")
    with pytest.raises(StackError, match="cannot be made relocatable"):
        make_relocatable_runtime(found, tmp_path / "rt", NullReporter())
    assert list(tmp_path.iterdir()) == []


def test_shared_tree_without_libpython_is_rejected(tmp_path: Path) -> None:
    prefix = tmp_path / "fake"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3.11").write_bytes(b"\x7fELF")
    (prefix / "lib" / "python3.11").mkdir(parents=True)
    (prefix / "lib" / "python3.11" / "os.py").write_text("")
    fake = LocalInterpreter(prefix / "bin" / "python3.11", prefix, "3.11.7", "cpython", False, "shared")
    out = tmp_path / "out"
    with pytest.raises(StackError, match=r"missing .*libpython3\.11\.so"):
        make_relocatable_runtime(fake, out / "rt", NullReporter())
    assert list(out.iterdir()) == []


def test_existing_destination_is_refused(tmp_path: Path, source: LocalInterpreter) -> None:
    (tmp_path / "rt").mkdir()
    with pytest.raises(StackError, match="already exists"):
        make_relocatable_runtime(source, tmp_path / "rt", NullReporter())


@pytest.mark.parametrize("failure", [KeyboardInterrupt, StackError])
def test_interruption_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: LocalInterpreter, failure: type[BaseException]
) -> None:
    seen: list[Path] = []

    def fail(patchelf: Path, path: Path, run_path: str, *, only_if_needed: bool) -> bool:
        seen.append(path)
        raise failure("interrupted")

    monkeypatch.setattr(relocate, "_set_run_path", fail)
    parent = tmp_path / "runtimes"
    with pytest.raises(failure):
        make_relocatable_runtime(source, parent / "cpython", NullReporter())
    assert seen, "the build never got as far as patchelf"
    assert not (parent / "cpython").exists()
    assert list(parent.iterdir()) == []


def test_missing_patchelf_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: LocalInterpreter
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "nowhere" / "python"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(StackError, match="patchelf"):
        make_relocatable_runtime(source, tmp_path / "rt", NullReporter())
    assert list(tmp_path.iterdir()) == []


def test_reporter_hears_about_the_work(relocatable_runtime: Path, tmp_path: Path) -> None:
    stream = io.StringIO()
    copy = copy_runtime(relocatable_runtime, tmp_path / "src")
    make_relocatable_runtime(
        describe_interpreter(copy / "bin" / "python3"), tmp_path / "rt", PlainReporter(1, stream)
    )
    assert "relocatable runtime" in stream.getvalue()


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/root/.pyenv/versions/3.11.7", "/_pdm-stack-relocated/3.11.7"),
        ("/opt/py/3.12.1", "/_pdm-s/3.12.1"),
        ("/usr/local", "/_pd/local"),
        ("/a/b", "/_/b"),
        ("/3.11", None),
    ],
)
def test_scrubbed_prefix_keeps_length_and_tail(prefix: str, expected: str | None) -> None:
    # The tail is kept because the linker may have merged e.g. the version string into it.
    result = scrubbed_prefix(prefix)
    assert result == expected
    if result is not None:
        assert len(result) == len(prefix)
        assert result.rpartition("/")[2] == prefix.rpartition("/")[2]
        assert not Path(result).exists()


def _tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_text("#!/bin/sh\n")
    (root / "bin" / "tool").chmod(0o755)
    (root / "bin" / "link").symlink_to("tool")
    (root / "lib" / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "lib" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "lib" / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"cache")
    (root / "empty").mkdir()
    return root


def test_content_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    tree = _tree(tmp_path / "a")
    digest = runtime_content_hash(tree)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert runtime_content_hash(tree) == digest
    assert runtime_content_hash(_tree(tmp_path / "b")) == digest  # same content, other place/time

    (tree / "lib" / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"other cache")
    assert runtime_content_hash(tree) == digest, "__pycache__ must not count"

    (tree / "lib" / "pkg" / "mod.py").write_text("x = 2\n")
    assert runtime_content_hash(tree) != digest
    (tree / "lib" / "pkg" / "mod.py").write_text("x = 1\n")
    assert runtime_content_hash(tree) == digest

    (tree / "lib" / "pkg" / "mod.py").chmod(0o755)
    assert runtime_content_hash(tree) != digest
    (tree / "lib" / "pkg" / "mod.py").chmod(0o644)

    (tree / "bin" / "link").unlink()
    (tree / "bin" / "link").symlink_to("mod.py")
    assert runtime_content_hash(tree) != digest
    (tree / "bin" / "link").unlink()
    (tree / "bin" / "link").symlink_to("tool")

    (tree / "empty").rmdir()
    assert runtime_content_hash(tree) != digest


@pytest.mark.slow
def test_content_hash_of_real_runtime_copies(relocatable_runtime: Path, tmp_path: Path) -> None:
    copy = copy_runtime(relocatable_runtime, tmp_path / "copy")
    assert runtime_content_hash(copy) == runtime_content_hash(relocatable_runtime)
    libpython = next(p for p in (copy / "lib").glob("libpython3*.so*") if not p.is_symlink())
    data = bytearray(libpython.read_bytes())
    data[-1] ^= 0xFF
    libpython.write_bytes(bytes(data))
    assert runtime_content_hash(copy) != runtime_content_hash(relocatable_runtime)
    shutil.rmtree(copy)
