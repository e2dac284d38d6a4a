"""Linking compiled code to shared libraries of lower layers by rewriting run paths.

Layers are plain folders laid out like built ones (``<env name>/lib/python3.X/site-packages``) and
filled from the gcc-built demo wheels; imports run in a fresh interpreter without
``LD_LIBRARY_PATH``, so only the run paths written by :func:`link_lower_dynlibs` can make them work.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from uv import find_uv_bin

from pdm_stack.building.dynlibs import (
    DynlibSource,
    exported_libraries,
    is_extension_module_name,
    link_lower_dynlibs,
)
from pdm_stack.building.elf import read_dynamic
from pdm_stack.errors import StackErrors
from pdm_stack.reporting import PlainReporter
from pdm_stack.runtimes.relocate import find_patchelf
from tests.fixtures.native_wheels import (
    EXT_PATH,
    EXT_SUFFIX,
    LIB_PATH,
    build_native_wheel_pair,
    compile_demo_extension,
    compile_demo_library,
)
from tests.fixtures.runtimes import clean_env, copy_runtime

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="ELF run paths are Linux-only")

PY_DIR = f"python{sys.version_info[0]}.{sys.version_info[1]}"
LIB_DIR = "demo_lib/libs"


@pytest.fixture(scope="module")
def demo_wheels(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_native_wheel_pair(tmp_path_factory.mktemp("demo-wheels"))


@pytest.fixture(scope="module")
def other_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A libdemo.so whose demo_answer() returns 43: same name, different file."""
    return compile_demo_library(tmp_path_factory.mktemp("libdemo-43"), answer=43)


def site(root: Path, env_name: str) -> Path:
    path = root / env_name / "lib" / PY_DIR / "site-packages"
    path.mkdir(parents=True, exist_ok=True)
    return path


def unpack(wheel: Path, site_packages: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site_packages)


def source(root: Path, env_name: str, *exclude: str) -> DynlibSource:
    return DynlibSource(env_name=env_name, layer_dir=root / env_name, exclude=tuple(exclude))


def run_import(upper_site: Path) -> subprocess.CompletedProcess[str]:
    """Import the extension in a fresh, isolated interpreter; prints demo_answer()."""
    code = f"import sys; sys.path.insert(0, {str(upper_site)!r}); import demo_ext; print(demo_ext.answer())"
    return subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, env=clean_env(), check=False
    )


def answer(upper_site: Path) -> int:
    proc = run_import(upper_site)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reporter() -> PlainReporter:
    return PlainReporter(verbosity=1, stream=io.StringIO())


@pytest.fixture
def stack(tmp_path: Path, demo_wheels: tuple[Path, Path]) -> Path:
    """deploy/ with framework-demo (the library), app-demo (the extension) and an empty runtime."""
    root = tmp_path / "deploy"
    unpack(demo_wheels[0], site(root, "framework-demo"))
    unpack(demo_wheels[1], site(root, "app-demo"))
    site(root, "cpython-3.11")
    return root


def lower_of(root: Path) -> list[DynlibSource]:
    return [source(root, "framework-demo"), source(root, "cpython-3.11")]


def test_extension_imports_across_layers_after_linking_and_after_a_move(stack: Path, tmp_path: Path) -> None:
    app_site = site(stack, "app-demo")
    before = run_import(app_site)
    assert before.returncode != 0
    assert "ImportError" in before.stderr and "libdemo.so" in before.stderr

    dirs = link_lower_dynlibs(
        stack / "app-demo", lower_of(stack), label="application 'demo'", reporter=reporter()
    )

    assert dirs == [f"../framework-demo/lib/{PY_DIR}/site-packages/{LIB_DIR}"]
    dynamic = read_dynamic(app_site / EXT_PATH)
    assert dynamic is not None
    assert dynamic.runpath == (f"$ORIGIN/../../../../../framework-demo/lib/{PY_DIR}/site-packages/{LIB_DIR}",)
    assert answer(app_site) == 42

    moved = tmp_path / "elsewhere" / "deeper" / "deployed"
    moved.parent.mkdir(parents=True)
    stack.rename(moved)
    assert answer(site(moved, "app-demo")) == 42


def test_hard_linked_original_is_left_untouched(stack: Path, tmp_path: Path) -> None:
    ext = site(stack, "app-demo") / EXT_PATH
    ext.chmod(0o555)
    cache = tmp_path / "uv-cache" / ext.name
    cache.parent.mkdir()
    os.link(ext, cache)
    cached_inode, cached_hash = cache.stat().st_ino, sha256(cache)

    link_lower_dynlibs(stack / "app-demo", lower_of(stack), label="application 'demo'", reporter=reporter())

    assert cache.stat().st_ino == cached_inode
    assert sha256(cache) == cached_hash
    assert cache.stat().st_nlink == 1
    assert ext.stat().st_ino != cached_inode
    assert sha256(ext) != cached_hash
    assert ext.stat().st_mode & 0o777 == 0o555
    assert not [p.name for p in ext.parent.iterdir() if p.name.endswith(".tmp")]
    assert answer(site(stack, "app-demo")) == 42


def test_satisfied_objects_are_not_rewritten(stack: Path, demo_wheels: tuple[Path, Path]) -> None:
    app = stack / "app-demo"
    app_site = site(stack, "app-demo")
    # An extension that ships its own copy of the library and finds it through its run path.
    own_lib = app_site / "demo_own" / "libs"
    own_lib.mkdir(parents=True)
    shutil.copy2(site(stack, "framework-demo") / LIB_PATH, own_lib / "libdemo.so")
    own_ext = compile_demo_extension(app_site / "demo_own", own_lib, link_args=("-Wl,-rpath,$ORIGIN/libs",))
    lib_stat = (site(stack, "framework-demo") / LIB_PATH).stat()

    link_lower_dynlibs(app, lower_of(stack), label="application 'demo'", reporter=reporter())
    ext = app_site / EXT_PATH
    first = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (ext, own_ext)}
    assert read_dynamic(own_ext) is not None and read_dynamic(own_ext).runpath == ("$ORIGIN/libs",)  # type: ignore[union-attr]

    report = reporter()
    link_lower_dynlibs(app, lower_of(stack), label="application 'demo'", reporter=report)

    assert {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in (ext, own_ext)} == first
    assert "0 of 3 shared objects linked" in report.stream.getvalue()
    # The lower layer's library itself is never modified either.
    after = (site(stack, "framework-demo") / LIB_PATH).stat()
    assert (after.st_ino, after.st_mtime_ns) == (lib_stat.st_ino, lib_stat.st_mtime_ns)


def test_identical_copies_in_two_lower_layers_are_fine(stack: Path) -> None:
    second = site(stack, "framework-copy") / "copy_pkg" / "lib"
    second.mkdir(parents=True)
    shutil.copy2(site(stack, "framework-demo") / LIB_PATH, second / "libdemo.so")
    lower = [source(stack, "framework-copy"), *lower_of(stack)]

    dirs = link_lower_dynlibs(stack / "app-demo", lower, label="application 'demo'", reporter=reporter())

    # The first layer in sys.path order wins; the identical duplicate is not offered at all.
    assert dirs == [f"../framework-copy/lib/{PY_DIR}/site-packages/copy_pkg/lib"]
    assert answer(site(stack, "app-demo")) == 42


def test_different_libraries_with_one_name_are_all_reported_at_once(stack: Path, other_lib: Path) -> None:
    first_site = site(stack, "framework-demo")
    shutil.copy2(first_site / LIB_PATH, first_site / LIB_DIR / "libextra.so.1")
    second_site = site(stack, "framework-other")
    (second_site / "other" / "lib").mkdir(parents=True)
    shutil.copy2(other_lib, second_site / "other" / "lib" / "libdemo.so")
    with (second_site / "other" / "lib" / "libextra.so.1").open("wb") as handle:
        handle.write(other_lib.read_bytes())
    lower = [source(stack, "framework-demo"), source(stack, "framework-other"), source(stack, "cpython-3.11")]
    ext = site(stack, "app-demo") / EXT_PATH
    untouched = ext.stat().st_ino

    with pytest.raises(StackErrors) as caught:
        link_lower_dynlibs(stack / "app-demo", lower, label="application 'demo'", reporter=reporter())

    errors = caught.value.errors
    assert len(errors) == 2
    assert {error.layer for error in errors} == {"framework-other"}
    assert {error.field for error in errors} == {"dynlib_exclude"}
    text = str(caught.value)
    assert 'dynlib_exclude = ["other/lib/libdemo.so"]' in text
    assert 'dynlib_exclude = ["other/lib/libextra.so.1"]' in text
    assert "framework-demo" in text
    assert all("\n" not in str(error) for error in errors)
    assert ext.stat().st_ino == untouched

    # Following the advice settles it: the first layer's copy is used.
    fixed = [lower[0], source(stack, "framework-other", "other/lib/libdemo.so", "libextra.so.1"), lower[2]]
    link_lower_dynlibs(stack / "app-demo", fixed, label="application 'demo'", reporter=reporter())
    assert answer(site(stack, "app-demo")) == 42


def test_excluded_libraries_are_not_linked(stack: Path, other_lib: Path) -> None:
    app_site = site(stack, "app-demo")
    only_excluded = [source(stack, "framework-demo", "demo_lib/*"), source(stack, "cpython-3.11")]
    assert link_lower_dynlibs(stack / "app-demo", only_excluded, label="app", reporter=reporter()) == []
    assert read_dynamic(app_site / EXT_PATH).runpath is None  # type: ignore[union-attr]
    assert run_import(app_site).returncode != 0

    # Excluded by file name in the higher-priority layer: the lower layer's different copy is used.
    other_site = site(stack, "framework-other") / "other"
    other_site.mkdir(parents=True)
    shutil.copy2(other_lib, other_site / "libdemo.so")
    lower = [source(stack, "framework-demo", "libdemo.so"), source(stack, "framework-other")]
    link_lower_dynlibs(stack / "app-demo", lower, label="app", reporter=reporter())
    assert answer(app_site) == 43


def test_rpath_stays_rpath_and_existing_entries_are_kept(
    tmp_path: Path, demo_wheels: tuple[Path, Path]
) -> None:
    root = tmp_path / "deploy"
    unpack(demo_wheels[0], site(root, "framework-demo"))
    app_site = site(root, "app-demo")
    ext = compile_demo_extension(
        app_site / "demo_ext",
        site(root, "framework-demo") / LIB_DIR,
        link_args=("-Wl,--disable-new-dtags,-rpath,$ORIGIN/not-here",),
    )
    (app_site / "demo_ext" / "__init__.py").write_text("from demo_ext._native import answer\n")
    before = read_dynamic(ext)
    assert before is not None and before.rpath == ("$ORIGIN/not-here",) and before.runpath is None

    link_lower_dynlibs(root / "app-demo", [source(root, "framework-demo")], label="app", reporter=reporter())

    after = read_dynamic(ext)
    assert after is not None and after.runpath is None
    assert after.rpath == (
        "$ORIGIN/not-here",
        f"$ORIGIN/../../../../../framework-demo/lib/{PY_DIR}/site-packages/{LIB_DIR}",
    )
    assert answer(app_site) == 42


def test_extension_modules_are_not_exported(
    tmp_path: Path, demo_wheels: tuple[Path, Path], other_lib: Path
) -> None:
    assert is_extension_module_name(f"_native{EXT_SUFFIX}")
    assert is_extension_module_name("_speedups.abi3.so") and is_extension_module_name("_old.so")
    assert not is_extension_module_name("libdemo.so") and not is_extension_module_name("libcublas.so.12")
    root = tmp_path / "deploy"
    for env_name, lib in (("framework-a", None), ("framework-b", other_lib)):
        layer_site = site(root, env_name)
        unpack(demo_wheels[1], layer_site)  # an extension module in each layer, but different files
        if lib is not None:
            shutil.copy2(lib, layer_site / "speedups.so")  # plain "<identifier>.so": a module name
        (layer_site / "notes.so.txt").write_text("not ELF")
    exported = [
        export.relative
        for name in ("framework-a", "framework-b")
        for export in exported_libraries(source(root, name))
    ]
    assert exported == []


def test_elf_reader_agrees_with_patchelf(demo_wheels: tuple[Path, Path], tmp_path: Path) -> None:
    unpack(demo_wheels[1], tmp_path)
    unpack(demo_wheels[0], tmp_path)
    dynload = Path(sys.base_prefix) / "lib" / PY_DIR / "lib-dynload"
    samples = [tmp_path / EXT_PATH, tmp_path / LIB_PATH, *sorted(dynload.glob("*.so"))[:8]]
    patchelf = str(find_patchelf())
    for path in samples:
        dynamic = read_dynamic(path)
        assert dynamic is not None, path
        needed = subprocess.run(
            [patchelf, "--print-needed", str(path)], capture_output=True, text=True, check=True
        )
        rpath = subprocess.run(
            [patchelf, "--print-rpath", str(path)], capture_output=True, text=True, check=True
        )
        assert list(dynamic.needed) == needed.stdout.split(), path
        assert ":".join(dynamic.search_path) == rpath.stdout.strip(), path
    assert read_dynamic(tmp_path / LIB_PATH).soname == "libdemo.so"  # type: ignore[union-attr]
    assert read_dynamic(tmp_path / "demo_ext" / "__init__.py") is None


def test_other_hosts_do_nothing(stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ext = site(stack, "app-demo") / EXT_PATH
    before = sha256(ext)
    monkeypatch.setattr(sys, "platform", "darwin")
    report = reporter()
    assert link_lower_dynlibs(stack / "app-demo", lower_of(stack), label="app 'demo'", reporter=report) == []
    monkeypatch.undo()
    assert sha256(ext) == before
    assert "only implemented for Linux" in report.stream.getvalue()


def test_unreadable_elf_is_reported_not_fatal(stack: Path) -> None:
    broken = site(stack, "app-demo") / "broken" / "libbroken.so"
    broken.parent.mkdir()
    broken.write_bytes(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x03\0")  # header cut short
    report = reporter()
    link_lower_dynlibs(stack / "app-demo", lower_of(stack), label="app 'demo'", reporter=report)
    assert "WARNING: app 'demo': cannot read broken/libbroken.so" in report.stream.getvalue()
    assert answer(site(stack, "app-demo")) == 42


def _uv(*args: str, cache: Path) -> None:
    env = {**clean_env(), "UV_PYTHON_DOWNLOADS": "never", "UV_CACHE_DIR": str(cache)}
    proc = subprocess.run(
        [os.fsdecode(find_uv_bin()), *args], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_wheels_installed_by_uv_into_chained_venvs(
    relocatable_runtime: Path, demo_wheels: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "deploy"
    runtime = copy_runtime(relocatable_runtime, root / "cpython-3.11")
    cache = tmp_path / "uv-cache"
    for env_name, wheel in (("framework-demo", demo_wheels[0]), ("app-demo", demo_wheels[1])):
        venv = root / env_name
        _uv(
            "venv",
            "--no-python-downloads",
            "--python",
            str(runtime / "bin" / "python3"),
            str(venv),
            cache=cache,
        )
        _uv(
            "pip", "install", "--python", str(venv / "bin" / "python"), "--no-index", "--no-deps",
            "--link-mode", "hardlink", str(wheel), cache=cache,
        )  # fmt: skip
    app_site = site(root, "app-demo")
    # The app venv sees the framework's packages, as sitecustomize arranges in a built stack.
    (app_site / "_lower_layers.pth").write_text(f"../../../../framework-demo/lib/{PY_DIR}/site-packages\n")
    ext = app_site / EXT_PATH
    assert ext.stat().st_nlink >= 2, "uv was expected to hard-link from its cache"
    inode, original = ext.stat().st_ino, sha256(ext)
    code = "import demo_lib, demo_ext; print(demo_ext.answer())"
    python = str(root / "app-demo" / "bin" / "python")

    before = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert before.returncode != 0 and "libdemo.so" in before.stderr

    lower = [source(root, "framework-demo"), source(root, "cpython-3.11")]
    link_lower_dynlibs(root / "app-demo", lower, label="application 'demo'", reporter=reporter())

    after = subprocess.run([python, "-c", code], capture_output=True, text=True, env=clean_env(), check=False)
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "42"
    cached = [p for p in cache.rglob(ext.name) if p.stat().st_ino == inode]
    assert len(cached) == 1 and sha256(cached[0]) == original
