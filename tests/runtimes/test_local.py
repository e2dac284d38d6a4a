"""Finding and classifying CPython interpreters already installed on the machine."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

from pdm_stack.errors import StackError
from pdm_stack.runtimes import local
from pdm_stack.runtimes.local import LocalInterpreter, describe_interpreter, find_local_interpreters

RUNNING_PREFIX = Path(os.path.realpath(sys.base_prefix))
MAJOR_MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def running() -> LocalInterpreter:
    return describe_interpreter(Path(sys.executable))


def test_describe_running_interpreter(running: LocalInterpreter) -> None:
    assert running.version == platform.python_version()
    assert running.implementation == "cpython"
    assert running.prefix == RUNNING_PREFIX
    assert running.executable.is_file()
    assert running.executable.parent == running.prefix / "bin"
    assert running.free_threaded is False
    if running.kind == "static":
        pytest.skip("the running interpreter is a static build; the tests below need a shared one")
    assert running.usable


def test_describe_sees_through_venvs_and_symlinks(running: LocalInterpreter) -> None:
    # .venv/bin/python and the base interpreter's python3 link are the same installation.
    assert describe_interpreter(running.prefix / "bin" / "python3") == running
    assert describe_interpreter(Path(sys.executable)) == running


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no distribution python3")
def test_distribution_python_is_static() -> None:
    found = describe_interpreter(Path("/usr/bin/python3"))
    if found.prefix != Path("/usr"):
        pytest.skip("/usr/bin/python3 is not a distribution build here")
    assert found.kind == "static"
    assert not found.usable


def test_describe_rejects_what_does_not_run(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(StackError, match="broken"):
        describe_interpreter(fake)
    with pytest.raises(StackError, match="cannot run"):
        describe_interpreter(tmp_path / "missing")


def _fake_tree(root: Path, *, libpython: bytes | None) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python3.11").write_bytes(b"\x7fELF not really")
    (root / "lib" / "python3.11").mkdir(parents=True)
    (root / "lib" / "python3.11" / "os.py").write_text("")
    if libpython is not None:
        (root / "lib" / "libpython3.11.so.1.0").write_bytes(libpython)
    return root


def _probe_answer(root: Path, **overrides: Any) -> dict[str, Any]:
    answer = {
        "version": "3.11.9",
        "implementation": "cpython",
        "free_threaded": False,
        "base_prefix": str(root),
        "build_prefix": str(root),
        "shared": True,
        "ldlibrary": "libpython3.11.so",
        "instsoname": "libpython3.11.so.1.0",
        "ldversion": "3.11",
        "stdlib": str(root / "lib" / "python3.11"),
        "base_executable": str(root / "bin" / "python3.11"),
    }
    answer.update(overrides)
    return answer


@pytest.mark.parametrize(
    ("libpython", "overrides", "kind"),
    [
        pytest.param(b"\x7fELF plain RUNPATH=/opt/py", {}, "shared", id="shared-build"),
        pytest.param(b"\x7fELF RUNPATH=$ORIGIN", {}, "pbs", id="origin-runpath"),
        pytest.param(None, {"build_prefix": "/install", "shared": False}, "pbs", id="pbs-prefix"),
        pytest.param(None, {}, "static", id="shared-flag-but-no-libpython"),
        pytest.param(b"\x7fELF", {"shared": False}, "static", id="not-shared"),
    ],
)
def test_classification(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    libpython: bytes | None,
    overrides: dict[str, Any],
    kind: str,
) -> None:
    root = _fake_tree(tmp_path / "py", libpython=libpython)
    monkeypatch.setattr(local, "_probe", lambda executable: _probe_answer(root, **overrides))
    found = describe_interpreter(root / "bin" / "python3.11")
    assert found.kind == kind
    assert found.executable == root / "bin" / "python3.11"
    assert found.version == "3.11.9"


@pytest.mark.slow
def test_find_running_interpreter(running: LocalInterpreter) -> None:
    if not running.usable:
        pytest.skip("the running interpreter is a static build")
    found = find_local_interpreters("cpython", MAJOR_MINOR)
    assert running in found
    prefixes = [item.prefix for item in found]
    assert len(prefixes) == len(set(prefixes))
    for item in found:
        assert item.usable
        assert item.version.startswith(MAJOR_MINOR + ".")
        assert not item.free_threaded
    versions = [tuple(int(p) for p in item.version.split(".")) for item in found]
    assert versions == sorted(versions, reverse=True)


def test_find_filters_sorts_and_deduplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interp(name: str, version: str, kind: local.Kind = "shared", ft: bool = False) -> LocalInterpreter:
        prefix = tmp_path / name
        return LocalInterpreter(prefix / "bin" / "python3", prefix, version, "cpython", ft, kind)

    table = {
        "a": interp("old", "3.11.2"),
        "b": interp("new", "3.11.9"),
        "c": interp("new", "3.11.9"),  # another executable of the same install
        "d": interp("debian", "3.11.4", kind="static"),
        "e": interp("other", "3.12.1"),
        "f": interp("ft", "3.11.8", ft=True),
        "g": interp("pbs", "3.11.7", kind="pbs"),
    }

    def describe(executable: Path) -> LocalInterpreter:
        if executable.name == "broken":
            raise StackError("does not run")
        return table[executable.name]

    candidates = [Path(name) for name in (*table, "broken")]
    monkeypatch.setattr(local, "_candidate_executables", lambda request: candidates)
    monkeypatch.setattr(local, "describe_interpreter", describe)

    assert [i.version for i in find_local_interpreters("cpython", "3.11")] == ["3.11.9", "3.11.7", "3.11.2"]
    assert [i.prefix.name for i in find_local_interpreters("CPython", "3.11.7")] == ["pbs"]
    assert [i.version for i in find_local_interpreters("cpython", "3")] == [
        "3.12.1",
        "3.11.9",
        "3.11.7",
        "3.11.2",
    ]
    assert [i.prefix.name for i in find_local_interpreters("cpython", "3.11", free_threaded=True)] == ["ft"]
    assert find_local_interpreters("pypy", "3.11") == []


@pytest.mark.parametrize("request_text", ["", "3.x", "cpython@3.11", "3.11.7.1"])
def test_find_rejects_malformed_versions(request_text: str) -> None:
    with pytest.raises(StackError, match="invalid Python version request"):
        find_local_interpreters("cpython", request_text)


def test_discovery_runs_no_shim_and_no_interpreter_of_another_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 3.11 must not start pyenv-style shell shims (each costs a shell and pyenv's own
    start-up) nor binaries named for another version; only plausible binaries are probed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ran = tmp_path / "ran"
    for name in ("python3", "python3.11"):  # shims: shell scripts re-dispatching elsewhere
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\necho {name} >> {ran}\nexec {sys.executable} "$@"\n')
        shim.chmod(0o755)
    other = bin_dir / "python3.99"  # a binary whose name states another version
    other.symlink_to(os.path.realpath(sys.executable))
    monkeypatch.setenv("PATH", str(bin_dir))
    probed: list[str] = []
    real_describe = local.describe_interpreter

    def describe(executable: Path) -> LocalInterpreter:
        probed.append(executable.name)
        return real_describe(executable)

    monkeypatch.setattr(local, "describe_interpreter", describe)
    series = "{}.{}".format(*sys.version_info[:2])
    found = find_local_interpreters("cpython", series)
    assert not ran.exists()
    assert "python3.99" not in probed
    # The running interpreter is always a candidate, so the search still finds this series.
    assert [i.version.rsplit(".", 1)[0] for i in found][:1] == [series]


@pytest.mark.parametrize(
    ("name", "request_", "may_match"),
    [
        ("python3.11", (3, 11), True),
        ("python3.12", (3, 11), False),
        ("python3", (3, 11), True),
        ("python", (3, 11), True),
        ("python3.13t", (3, 13), True),
        ("python3.11", (3,), True),
        ("python2.7", (3,), False),
        ("python3.7m", (3, 11), True),  # not a plain version name: probed
    ],
)
def test_only_names_stating_another_version_are_skipped(
    name: str, request_: tuple[int, ...], may_match: bool
) -> None:
    assert local._named_version_may_match(name, request_) is may_match
