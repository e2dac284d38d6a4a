"""Publishing a stack: metadata, build numbers, skipping unchanged layers, dry runs, naming."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import lzma
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from pdm_stack.building.build_records import BuildRecord
from pdm_stack.deploy import standalone_files
from pdm_stack.errors import StackError
from pdm_stack.lock.layer_lock import LockPaths
from pdm_stack.lock.pylock import LayerLock
from pdm_stack.lock.stack_lock import LockedLayer
from pdm_stack.publish.formats import DEFAULT_FORMAT
from pdm_stack.publish.publish import PublishOptions, PublishResult, lock_time, publish_layers
from pdm_stack.publish.publish_inputs import PublishLayer, plan_layers
from pdm_stack.reporting import PlainReporter
from pdm_stack.stack import open_stack
from pdm_stack.stack_spec.model import LayerKind
from tests.fixtures.runtimes import clean_env, copy_runtime
from tests.fixtures.specs import SpecWriter
from tests.publish.fake_layers import APP, FRAMEWORK, RUNTIME, SITE, publish_layers_of

EXT = DEFAULT_FORMAT
DECOMPRESS = {"tar.gz": gzip.decompress, "tar.xz": lzma.decompress}

PLATFORM = "linux_x86_64"


def run(build: Path, out: Path, log: list[str] | None = None, **options: Any) -> list[PublishResult]:
    reporter = _ListReporter(log if log is not None else [])
    return publish_layers(
        publish_layers_of(build), PublishOptions(out, target_platform=PLATFORM, **options), reporter
    )


class _ListReporter(PlainReporter):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(verbosity=1)
        self.lines = lines

    def _write(self, line: str) -> None:
        self.lines.append(line)


def meta(out: Path, kind: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "__venvstacks__" / kind / f"{name}.json").read_text())
    return data


def test_metadata_describes_each_archive(build: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = run(build, out)
    assert [r.outcome for r in results] == ["published"] * 3
    app = meta(out, "applications", APP)
    archive = out / f"app-demo.{EXT}"
    assert app == {
        "layer_name": APP,
        "layer_kind": "application",
        "install_target": APP,
        "requirements_hash": "sha256:" + "3" * 64,
        "lock_version": 1,
        "locked_at": "2025-03-01T12:00:00+00:00",
        "runtime_layer": RUNTIME,
        "python_implementation": "cpython@3.11.9",
        "bound_to_implementation": f"../{RUNTIME}/bin/python3",
        "required_layers": [FRAMEWORK],
        "app_launch_module": "demo_app",
        # The one app-modules hash: shipped name, NUL, sha256 of the content, per file.
        "app_launch_module_hash": "sha256:"
        + hashlib.sha256(
            b"demo_app.py\0" + hashlib.sha256((build / APP / SITE / "demo_app.py").read_bytes()).digest()
        ).hexdigest(),
        "archive_build": 1,
        "archive_name": f"app-demo.{EXT}",
        "archive_format": EXT,
        "target_platform": PLATFORM,
        "archive_size": archive.stat().st_size,
        "archive_hashes": {"sha256": hashlib.sha256(archive.read_bytes()).hexdigest()},
        # pdm-stack's extra: the uncompressed tar stream, the deployer's bound on expansion.
        "archive_unpacked_size": len(DECOMPRESS[EXT](archive.read_bytes())),
    }
    runtime = meta(out, "runtimes", RUNTIME)
    assert runtime["bound_to_implementation"] == "bin/python3"
    assert runtime["required_layers"] == []
    assert "app_launch_module" not in runtime
    assert meta(out, "frameworks", FRAMEWORK)["layer_kind"] == "framework"

    combined = json.loads((out / "__venvstacks__" / "venvstacks.json").read_text())
    assert combined == {
        "layers": {
            "runtimes": [runtime],
            "frameworks": [meta(out, "frameworks", FRAMEWORK)],
            "applications": [app],
        }
    }
    deployer = out / "deploy_stack.py"
    assert deployer.is_file() and os.access(deployer, os.X_OK)
    written = {
        str(p.relative_to(out)): p.read_bytes() for p in [deployer, *(out / "deploy_stack_lib").iterdir()]
    }
    assert written == standalone_files()  # verbatim, so identical in every publish
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "__venvstacks__",
            "deploy_stack.py",
            "deploy_stack_lib",
            f"app-demo.{EXT}",
            f"framework-fw.{EXT}",
            f"cpython-3.11.{EXT}",
        ]
    )


def test_dry_run_writes_nothing(build: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    state = build / ".pdm-stack"
    log: list[str] = []
    results = run(build, out, log, dry_run=True, tag_outputs=True)
    assert [r.outcome for r in results] == ["would publish"] * 3
    assert results[1].archive == out / f"{FRAMEWORK}-{PLATFORM}-1.{EXT}"
    assert not out.exists() and not state.exists()
    assert any(f"{FRAMEWORK}: would publish {FRAMEWORK}-{PLATFORM}-1.{EXT}" in line for line in log)

    run(build, out)
    log.clear()
    assert [r.outcome for r in run(build, out, log, dry_run=True)] == ["would skip"] * 3
    assert any("would skip" in line for line in log)


def test_unchanged_layers_are_skipped_and_keep_their_build(build: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(build, out)
    archive = out / f"framework-fw.{EXT}"
    stamp = archive.stat().st_mtime_ns
    log: list[str] = []
    results = run(build, out, log)
    assert [r.outcome for r in results] == ["skipped"] * 3
    assert archive.stat().st_mtime_ns == stamp
    assert any("framework-fw: unchanged since the last publish, skipped" in line for line in log)
    assert meta(out, "frameworks", FRAMEWORK)["archive_build"] == 1

    # --force rewrites the archive; same bytes, so the build number stays.
    results = run(build, out, force=True)
    assert [r.outcome for r in results] == ["unchanged"] * 3
    assert meta(out, "frameworks", FRAMEWORK)["archive_build"] == 1

    # A rebuild that only touched file times is archived again, with the same bytes and build.
    for path in (build / FRAMEWORK).rglob("*"):
        os.utime(path, (2_000_000, 2_000_000), follow_symlinks=False)
    outcomes = {r.layer.env_name: r.outcome for r in run(build, out)}
    assert outcomes == {RUNTIME: "skipped", FRAMEWORK: "unchanged", APP: "skipped"}


def test_changed_content_bumps_the_build_number(build: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(build, out, tag_outputs=True)
    first = out / f"{FRAMEWORK}-{PLATFORM}-1.{EXT}"
    assert first.is_file()
    (build / FRAMEWORK / SITE / "fwpkg" / "__init__.py").write_text("VALUE = 43\n")
    outcomes = {r.layer.env_name: r.outcome for r in run(build, out, tag_outputs=True)}
    assert outcomes == {RUNTIME: "skipped", FRAMEWORK: "published", APP: "skipped"}
    data = meta(out, "frameworks", FRAMEWORK)
    assert data["archive_build"] == 2
    assert data["archive_name"] == f"{FRAMEWORK}-{PLATFORM}-2.{EXT}"
    second = out / data["archive_name"]
    assert data["archive_hashes"]["sha256"] == hashlib.sha256(second.read_bytes()).hexdigest()
    assert meta(out, "runtimes", RUNTIME)["archive_build"] == 1
    combined = json.loads((out / "__venvstacks__" / "venvstacks.json").read_text())
    assert combined["layers"]["frameworks"] == [data]


def test_a_deleted_archive_is_written_again(build: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(build, out)
    (out / f"app-demo.{EXT}").unlink()
    outcomes = [r.outcome for r in run(build, out)]
    assert outcomes == ["skipped", "skipped", "unchanged"]
    assert (out / f"app-demo.{EXT}").is_file()


def test_lock_time_is_the_member_time() -> None:
    assert lock_time("2025-03-01T12:00:00Z", layer="x") == 1740830400
    assert lock_time("2025-03-01T12:00:00", layer="x") == 1740830400  # naive means UTC
    assert lock_time("2025-03-01", layer="x") == 1740787200


def test_real_runtime_archives_reproducibly_and_runs_unpacked(
    relocatable_runtime: Path, tmp_path: Path
) -> None:
    """The runtime layer too: two copies in different places give the same archive bytes."""
    archives = []
    for number, place in enumerate(("first/_build", "second/nested/_build")):
        folder = copy_runtime(relocatable_runtime, tmp_path / place / RUNTIME)
        (folder / "share/venv/metadata").mkdir(parents=True)
        (folder / "share/venv/metadata/venvstacks_layer.json").write_text(
            json.dumps({"py_version": "3.11.0", "site_dir": "lib/python3.11/site-packages"})
        )
        # Bytecode from running it, as a build leaves behind: must not ship.
        subprocess.run([folder / "bin/python3", "-c", "import json, email"], env=clean_env(), check=True)
        if number:
            for path in folder.rglob("*"):
                os.utime(path, (1_500_000_000, 1_500_000_000), follow_symlinks=False)
        layer = PublishLayer(
            kind=LayerKind.RUNTIME,
            env_name=RUNTIME,
            install_target=RUNTIME,
            folder=folder,
            lock_version=1,
            locked_at="2025-03-01T12:00:00+00:00",
            requirements_hash="sha256:" + "0" * 64,
            runtime_target=RUNTIME,
            required_layers=(),
            python_implementation="cpython@3.11.0",
        )
        out = tmp_path / f"out{number}"
        results = publish_layers([layer], PublishOptions(out, workers=number + 1), PlainReporter())
        archives.append(results[0].archive)
    assert archives[0].read_bytes() == archives[1].read_bytes()

    target = tmp_path / "deployed"
    with tarfile.open(archives[0], "r:*") as tar:
        names = tar.getnames()
        tar.extractall(target, filter="tar")
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    probe = subprocess.run(
        [target / RUNTIME / "bin/python3", "-c", "import sys, ssl; print(sys.prefix)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    assert Path(probe.stdout.strip()) == target / RUNTIME
    assert str(tmp_path / "first").encode() not in archives[0].read_bytes()


def test_core_publish_imports_no_pdm() -> None:
    script = (
        "import sys, pdm_stack.publish\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {'pdm', 'hatchling'})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_a_bad_lock_time_is_a_user_error(build: Path, tmp_path: Path) -> None:
    layers = publish_layers_of(build)
    broken = dataclasses.replace(layers[0], locked_at="yesterday")
    with pytest.raises(StackError, match="not an ISO time") as caught:
        publish_layers([broken], PublishOptions(tmp_path / "out"), PlainReporter())
    assert caught.value.layer == RUNTIME
    assert list((tmp_path / "out").glob(f"*.{EXT}")) == []


def locked(env_name: str, install_target: str | None = None, version: int = 1) -> LockedLayer:
    lock = LayerLock(env_name, "3.11", (PLATFORM,), ())
    meta = {
        "lock_version": version,
        "locked_at": "2025-03-01T12:00:00+00:00",
        "requirements_hash": "sha256:0",
    }
    paths = LockPaths.of(Path("/nowhere"), env_name)
    return LockedLayer(env_name, lock, meta, paths, install_target or env_name)


STACK = """
[[tool.venvstacks.frameworks]]
name = "fw"
runtime = "cpython-3.11"
requirements = []

[[tool.venvstacks.applications]]
name = "demo"
frameworks = ["fw"]
launch_module = "demo_app.py"
requirements = []
"""


def test_plan_layers_gathers_graph_lock_and_build_facts(build: Path, write_spec: SpecWriter) -> None:
    spec = write_spec(STACK)
    (spec.parent / "demo_app.py").write_text("print('demo app')\n")
    stack = open_stack(spec)
    locks = {name: locked(name) for name in (RUNTIME, FRAMEWORK, APP)}
    for name in locks:
        BuildRecord(name, "sha256:x", True, install_target=name, requirements_hash="sha256:0").write(build)
    planned = plan_layers(stack.graph, list(stack.graph), locks, build, keep_console_scripts=lambda _: True)
    runtime, framework, app = planned
    assert (runtime.kind, runtime.runtime_target, runtime.required_layers) == (LayerKind.RUNTIME, RUNTIME, ())
    assert runtime.python_implementation == "cpython@3.11.9"  # the version comes from the build
    assert (framework.folder, framework.required_layers) == (build / FRAMEWORK, ())
    assert (app.required_layers, app.launch_module) == ((FRAMEWORK,), "demo_app")
    assert (framework.keep_console_scripts, app.keep_console_scripts) == (False, True)  # apps only

    # A layer built from another lock than the current one would ship the wrong packages.
    BuildRecord(APP, "sha256:x", True, install_target=APP, requirements_hash="sha256:old").write(build)
    with pytest.raises(StackError, match=r"built from an older lock: app-demo; run 'pdm stack build'"):
        plan_layers(stack.graph, list(stack.graph), locks, build)

    # A versioned framework lives in "<env name>@<lock version>", which was not built.
    locks[FRAMEWORK] = locked(FRAMEWORK, f"{FRAMEWORK}@2", 2)
    with pytest.raises(StackError, match=r"not built: framework-fw@2 .*run 'pdm stack build'"):
        plan_layers(stack.graph, list(stack.graph), locks, build)
    del locks[RUNTIME]
    with pytest.raises(StackError, match="run 'pdm stack lock'"):
        plan_layers(stack.graph, [stack.graph.layers[0]], locks, build)


def test_build_numbers_count_across_formats(build: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(build, out, tag_outputs=True)
    run(build, out, tag_outputs=True, archive_format="tar.zst")
    assert meta(out, "runtimes", RUNTIME)["archive_name"] == f"{RUNTIME}-{PLATFORM}-2.tar.zst"
    run(build, out, tag_outputs=True)  # back to the default: a new number, build 1 is never overwritten
    assert meta(out, "runtimes", RUNTIME)["archive_name"] == f"{RUNTIME}-{PLATFORM}-3.{EXT}"
    assert (out / f"{RUNTIME}-{PLATFORM}-1.{EXT}").read_bytes() == (
        out / f"{RUNTIME}-{PLATFORM}-3.{EXT}"
    ).read_bytes()


def test_published_files_get_the_usual_mode_not_a_private_one(build: Path, tmp_path: Path) -> None:
    """Archives and metadata are for others to read (a web server, an upload step): not 0600."""
    out = tmp_path / "out"
    old = os.umask(0o022)
    try:
        run(build, out, tag_outputs=True)
    finally:
        os.umask(old)
    published = [p for p in out.rglob("*") if p.is_file() and p.name != "deploy_stack.py"]
    deployer_modules = len(standalone_files()) - 1
    # archives, metadata files, venvstacks.json, the publish lock
    assert len(published) == 3 + 4 + deployer_modules + 1
    assert {oct(p.stat().st_mode & 0o777) for p in published} == {"0o644"}
    assert oct((out / "deploy_stack.py").stat().st_mode & 0o777) == "0o755"


def test_an_interrupt_drops_queued_compression_instead_of_waiting_for_it(
    build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C must not wait for queued chunks (seconds each for xz) to be compressed."""
    from pdm_stack.publish import compressors

    for layer in (FRAMEWORK, APP):
        (build / layer / "big.bin").write_bytes(os.urandom(8 << 20))  # 8 chunks each
    started: list[float] = []
    original = compressors.ParallelGzip._task

    def slow_task(self: compressors.ParallelGzip, chunk: bytes) -> Any:
        compress = original(self, chunk)

        def run_slowly() -> bytes:
            started.append(time.monotonic())
            time.sleep(0.2)
            return compress()

        return run_slowly

    monkeypatch.setattr(compressors.ParallelGzip, "_task", slow_task)

    class CtrlC(_ListReporter):
        interrupted_at = 0.0

        def info(self, message: str) -> None:
            if message.startswith(RUNTIME):  # the runtime is done, both other layers under way
                CtrlC.interrupted_at = time.monotonic()
                raise KeyboardInterrupt
            super().info(message)

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        # One compression thread: one layer's next chunk is always queued behind the other's.
        publish_layers(
            publish_layers_of(build),
            PublishOptions(out, "tar.gz", target_platform=PLATFORM, workers=1, layer_jobs=3),
            CtrlC([]),
        )
    assert CtrlC.interrupted_at
    # Only the chunk being compressed finishes; no queued one is started after the interrupt.
    assert [t for t in started if t > CtrlC.interrupted_at + 0.05] == []
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == [  # no partial
        "__venvstacks__/publish.lock",
        "__venvstacks__/runtimes/cpython-3.11.json",
        "cpython-3.11.tar.gz",
    ]


def test_a_layer_whose_app_modules_changed_since_the_build_is_refused(
    build: Path, write_spec: SpecWriter
) -> None:
    """Publishing must not ship the application code of an older build."""
    from pdm_stack.app_modules import app_module_files
    from pdm_stack.building.venv_layer import read_lower_build, venv_inputs

    spec = write_spec(STACK)
    module = spec.parent / "demo_app.py"
    module.write_text("print('demo app')\n")
    stack = open_stack(spec)
    locks = {name: locked(name) for name in (RUNTIME, FRAMEWORK, APP)}
    for layer in stack.graph:  # records as 'pdm stack build' writes them, lower layers first
        inputs = "sha256:runtime"
        if layer.kind is not LayerKind.RUNTIME:
            lowers = [read_lower_build(build, stack.graph.by_env_name(n)) for n in layer.depends_on]
            files = app_module_files(layer.spec, spec.parent) if layer.kind is LayerKind.APPLICATION else []
            inputs = venv_inputs(layer, locks[layer.env_name], lowers, files, PLATFORM)  # type: ignore[arg-type]
        BuildRecord(
            layer.env_name, inputs, True, install_target=layer.env_name, requirements_hash="sha256:0"
        ).write(build)

    def plan() -> list[PublishLayer]:
        return plan_layers(
            stack.graph, list(stack.graph), locks, build, spec_root=spec.parent, platform=PLATFORM
        )

    assert [p.env_name for p in plan()] == [RUNTIME, FRAMEWORK, APP]
    module.write_text("print('demo app, edited')\n")
    with pytest.raises(StackError, match=r"changed since the last build .*: app-demo; run 'pdm stack build'"):
        plan()


def test_a_second_publish_into_the_folder_waits_instead_of_removing_the_first_ones_files(
    build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from pdm_stack.publish import publish as publish_module

    out = tmp_path / "out"
    layers = publish_layers_of(build)[:1]
    first_writing, first_may_finish = threading.Event(), threading.Event()
    original = publish_module.write_archive

    def write_archive(*args: Any, **kwargs: Any) -> Any:
        written = original(*args, **kwargs)  # complete under its temporary (.partial) name
        if not first_writing.is_set():
            first_writing.set()
            first_may_finish.wait(30)
        return written

    monkeypatch.setattr(publish_module, "write_archive", write_archive)
    outcomes: dict[str, Any] = {}

    def publish(name: str, log: list[str]) -> None:
        try:
            outcomes[name] = publish_layers(layers, PublishOptions(out, force=True), _ListReporter(log))
        except BaseException as exc:
            outcomes[name] = exc

    first = threading.Thread(target=publish, args=("first", []))
    first.start()
    assert first_writing.wait(30)
    second_log: list[str] = []
    second = threading.Thread(target=publish, args=("second", second_log))
    second.start()
    deadline = time.monotonic() + 20
    while not any("Another publish" in line for line in second_log) and time.monotonic() < deadline:
        time.sleep(0.05)
    partials = list(out.glob(".*.partial"))
    first_may_finish.set()
    first.join(30)
    second.join(30)
    assert any(f"Another publish into {out} is running" in line for line in second_log)
    assert len(partials) == 1  # the first publish's archive survived the second one's start
    assert [r.outcome for r in outcomes["first"]] == ["published"]
    assert [r.outcome for r in outcomes["second"]] == ["unchanged"]
    assert not list(out.glob(".*.partial"))
