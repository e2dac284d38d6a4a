"""``pdm stack use``: a built app layer as the project interpreter, for editors and ``pdm run``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.pdm_plugin.test_build_and_run import ECHO, PYTHON, STACK

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable


@pytest.mark.skipif(sys.platform == "win32", reason="the layer's interpreter path is POSIX here")
def test_use_selects_a_built_layer_for_pdm_run_and_guards_it(
    pdm: PDMCallable, project: Project, pdm_install: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    root = project.root
    (root / "echo.py").write_text(ECHO)
    (root / "pyproject.toml").write_text(
        STACK.replace('version = "0"', f'version = "0"\nrequires-python = ">={PYTHON}"')
    )
    project.pyproject.reload()
    # PDM's default, which the test fixture turns off: without care, PDM would create .venv here.
    project.project_config["python.use_venv"] = True

    unbuilt = pdm(["stack", "use", "echo"], obj=project)
    assert unbuilt.exit_code == 1 and "app-echo is not built" in unbuilt.stderr
    pdm(["stack", "build", "--lock"], obj=project, strict=True)

    pdm(["stack", "use", "echo"], obj=project, strict=True)
    app = root / "_build" / "app-echo"
    assert Path((root / ".pdm-python").read_text().strip()) == app / "bin" / "python"
    shown = pdm(["stack", "use"], obj=project, strict=True)
    assert str(app) in shown.stdout

    probe = "import six, sys; print('prefix', sys.prefix); print('six', six.__file__)"
    capfd.readouterr()
    pdm(["run", "python", "-c", probe], obj=project, strict=True)
    out = capfd.readouterr().out
    assert f"prefix {app}" in out
    assert f"six {root / '_build' / 'framework-text'}" in out
    assert not (root / ".venv").exists()

    before = (root / "pyproject.toml").read_text()
    for command in (["install"], ["add", "idna"], ["sync"]):
        refused = pdm(command, obj=project)
        assert refused.exit_code == 1, refused.stderr
        assert "pdm stack use --reset" in refused.stderr and "app-echo" in refused.stderr
    assert (root / "pyproject.toml").read_text() == before
    assert not list(app.rglob("idna"))

    # A rebuild swaps the folder in place: the selection keeps working.
    pdm(["stack", "build", "--clean", "--include", "echo"], obj=project, strict=True)
    capfd.readouterr()
    pdm(["run", "python", "-c", probe], obj=project, strict=True)
    assert f"prefix {app}" in capfd.readouterr().out

    # A versioned layer moves to a new folder with each lock version: the selection follows it.
    spec = root / "pyproject.toml"
    spec.write_text(spec.read_text().replace('name = "echo"\n', 'name = "echo"\nversioned = true\n'))
    pdm(["stack", "build", "--lock"], obj=project, strict=True)
    pdm(["stack", "use", "echo"], obj=project, strict=True)
    selected = Path((root / ".pdm-python").read_text().strip()).parent.parent
    name, _, version = selected.name.partition("@")
    assert (selected.parent, name) == (root / "_build", "app-echo") and version.isdigit()
    spec.write_text(
        spec.read_text().replace(
            'launch_module = "echo.py"\nrequirements = []',
            'launch_module = "echo.py"\nrequirements = ["idna"]',
        )
    )
    pdm(["stack", "build", "--lock", "--skip", ":all"], obj=project, strict=True)
    app = root / "_build" / f"app-echo@{int(version) + 1}"
    assert Path((root / ".pdm-python").read_text().strip()) == app / "bin" / "python"
    capfd.readouterr()
    pdm(["run", "python", "-c", probe + "; import idna"], obj=project, strict=True)
    assert f"prefix {app}" in capfd.readouterr().out

    pdm(["stack", "use", "--reset"], obj=project, strict=True)
    assert not (root / ".pdm-python").exists()
    assert "No stack layer is selected" in pdm(["stack", "use"], obj=project, strict=True).stdout
