"""Exporting built layers to a local folder: hard links, same filtering, post-install, atomic."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from pdm_stack.publish.export import export_layers
from pdm_stack.publish.filters import postinstall_bytes
from pdm_stack.publish.publish_inputs import PublishLayer
from pdm_stack.reporting import NullReporter
from pdm_stack.stack_spec.model import LayerKind
from tests.fixtures.runtimes import clean_env, copy_runtime
from tests.publish.fake_layers import APP, FRAMEWORK, RUNTIME, SITE, publish_layers_of


def test_export_hard_links_and_filters_like_publish(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "export"
    results = export_layers(publish_layers_of(build), target, NullReporter(), postinstall=False)
    assert [r.path for r in results] == [target / RUNTIME, target / FRAMEWORK, target / APP]

    data = target / FRAMEWORK / SITE / "fwpkg" / "data.bin"
    assert data.stat().st_ino == (build / FRAMEWORK / SITE / "fwpkg" / "data.bin").stat().st_ino
    # Files post-install may replace are copies: the build can never change through the export.
    for name in ("pyvenv.cfg", f"{SITE}/sitecustomize.py", "share/venv/metadata/venvstacks_layer.json"):
        exported, built = target / FRAMEWORK / name, build / FRAMEWORK / name
        assert exported.read_bytes() == built.read_bytes()
        assert exported.stat().st_ino != built.stat().st_ino
    link = target / FRAMEWORK / "bin" / "python"
    assert link.is_symlink() and str(link.readlink()) == f"../../{RUNTIME}/bin/python3"
    assert (target / FRAMEWORK / "bin" / "python").resolve() == (target / RUNTIME / "bin" / "python3.11")
    assert sorted(p.name for p in (target / APP / "bin").iterdir()) == ["python", "python3", "python3.11"]
    assert not list(target.rglob("__pycache__")) and not list(target.rglob("*.pyc"))
    assert (target / APP / "postinstall.py").read_bytes() == postinstall_bytes()
    assert results[1].linked > 0 and results[1].copied == 3


def test_reexport_replaces_a_layer_whole(build: Path, tmp_path: Path) -> None:
    target = tmp_path / "export"
    layers = publish_layers_of(build)
    export_layers(layers, target, NullReporter(), postinstall=False)
    (target / FRAMEWORK / "stray.txt").write_text("left from before")
    (build / FRAMEWORK / SITE / "fwpkg" / "__init__.py").unlink()
    (build / FRAMEWORK / SITE / "fwpkg" / "new.py").write_text("NEW = 1\n")

    export_layers(layers[1:2], target, NullReporter(), postinstall=False)
    assert not (target / FRAMEWORK / "stray.txt").exists()
    assert not (target / FRAMEWORK / SITE / "fwpkg" / "__init__.py").exists()
    assert (target / FRAMEWORK / SITE / "fwpkg" / "new.py").read_text() == "NEW = 1\n"
    # No leftovers; the lock of the folder is shared with the deployer.
    assert sorted(p.name for p in target.iterdir()) == ["__venvstacks__", APP, RUNTIME, FRAMEWORK]


def test_a_folder_no_export_made_is_never_replaced(build: Path, tmp_path: Path) -> None:
    """``export -o requirements`` once replaced the lock folders by exported layers."""
    from pdm_stack.errors import StackError

    target = tmp_path / "requirements"
    (target / FRAMEWORK).mkdir(parents=True)
    (target / FRAMEWORK / f"pylock.{FRAMEWORK}.toml").write_text("lock")
    with pytest.raises(StackError, match="not a layer pdm-stack exported"):
        export_layers(publish_layers_of(build), target, NullReporter(), postinstall=False)
    assert [p.name for p in (target / FRAMEWORK).iterdir()] == [f"pylock.{FRAMEWORK}.toml"]
    assert sorted(p.name for p in target.iterdir()) == [FRAMEWORK]


def test_a_layer_without_its_runtime_is_refused(build: Path, tmp_path: Path) -> None:
    from pdm_stack.errors import StackError

    with pytest.raises(StackError, match="export it too") as caught:
        export_layers(publish_layers_of(build)[1:2], tmp_path / "export", NullReporter())
    assert caught.value.layer == FRAMEWORK


def test_export_runs_postinstall_on_a_real_runtime(relocatable_runtime: Path, tmp_path: Path) -> None:
    """A real runtime plus a hand-made venv layer on it: exported, post-installed, working."""
    build = tmp_path / "_build"
    runtime_dir = copy_runtime(relocatable_runtime, build / RUNTIME)
    version = subprocess.run(
        [runtime_dir / "bin/python3", "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    ).stdout.strip()
    # The runtime is made from the interpreter running the tests, so its site folder follows it.
    site_dir = "lib/python{}.{}/site-packages".format(*version.split(".")[:2])
    config = {
        "python": "bin/python3",
        "base_python": "bin/python3",
        "site_dir": site_dir,
        "py_version": version,
    }
    _write_config(runtime_dir, config)
    fw = build / FRAMEWORK
    (fw / site_dir / "fwpkg").mkdir(parents=True)
    (fw / site_dir / "fwpkg" / "__init__.py").write_text("VALUE = 42\n")
    (fw / site_dir / "sitecustomize.py").write_text(
        "import os, site\n"
        "here = os.path.dirname(os.path.abspath(__file__))\n"
        f"site.addsitedir(os.path.join(here, '..', '..', '..', '..', '{RUNTIME}', '{site_dir}'))\n"
    )
    (fw / "pyvenv.cfg").write_text(f"include-system-site-packages = false\nversion = {version}\n")
    (fw / "bin").mkdir()
    (fw / "bin" / "python").symlink_to(f"../../{RUNTIME}/bin/python3")
    (fw / "bin" / "python3").symlink_to("python")
    fw_config = {
        **config,
        "python": "bin/python",
        "base_python": f"../{RUNTIME}/bin/python3",
        "pylib_dirs": [f"../{RUNTIME}/{site_dir}"],
    }
    _write_config(fw, fw_config)
    common = {
        "lock_version": 1,
        "locked_at": "2025-03-01T12:00:00+00:00",
        "requirements_hash": "sha256:0",
        "runtime_target": RUNTIME,
        "required_layers": (),
        "python_implementation": f"cpython@{version}",
    }
    layers = [
        PublishLayer(LayerKind.RUNTIME, RUNTIME, RUNTIME, runtime_dir, **common),  # type: ignore[arg-type]
        PublishLayer(LayerKind.FRAMEWORK, FRAMEWORK, FRAMEWORK, fw, **common),  # type: ignore[arg-type]
    ]
    target = tmp_path / "export"
    export_layers(layers, target, NullReporter())

    probe = subprocess.run(
        [target / FRAMEWORK / "bin" / "python", "-c", "import sys, fwpkg; print(sys.prefix, fwpkg.__file__)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    prefix, module = probe.stdout.split()
    assert Path(prefix) == target / FRAMEWORK
    assert Path(module).is_relative_to(target / FRAMEWORK)
    # Post-install compiled bytecode in the export, never in the build (the pyc dirs are new).
    assert list((target / FRAMEWORK / site_dir / "fwpkg").glob("__pycache__/*.pyc"))
    assert not list((fw / site_dir / "fwpkg").glob("__pycache__"))


def _write_config(layer: Path, config: dict[str, object]) -> None:
    path = layer / "share/venv/metadata/venvstacks_layer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))


def _tree(folder: Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(folder).as_posix(), p.lstat().st_ino) for p in folder.rglob("*"))


@pytest.mark.parametrize("where", ["build folder", "inside a layer"])
def test_export_or_publish_into_the_build_is_refused(build: Path, tmp_path: Path, where: str) -> None:
    """Exporting into the build folder would replace every built layer with its copy."""
    from pdm_stack.errors import StackError
    from pdm_stack.publish.publish import PublishOptions, publish_layers

    before = _tree(build)
    target = build if where == "build folder" else build / FRAMEWORK / "out"
    with pytest.raises(StackError, match=r"build folder|inside the built layer"):
        export_layers(publish_layers_of(build), target, NullReporter(), postinstall=False)
    if where == "inside a layer":
        with pytest.raises(StackError, match="inside the built layer") as caught:
            publish_layers(publish_layers_of(build), PublishOptions(target), NullReporter())
        assert caught.value.layer == FRAMEWORK
    assert _tree(build) == before


def test_uvs_environment_lock_is_neither_exported_nor_published(build: Path, tmp_path: Path) -> None:
    from pdm_stack.publish.publish import PublishOptions, publish_layers

    for layer in (RUNTIME, FRAMEWORK):
        (build / layer / ".lock").write_text("")
        (build / layer / ".lock").chmod(0o666)
    layers = publish_layers_of(build)[:2]
    export_layers(layers, tmp_path / "export", NullReporter(), postinstall=False)
    assert not list((tmp_path / "export").rglob(".lock"))
    for result in publish_layers(layers, PublishOptions(tmp_path / "out"), NullReporter()):
        with tarfile.open(result.archive) as tar:
            assert not [name for name in tar.getnames() if name.endswith("/.lock")]


def test_a_second_export_into_the_folder_waits_instead_of_removing_the_first_ones_files(
    build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from pdm_stack.publish import export as export_module
    from pdm_stack.reporting import PlainReporter

    target = tmp_path / "export"
    layers = publish_layers_of(build)[:1]
    first_copied, first_may_finish = threading.Event(), threading.Event()
    original = export_module._swap

    def swap(staging: Path, final: Path) -> None:
        if not first_copied.is_set():  # the first export has its layer staged, not yet in place
            first_copied.set()
            first_may_finish.wait(30)
        original(staging, final)

    monkeypatch.setattr(export_module, "_swap", swap)
    errors: list[BaseException] = []
    second_log = io.StringIO()

    def export(stream: io.StringIO) -> None:
        try:
            export_layers(layers, target, PlainReporter(stream=stream), postinstall=False)
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=export, args=(io.StringIO(),))
    first.start()
    assert first_copied.wait(30)
    second = threading.Thread(target=export, args=(second_log,))
    second.start()
    deadline = time.monotonic() + 20
    while "Another export" not in second_log.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    first_may_finish.set()
    first.join(30)
    second.join(30)
    assert errors == []
    assert f"Another export or deployment into {target} is running" in second_log.getvalue()
    assert (target / RUNTIME / "postinstall.py").is_file()
