"""``--json`` when a command fails: an error document on stdout, never a traceback to parse.

The documents of successful runs are checked where those commands are tested end to end
(tests/publish/test_commands.py, tests/deploy/test_verify.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.json_documents import run_json
from tests.publish.test_commands import write_stack

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable


#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network


def test_errors_are_json_documents_too(pdm: PDMCallable, project: Project, tmp_path: Path) -> None:
    spec = write_stack(tmp_path / "stack")
    spec.write_text(spec.read_text().replace('platforms = ["linux_x86_64"]', "platforms = 3"))
    for command in ("show", "lock", "build", "publish", "export"):
        data = run_json(pdm, project, [command, "--spec", str(spec)], exit_code=1)
        assert data["ok"] is False and data["exit_code"] == 1 and data["layers"] == []
        [error] = data["error"]["errors"]
        assert error["field"] == "platforms" and error["file"] and error["layer"]
        assert error["message"] in data["error"]["message"]


def test_a_stale_lock_check_lists_the_stale_layers(
    pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    args = ["--spec", str(write_stack(tmp_path / "stack"))]
    not_locked = run_json(pdm, project, ["lock", "--check", *args], exit_code=1)
    [layer] = not_locked["layers"]
    assert layer["status"] == "stale" and layer["lock_problems"]
    assert "stale locks" in not_locked["error"]["message"]
    run_json(pdm, project, ["lock", *args])
    assert run_json(pdm, project, ["lock", "--check", *args])["layers"][0]["status"] == "up to date"


def test_nothing_but_the_document_reaches_stdout(pdm: PDMCallable, project: Project, tmp_path: Path) -> None:
    args = ["stack", "lock", "--spec", str(write_stack(tmp_path / "stack"))]
    human = pdm(args, obj=project, strict=True)
    assert "Locked 1 layer(s)" in human.stderr
    machine = pdm([*args, "--json"], obj=project, strict=True)
    assert machine.stdout.lstrip().startswith("{") and machine.stdout.rstrip().endswith("}")
    assert "Locked 1 layer(s)" in machine.stderr
