"""Verifying a deployment, through the core and through ``pdm stack deploy`` / ``pdm stack verify``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from pdm.exceptions import PdmUsageError
from pdm.project import Project

from pdm_stack.deploy.verify import describe, verify_deployment
from pdm_stack.errors import StackError
from pdm_stack.pdm_plugin.deploy import DeployCommand
from pdm_stack.pdm_plugin.verify import VerifyCommand
from tests.deploy.stack_factory import APP, FRAMEWORK, PY, RUNTIME, SITE, copy_deployment, run_app
from tests.fixtures.json_documents import documented_fields, parse_document


def test_intact_deployment_verifies_ok_and_bytecode_is_ignored(
    deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    run_app(target)  # writes whatever bytecode Python still wants to write
    results = verify_deployment(target)
    assert [(r.install_target, r.layer_kind, r.ok) for r in results] == [
        (RUNTIME, "runtime", True),
        (FRAMEWORK, "framework", True),
        (APP, "application", True),
    ]
    assert all(not r.added for r in results)
    assert describe(results[2]) == [f"{APP}: ok"]


def test_modified_missing_and_added_files_and_a_broken_app_are_reported(
    deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    (target / FRAMEWORK / SITE / "fwpkg/__init__.py").write_text("raise ImportError('fwpkg is broken')\n")
    (target / RUNTIME / f"lib/python{PY}/this.py").unlink()
    (target / FRAMEWORK / "notes.txt").write_text("mine")
    results = {r.install_target: r for r in verify_deployment(target)}

    runtime, framework, app = results[RUNTIME], results[FRAMEWORK], results[APP]
    assert not runtime.ok and runtime.missing == [f"lib/python{PY}/this.py"] and not runtime.modified
    assert not framework.ok and framework.modified == [f"{SITE}/fwpkg/__init__.py"]
    assert framework.added == ["notes.txt"]
    # The app's own files are intact, but its launch module no longer imports.
    assert not app.ok and not app.modified and not app.missing
    assert app.problems == ["launch module demo_app does not import: ImportError: fwpkg is broken"]
    assert describe(framework) == [
        f"{FRAMEWORK}: FAILED (1 modified file(s): {SITE}/fwpkg/__init__.py)",
        "  note: 1 file(s) not from the archive: notes.txt",
    ]


def test_a_broken_interpreter_link_and_a_missing_layer_are_reported(
    deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    (target / FRAMEWORK / "bin/python").unlink()
    (target / FRAMEWORK / "bin/python").symlink_to("/nonexistent/python3")
    (target / APP).rename(tmp_path / "moved-away")
    results = {r.install_target: r for r in verify_deployment(target)}
    assert results[FRAMEWORK].modified == ["bin/python"]
    assert "interpreter bin/python is missing or broken" in results[FRAMEWORK].problems
    assert results[APP].problems == ["the layer folder is missing"]


def test_an_app_package_without_main_is_reported(deployed_template: Path, tmp_path: Path) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    (target / APP / SITE / "demo_app/__main__.py").unlink()
    app = verify_deployment(target)[2]
    assert app.missing == [f"{SITE}/demo_app/__main__.py"]
    assert app.problems == [
        "launch package demo_app has no __main__ module: 'python -m demo_app' cannot run it"
    ]


def test_verify_without_a_deployment_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="no deployed layers here"):
        verify_deployment(tmp_path)


def run_command(command: type[DeployCommand | VerifyCommand], project: Project, *args: str) -> None:
    """Parse and run one command as ``pdm stack <command>`` would (registration is the lead's)."""
    parser = argparse.ArgumentParser()
    handler = command.init_parser(parser)
    handler.handle(project, parser.parse_args(list(args)))


def test_pdm_deploy_and_verify_commands(
    artifacts: Path, tmp_path: Path, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "target"
    run_command(DeployCommand, project, str(artifacts), str(target), "--app", "demo", "--json")
    captured = capsys.readouterr()
    assert "3 layer(s) deployed, 0 up to date" in captured.err
    deployed = parse_document(captured.out, "deploy")
    assert [(d["install_target"], d["status"]) for d in deployed["layers"]] == [
        (RUNTIME, "deployed"),
        (FRAMEWORK, "deployed"),
        (APP, "deployed"),
    ]
    assert set(deployed["layers"][0]) == documented_fields("deploy")
    assert deployed["target"] == str(target) and Path(deployed["layers"][2]["path"]) == target / APP
    run_app(target)

    run_command(VerifyCommand, project, str(target))
    assert capsys.readouterr().out.splitlines() == [f"{RUNTIME}: ok", f"{FRAMEWORK}: ok", f"{APP}: ok"]

    (target / APP / SITE / "demo_app/__init__.py").write_text("import missing_dependency\n")
    with pytest.raises(PdmUsageError, match=r"1 of 3 deployed layer\(s\) failed: app-demo"):
        run_command(VerifyCommand, project, str(target))
    out = capsys.readouterr().out
    assert f"{APP}: FAILED" in out and "No module named 'missing_dependency'" in out

    with pytest.raises(PdmUsageError):
        run_command(VerifyCommand, project, str(target), "--json")
    captured = capsys.readouterr()
    failed = parse_document(captured.out, "verify")
    assert f"{APP}: FAILED" in captured.err
    assert failed["ok"] is False and failed["exit_code"] == 1
    assert [layer["status"] for layer in failed["layers"]] == ["ok", "ok", "failed"]
    assert set(failed["layers"][0]) == documented_fields("verify")
    assert "No module named 'missing_dependency'" in failed["layers"][2]["problems"][0]

    with pytest.raises(PdmUsageError, match="no published layer named 'nope'"):
        run_command(DeployCommand, project, str(artifacts), str(target), "--layer", "nope")


def test_launch_modules_that_print_exit_or_read_input_at_import(
    deployed_template: Path, tmp_path: Path
) -> None:
    """What a script-style launch module does at import never crashes or hangs verify."""
    target = copy_deployment(deployed_template, tmp_path / "stack")
    init = target / APP / SITE / "demo_app/__init__.py"
    original = init.read_text()

    def app_problems(code: str) -> list[str]:
        init.write_text(original + code)
        return verify_deployment(target, timeout=10)[2].problems

    # Output without a final newline, or JSON of its own, is not taken for verify's report.
    assert app_problems('print(\'{"prefix": "/elsewhere"}\', end="")\n') == []
    # A module that runs the app when imported and exits 0 imported fine; other statuses did not.
    assert app_problems("import sys\nsys.exit(0)\n") == []
    assert app_problems("import sys\nsys.exit(3)\n") == [
        "launch module demo_app does not import: exit status 3"
    ]
    assert app_problems("import os\nos._exit(0)\n") == [
        "launch module demo_app ended the interpreter while it was imported: it cannot be checked"
    ]
    # Input it reads at import is empty: verify never waits on the terminal (here: an open pipe).
    read_end, write_end = os.pipe()
    saved_stdin = os.dup(0)
    try:
        os.dup2(read_end, 0)
        assert app_problems("import sys\nassert sys.stdin.read() == ''\n") == []
    finally:
        os.dup2(saved_stdin, 0)
        for fd in (saved_stdin, read_end, write_end):
            os.close(fd)


def test_a_damaged_deployment_record_fails_its_layer(deployed_template: Path, tmp_path: Path) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    (target / f"__venvstacks__/deployed/{APP}.json").write_text('{"format": 1, "layer": [')
    results = verify_deployment(target)
    assert [(r.install_target, r.ok) for r in results] == [(RUNTIME, True), (FRAMEWORK, True), (APP, False)]
    assert describe(results[2]) == [
        f"{APP}: FAILED (its deployment record __venvstacks__/deployed/{APP}.json is unreadable or damaged)"
    ]
