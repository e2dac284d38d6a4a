"""Deploying a real published stack: it runs, survives moves, redeploys idempotently and atomically."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pdm_stack.deploy.standalone import DeployError, deploy, main, read_records, select_layers
from tests.deploy.stack_factory import (
    APP,
    FRAMEWORK,
    RUNTIME,
    SITE,
    copy_deployment,
    republish_app,
    run_app,
    tree_snapshot,
)
from tests.fixtures.runtimes import clean_env, copy_runtime

QUIET = {"log": lambda _: None}


def assert_runs_inside(target: Path) -> None:
    """The app starts and everything it reports lies inside ``target``."""
    facts = run_app(target)
    root = target.resolve()
    assert facts["answer"] == 42
    assert Path(facts["prefix"]).resolve() == root / APP
    assert Path(facts["base_prefix"]).resolve() == root / RUNTIME
    for path in [*facts["files"], facts["executable"]]:
        assert Path(path).resolve().is_relative_to(root), path
    # The pyc files hold relative file names; importlib puts the real one in the code object.
    assert Path(facts["co_filename"]) == target / FRAMEWORK / SITE / "fwpkg/__init__.py"


def files_mentioning(root: Path, needle: str) -> list[str]:
    encoded = needle.encode()
    return [
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and encoded in path.read_bytes()
    ]


def test_deployed_stack_runs_and_keeps_running_after_two_moves(
    artifacts: Path, build_dir: Path, tmp_path: Path
) -> None:
    first = tmp_path / "site-a" / "stack"
    outcome = deploy(artifacts, first, **QUIET)
    assert outcome == [(RUNTIME, "deployed"), (FRAMEWORK, "deployed"), (APP, "deployed")]
    assert sorted(path.name for path in first.iterdir()) == ["__venvstacks__", APP, RUNTIME, FRAMEWORK]
    assert_runs_inside(first)
    pyc = next((first / FRAMEWORK / SITE / "fwpkg/__pycache__").glob("__init__.*.pyc")).read_bytes()
    assert pyc[4:8] == b"\x03\x00\x00\x00"  # PEP 552: hash-based, checked against the source

    # Move 1: rename a parent folder. Move 2: the stack folder itself, somewhere deeper.
    second = tmp_path / "site-b" / "stack"
    (tmp_path / "site-a").rename(tmp_path / "site-b")
    assert_runs_inside(second)
    third = tmp_path / "elsewhere" / "deeper" / "moved-stack"
    third.parent.mkdir(parents=True)
    second.rename(third)
    assert not first.exists() and not second.exists()
    assert_runs_inside(third)
    # No deployed file (pyc and records included) names the build or any earlier location.
    for old in (build_dir, first, second, tmp_path / "site-a"):
        assert files_mentioning(third, str(old)) == []


def test_layer_selection_pulls_in_lower_layers_and_redeploying_rewrites_nothing(
    artifacts: Path, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    assert deploy(artifacts, target, layers=["fw"], **QUIET) == [
        (RUNTIME, "deployed"),
        (FRAMEWORK, "deployed"),
    ]
    assert not (target / APP).exists()
    assert deploy(artifacts, target, apps=["demo"], **QUIET) == [
        (RUNTIME, "up to date"),
        (FRAMEWORK, "up to date"),
        (APP, "deployed"),
    ]
    run_app(target)
    before = tree_snapshot(target)
    assert deploy(artifacts, target, **QUIET) == [(name, "up to date") for name in (RUNTIME, FRAMEWORK, APP)]
    assert tree_snapshot(target) == before
    with pytest.raises(DeployError, match="no published application named 'fw'"):
        deploy(artifacts, target, apps=["fw"], **QUIET)


def test_a_new_archive_replaces_the_deployed_layer(
    artifacts: Path, build_dir: Path, deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "target")
    app_dir = shutil.copytree(build_dir / APP, tmp_path / "new-build" / APP, symlinks=True)
    (app_dir / SITE / "demo_app/extra.py").write_text("VERSION = 2\n")
    new_artifacts = republish_app(artifacts, tmp_path / "new-artifacts", app_dir)

    outcome = deploy(new_artifacts, target, **QUIET)
    assert outcome == [(RUNTIME, "up to date"), (FRAMEWORK, "up to date"), (APP, "deployed")]
    assert (target / APP / SITE / "demo_app/extra.py").read_text() == "VERSION = 2\n"
    record = read_records(target)[APP]
    assert record["archive_sha256"] == new_artifacts_sha(new_artifacts)
    assert f"{SITE}/demo_app/extra.py" in record["files"]
    assert [path for path in target.iterdir() if path.name.startswith(".")] == []
    assert_runs_inside(target)


def new_artifacts_sha(artifacts: Path) -> str:
    layers = json.loads((artifacts / "__venvstacks__/venvstacks.json").read_text())["layers"]
    return str(layers["applications"][0]["archive_hashes"]["sha256"])


def test_failed_postinstall_leaves_the_deployed_layer_untouched(
    artifacts: Path, build_dir: Path, deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "target")
    before = tree_snapshot(target / APP)
    broken = shutil.copytree(build_dir / APP, tmp_path / "broken-build" / APP, symlinks=True)
    (broken / SITE / "sitecustomize.py").unlink()
    new_artifacts = republish_app(artifacts, tmp_path / "new-artifacts", broken)

    with pytest.raises(DeployError, match=r"app-demo: postinstall failed: .*sitecustomize.py is missing"):
        deploy(new_artifacts, target, **QUIET)
    assert tree_snapshot(target / APP) == before
    assert [path for path in target.iterdir() if path.name.startswith(".")] == []
    assert read_records(target)[APP]["archive_sha256"] != new_artifacts_sha(new_artifacts)
    assert_runs_inside(target)


def test_standalone_script_deploys_with_a_bare_isolated_python(
    artifacts: Path, relocatable_runtime: Path, tmp_path: Path
) -> None:
    # Only what publishing writes: archives, metadata and deploy_stack.py (hard links: fast).
    published = tmp_path / "published"
    shutil.copytree(artifacts, published, copy_function=os.link)
    python = copy_runtime(relocatable_runtime, tmp_path / "bare-python") / "bin/python3"
    no_pdm_stack = subprocess.run(
        [python, "-I", "-c", "import pdm_stack"], capture_output=True, env=clean_env()
    )
    assert no_pdm_stack.returncode != 0

    target = tmp_path / "target"
    command = [str(python), "-I", str(published / "deploy_stack.py"), str(target), "--app", "demo"]
    result = subprocess.run(command, capture_output=True, text=True, env=clean_env(), check=False)
    assert result.returncode == 0, result.stderr
    assert "app-demo: deploying app-demo.tar.gz" in result.stderr
    assert_runs_inside(target)

    again = subprocess.run(command, capture_output=True, text=True, env=clean_env(), check=False)
    assert again.returncode == 0
    assert again.stderr.count("up to date") == 3

    # A user error is one line on stderr and a non-zero exit, never a traceback.
    bad = subprocess.run(
        [str(python), "-I", str(published / "deploy_stack.py"), str(target), "--layer", "nope"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: no published layer named 'nope'")
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    # Running it left the published folder as it was (no bytecode beside the deployer).
    assert sorted(p.relative_to(published) for p in published.rglob("*")) == sorted(
        p.relative_to(artifacts) for p in artifacts.rglob("*")
    )

    # An embedding application can import the deployer from the published folder instead.
    embedded = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import deploy_stack_lib\n"
        "print(deploy_stack_lib.deploy(sys.argv[1], sys.argv[2], apps=['demo'], log=lambda _: None))\n"
    )
    result = subprocess.run(
        [str(python), "-I", "-B", "-c", embedded, str(published), str(target)],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("'up to date'") == 3


def test_command_line_needs_both_folders_without_the_stub(artifacts: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "target")])
    assert exit_info.value.code == 2
    assert main([str(artifacts), str(tmp_path / "target"), "--layer", "nope"]) == 1
    assert main([str(tmp_path / "target"), "--layer", "nope"], artifacts=artifacts) == 1
    assert not (tmp_path / "target").exists()


def _python39() -> str | None:
    """A working Python 3.9 (pyenv shims exist even when the version is not selected)."""
    pyenv = Path.home() / ".pyenv/versions"
    candidates = [str(path) for path in sorted(pyenv.glob("3.9*/bin/python3.9"))] if pyenv.is_dir() else []
    for candidate in [*reversed(candidates), shutil.which("python3.9")]:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(_python39() is None, reason="no Python 3.9 on this machine")
def test_deployer_and_postinstall_run_on_python_3_9(artifacts: Path, tmp_path: Path) -> None:
    python39 = str(_python39())
    target = tmp_path / "target"
    command = [
        python39,
        "-I",
        str(artifacts / "deploy_stack.py"),
        str(artifacts),
        str(target),
        "--layer",
        FRAMEWORK,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=clean_env(), check=False)
    assert result.returncode == 0, result.stderr
    assert sorted(read_records(target)) == [RUNTIME, FRAMEWORK]
    rerun = subprocess.run(
        [python39, "-I", str(target / FRAMEWORK / "postinstall.py")],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == f"{FRAMEWORK}: compiled bytecode"


def test_a_short_name_shared_by_a_framework_and_an_app_is_ambiguous() -> None:
    def layer(name: str, kind: str, required: list[str]) -> dict[str, object]:
        return {
            "install_target": name,
            "layer_name": name,
            "layer_kind": kind,
            "runtime_layer": "rt",
            "required_layers": required,
        }

    published = [
        layer("rt", "runtime", []),
        layer("framework-stats", "framework", []),
        layer("app-stats", "application", ["framework-stats"]),
    ]
    ambiguous = r"'stats' names several published layers \(framework-stats, app-stats\)"
    with pytest.raises(DeployError, match=ambiguous):
        select_layers(published, ["stats"])
    framework_only = select_layers(published, ["framework-stats"])
    assert [x["install_target"] for x in framework_only] == ["rt", "framework-stats"]
    assert [x["install_target"] for x in select_layers(published, apps=["stats"])] == [
        "rt",
        "framework-stats",
        "app-stats",
    ]


def test_next_deployment_repairs_a_killed_swap_and_keeps_the_users_folders(
    artifacts: Path, deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "target")
    parked = target / f".{APP}.old-k1ll3d_0"
    parked.mkdir()
    (target / APP).rename(parked / "layer")  # killed between the two renames of a swap
    (target / f".{APP}.new-zz9_abc1").mkdir()  # and its unpacked replacement left behind
    mine = target / ".notes.old-backup"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me")

    assert deploy(artifacts, target, apps=["demo"], **QUIET)[-1] == (APP, "deployed")
    run_app(target)
    assert sorted(path.name for path in target.iterdir() if path.name.startswith(".")) == [
        ".notes.old-backup"
    ]
    assert (mine / "todo.txt").read_text() == "keep me"


@pytest.mark.parametrize("where", ["target", "parent"])
def test_deploying_onto_a_file_names_the_file_and_writes_nothing(
    where: str, artifacts: Path, tmp_path: Path
) -> None:
    from pdm_stack.deploy import deploy_stack
    from pdm_stack.errors import StackError
    from pdm_stack.reporting import NullReporter

    blocker = tmp_path / "stack"
    blocker.write_text("a file")
    target = blocker if where == "target" else blocker / "deeper"
    expected = (
        "the deployment folder is a file"
        if where == "target"
        else f"{blocker}, a parent of the deployment folder, is a file"
    )
    with pytest.raises(DeployError, match=f"{target}: cannot deploy here: {expected}, not a folder"):
        deploy(artifacts, target, **QUIET)
    with pytest.raises(StackError, match="cannot deploy here") as caught:
        deploy_stack(artifacts, target, reporter=NullReporter())
    assert "\n" not in str(caught.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["stack"]
    assert blocker.read_text() == "a file"


def test_two_layers_with_one_install_target_are_named(artifacts: Path, tmp_path: Path) -> None:
    shutil.copytree(artifacts, tmp_path / "artifacts")
    combined = tmp_path / "artifacts/__venvstacks__/venvstacks.json"
    published = json.loads(combined.read_text())
    published["layers"]["frameworks"].append(
        dict(published["layers"]["frameworks"][0], layer_name="framework-x")
    )
    combined.write_text(json.dumps(published))
    with pytest.raises(
        DeployError, match=f"layers '{FRAMEWORK}' and 'framework-x' both have install_target '{FRAMEWORK}'"
    ):
        deploy(tmp_path / "artifacts", tmp_path / "target", **QUIET)
    assert not (tmp_path / "target").exists()


def test_a_symlinked_metadata_folder_in_target_is_refused(artifacts: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "__venvstacks__").symlink_to(elsewhere)
    with pytest.raises(
        DeployError, match="__venvstacks__: must be a folder of the deployment, not a symlink"
    ):
        deploy(artifacts, target, **QUIET)
    assert list(elsewhere.iterdir()) == []
    assert sorted(path.name for path in target.iterdir()) == ["__venvstacks__"]


def test_a_deployment_waits_for_the_folders_lock_as_export_takes_it(artifacts: Path, tmp_path: Path) -> None:
    """``pdm stack export`` locks the folder with filelock; the stdlib deployer must see it."""
    import threading
    import time

    from filelock import FileLock

    from pdm_stack.deploy.deployment_records import lock_path

    target = tmp_path / "target"
    held = FileLock(str(lock_path(target)))
    held.acquire()
    log: list[str] = []
    outcome: list[object] = []
    previous = os.umask(0)
    try:
        worker = threading.Thread(
            target=lambda: outcome.append(deploy(artifacts, target, layers=[RUNTIME], log=log.append))
        )
        worker.start()
        deadline = time.monotonic() + 20
        while not any("Another deployment" in line for line in log) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (target / RUNTIME).exists()
        held.release()
        worker.join(120)
    finally:
        os.umask(previous)
    assert any(f"Another deployment into {target} is running" in line for line in log)
    assert outcome == [[(RUNTIME, "deployed")]]
    assert lock_path(target).stat().st_mode & 0o777 == 0o644


def test_files_the_deployer_writes_in_target_never_follow_a_planted_symlink(
    artifacts: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    target = tmp_path / "target"
    (target / "__venvstacks__/deployed").mkdir(parents=True)
    (target / f"__venvstacks__/deployed/{RUNTIME}.json.tmp").symlink_to(outside)
    assert deploy(artifacts, target, layers=[RUNTIME], **QUIET) == [(RUNTIME, "deployed")]
    assert outside.read_text() == "not yours"
    assert RUNTIME in read_records(target)
