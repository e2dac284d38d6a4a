"""What every ``pdm stack`` command shares: how interruptions and errors reach the user."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

    from tests.fixtures.specs import SpecWriter


#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network


def test_ctrl_c_is_one_line_and_exit_status_130(
    write_spec: SpecWriter, pdm: PDMCallable, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    # The command imports the core when it runs, so the core's own function is replaced.
    monkeypatch.setattr("pdm_stack.lock.stack_lock.lock_stack", interrupted)
    result = pdm(["stack", "lock", "--spec", str(write_spec())], obj=project)
    assert result.exit_code == 130
    assert "Interrupted: finished layers are kept" in result.stderr
    assert "Traceback" not in result.stderr


def test_quiet_hides_progress_but_not_errors(
    write_spec: SpecWriter, pdm: PDMCallable, project: Project
) -> None:
    spec = write_spec()
    loud = pdm(["stack", "lock", "--spec", str(spec)], obj=project, strict=True)
    assert "cpython-3.11: locked" in loud.stderr
    quiet = pdm(["stack", "lock", "-q", "--spec", str(spec)], obj=project, strict=True)
    assert quiet.stderr == ""
    spec.write_text(spec.read_text() + "\n[tool.pdm-stack]\nexclude_newer = 'soon'\n")
    failed = pdm(["stack", "lock", "-q", "--spec", str(spec)], obj=project)
    assert failed.exit_code == 1 and "exclude_newer" in failed.stderr
