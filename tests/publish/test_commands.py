"""``pdm stack publish`` / ``pdm stack export`` end to end: lock, build, publish, export, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.runtimes import clean_env

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

RUNTIME = "cpython-3.11"


def write_stack(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "pyproject.toml"
    spec.write_text(
        f"""
[project]
name = "demo"
version = "0"

[[tool.venvstacks.runtimes]]
name = "{RUNTIME}"
python_implementation = "cpython@{sys.version_info[0]}.{sys.version_info[1]}"
requirements = []
platforms = ["linux_x86_64"]
"""
    )
    return spec


def test_publish_and_export_a_locked_built_stack(pdm: PDMCallable, project: Project, tmp_path: Path) -> None:
    spec = write_stack(tmp_path / "stack")
    args = ["--spec", str(spec)]
    out = tmp_path / "artifacts"

    not_built = pdm(["stack", "publish", *args, "-o", str(out)], obj=project)
    assert not_built.exit_code != 0
    assert "run 'pdm stack lock'" in not_built.stderr

    pdm(["stack", "lock", *args], obj=project, strict=True)
    not_built = pdm(["stack", "publish", *args, "-o", str(out)], obj=project)
    assert not_built.exit_code != 0 and "run 'pdm stack build'" in not_built.stderr, not_built.stderr
    assert "Traceback" not in not_built.stderr
    pdm(["stack", "build", *args, "--local-runtime", "prefer"], obj=project, strict=True)

    dry = pdm(
        ["stack", "publish", *args, "-o", str(out), "--dry-run", "--tag-outputs"], obj=project, strict=True
    )
    assert f"would publish {RUNTIME}-linux_x86_64-1.tar.gz" in dry.stderr
    assert not out.exists()

    pdm(["stack", "publish", *args, "-o", str(out), "--tag-outputs"], obj=project, strict=True)
    data = json.loads((out / "__venvstacks__" / "runtimes" / f"{RUNTIME}.json").read_text())
    assert data["archive_name"] == f"{RUNTIME}-linux_x86_64-1.tar.gz"
    assert data["python_implementation"] == "cpython@{}.{}.{}".format(*sys.version_info[:3])
    assert (out / data["archive_name"]).stat().st_size == data["archive_size"]
    again = pdm(["stack", "publish", *args, "-o", str(out), "--tag-outputs"], obj=project, strict=True)
    assert "unchanged since the last publish, skipped" in again.stderr

    pdm(["stack", "export", *args], obj=project, strict=True)
    exported = spec.parent / "_export" / RUNTIME
    assert (exported / "postinstall.py").is_file()
    probe = subprocess.run(
        [exported / "bin" / "python3", "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=True,
    )
    assert Path(probe.stdout.strip()) == exported


def test_ctrl_c_during_publish_or_export_is_a_message_and_status_130(
    pdm: PDMCallable, project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_stack(tmp_path / "stack")

    def ctrl_c(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    for module in ("publish", "export"):
        monkeypatch.setattr(f"pdm_stack.pdm_plugin.{module}.built_layers", lambda *args: [])
        monkeypatch.setattr(f"pdm_stack.pdm_plugin.{module}.{module}_layers", ctrl_c)
        result = pdm(["stack", module, "--spec", str(spec)], obj=project)
        assert result.exit_code == 130, result.stderr
        assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
        assert "Interrupted:" in result.stderr
