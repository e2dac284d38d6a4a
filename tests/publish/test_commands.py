"""``pdm stack publish`` / ``pdm stack export`` end to end: lock, build, publish, export, offline."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pdm_stack.deploy.registry_client import RegistryClient, parse_reference
from pdm_stack.publish.formats import DEFAULT_FORMAT
from pdm_stack.publish.oci_push import push_stack
from pdm_stack.reporting import PlainReporter
from tests.fixtures.json_documents import documented_fields, parse_document
from tests.fixtures.oci_registry import PASSWORD, USERNAME
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


@pytest.mark.slow
def test_publish_and_export_a_locked_built_stack(pdm: PDMCallable, project: Project, tmp_path: Path) -> None:
    spec = write_stack(tmp_path / "stack")
    args = ["--spec", str(spec)]
    out = tmp_path / "artifacts"
    # Hook scripts of the PDM project log when they run (tests/pdm_plugin/test_hooks.py has more).
    hooks = project.root / "hooks.log"
    names = [f"{when}_stack_{op}" for op in ("build", "publish", "export") for when in ("pre", "post")]
    project.pyproject.settings["scripts"] = {name: {"shell": f"echo {name} >> {hooks}"} for name in names}
    project.pyproject.write()

    not_built = pdm(["stack", "publish", *args, "-o", str(out)], obj=project)
    assert not_built.exit_code != 0
    assert "run 'pdm stack lock'" in not_built.stderr

    locked = pdm(["stack", "lock", *args, "--json"], obj=project, strict=True)
    [layer] = parse_document(locked.stdout, "lock")["layers"]
    assert (layer["env_name"], layer["status"], layer["lock_version"]) == (RUNTIME, "locked", 1)
    assert Path(layer["lock_file"]).is_file() and set(layer) == documented_fields("lock")
    not_built = pdm(["stack", "publish", *args, "-o", str(out)], obj=project)
    assert not_built.exit_code != 0 and "run 'pdm stack build'" in not_built.stderr, not_built.stderr
    assert "Traceback" not in not_built.stderr
    built = pdm(["stack", "build", *args, "--local-runtime", "prefer", "--json"], obj=project, strict=True)
    [layer] = parse_document(built.stdout, "build")["layers"]
    assert layer["status"] == "built" and (Path(layer["path"]) / "bin" / "python3").exists()
    assert set(layer) == documented_fields("build")

    dry = pdm(
        ["stack", "publish", *args, "-o", str(out), "--dry-run", "--tag-outputs"], obj=project, strict=True
    )
    assert f"would publish {RUNTIME}-linux_x86_64-1.{DEFAULT_FORMAT}" in dry.stdout
    assert not out.exists()
    assert hooks.read_text().split() == ["pre_stack_build", "post_stack_build"]  # a dry run has no hooks

    published = pdm(
        ["stack", "publish", *args, "-o", str(out), "--tag-outputs", "--json"], obj=project, strict=True
    )
    [layer] = parse_document(published.stdout, "publish")["layers"]
    assert set(layer) == documented_fields("publish") and layer["status"] == "published"
    data = json.loads((out / "__venvstacks__" / "runtimes" / f"{RUNTIME}.json").read_text())
    assert data["archive_name"] == layer["archive_name"] == f"{RUNTIME}-linux_x86_64-1.{DEFAULT_FORMAT}"
    assert data["python_implementation"] == "cpython@{}.{}.{}".format(*sys.version_info[:3])
    archive = out / data["archive_name"]
    assert archive.stat().st_size == data["archive_size"] == layer["archive_size"]
    assert layer["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    again = pdm(["stack", "publish", *args, "-o", str(out), "--tag-outputs"], obj=project, strict=True)
    assert "unchanged since the last publish, skipped" in again.stderr

    export = pdm(["stack", "export", *args, "--json"], obj=project, strict=True)
    [layer] = parse_document(export.stdout, "export")["layers"]
    exported = spec.parent / "_export" / RUNTIME
    assert Path(layer["path"]) == exported and set(layer) == documented_fields("export")
    assert hooks.read_text().split()[2:] == [
        "pre_stack_publish",
        "post_stack_publish",
        "pre_stack_publish",
        "post_stack_publish",
        "pre_stack_export",
        "post_stack_export",
    ]
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
        # The commands import the core as they run: publishing goes through its target, exporting
        # calls the core's export directly.
        where = "pdm_stack.publish.targets" if module == "publish" else "pdm_stack.publish.export"
        monkeypatch.setattr(f"{where}.{module}_layers", ctrl_c)
        result = pdm(["stack", module, "--spec", str(spec)], obj=project)
        assert result.exit_code == 130, result.stderr
        assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
        assert "Interrupted:" in result.stderr


@pytest.mark.slow
def test_publish_to_a_registry_and_deploy_from_it(
    pdm: PDMCallable, project: Project, tmp_path: Path, start_registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = start_registry("basic")
    spec = write_stack(tmp_path / "stack")
    args = ["--spec", str(spec)]
    pdm(["stack", "lock", *args], obj=project, strict=True)
    pdm(["stack", "build", *args, "--local-runtime", "prefer"], obj=project, strict=True)
    location = registry.location("commands/stack")
    out = tmp_path / "artifacts"

    monkeypatch.setenv("PDM_STACK_REGISTRY_USERNAME", USERNAME)
    monkeypatch.setenv("PDM_STACK_REGISTRY_PASSWORD", "wrong-" + PASSWORD)
    refused = pdm(["stack", "publish", *args, "-o", str(out), "--to", location], obj=project)
    assert refused.exit_code != 0 and "Traceback" not in refused.stderr
    assert f"the registry refused the credentials of user '{USERNAME}'" in refused.stderr
    assert PASSWORD not in refused.stderr + refused.stdout

    monkeypatch.setenv("PDM_STACK_REGISTRY_PASSWORD", PASSWORD)
    published = pdm(["stack", "publish", *args, "-o", str(out), "--to", location, "--json"], obj=project)
    assert published.exit_code == 0, published.stderr
    report = json.loads(published.stdout)
    assert report["registry"]["stack"] == f"{location}:0"  # the project's version is the default tag
    [pushed] = report["registry"]["layers"]
    assert pushed["install_target"] == RUNTIME and pushed["blob"] == "uploaded"
    assert pushed["tags"] == [f"{RUNTIME}-linux_x86_64", f"{RUNTIME}-linux_x86_64-1"]
    command = ["stack", "publish", *args, "-o", str(out), "--to", f"{location}:0", "--json"]
    again = json.loads(pdm(command, obj=project, strict=True).stdout)
    assert again["registry"]["layers"][0]["blob"] == "already present"

    # A fresh output folder (a CI runner without cache) continues the registry's build numbers:
    # make the registry's latest runtime say build 5, for the same archive bytes.
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(out, elsewhere)
    (elsewhere / "__venvstacks__/venvstacks.json").unlink()
    runtime_json = elsewhere / f"__venvstacks__/runtimes/{RUNTIME}.json"
    runtime_json.write_text(json.dumps(dict(json.loads(runtime_json.read_text()), archive_build=5)))
    client = RegistryClient(parse_reference(location))
    push_stack(client, elsewhere, "seed", PlainReporter())
    command = ["stack", "publish", *args, "-o", str(tmp_path / "fresh"), "--to", location, "--json"]
    fresh = json.loads(pdm(command, obj=project, strict=True).stdout)
    assert fresh["layers"][0]["archive_build"] == 5
    assert fresh["registry"]["layers"][0]["tags"][-1] == f"{RUNTIME}-linux_x86_64-5"

    target = tmp_path / "target"
    pdm(["stack", "deploy", f"{location}:0", str(target)], obj=project, strict=True)
    assert (target / RUNTIME / "bin/python3").is_file()
    redeploy = pdm(["stack", "deploy", f"{location}:0", str(target)], obj=project, strict=True)
    assert f"{RUNTIME}: up to date" in redeploy.stderr
    for folder in (target, out, spec.parent / "_build"):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert PASSWORD.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("command", ["publish", "export"])
def test_output_folder_option_must_not_overlap_the_other_folders(
    pdm: PDMCallable, project: Project, tmp_path: Path, command: str
) -> None:
    """``export -o requirements`` once replaced every lock folder by an exported layer."""
    spec = write_stack(tmp_path / "stack")
    lock = spec.parent / "requirements" / RUNTIME / f"pylock.{RUNTIME}.toml"
    lock.parent.mkdir(parents=True)
    lock.write_text("lock = 1\n")
    for folder, other in [("requirements", "requirements_dir"), ("_build/out", "build_dir")]:
        result = pdm(["stack", command, "--spec", str(spec), "-o", str(spec.parent / folder)], obj=project)
        assert result.exit_code == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert "--output-dir" in result.stderr and other in result.stderr, result.stderr
    assert lock.read_text() == "lock = 1\n"
    assert sorted(p.name for p in spec.parent.iterdir()) == ["pyproject.toml", "requirements"]
