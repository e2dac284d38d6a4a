"""postinstall.py on real deployed layers: repairs what archives may lack, fails loudly otherwise."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pdm_stack.deploy.standalone import DeployError, run_postinstall
from tests.deploy.stack_factory import APP, FRAMEWORK, PY, RUNTIME, copy_deployment, run_app
from tests.fixtures.runtimes import clean_env

CONFIG = "share/venv/metadata/venvstacks_layer.json"


def postinstall(layer: Path, python: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-I", "-B", str(layer / "postinstall.py")],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )


def pyc_digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.pyc"))
    }


def assert_one_line_error(result: subprocess.CompletedProcess[str], layer: str, text: str) -> None:
    assert result.returncode == 1
    assert result.stderr.startswith(f"postinstall: {layer}: ")
    assert text in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_postinstall_recreates_links_and_drops_a_stale_home(deployed_template: Path, tmp_path: Path) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    app = target / APP
    for name in ("python", "python3", f"python{PY}"):
        (app / "bin" / name).unlink()
    cfg = app / "pyvenv.cfg"
    cfg.write_text("home = /build/machine/_build/cpython/bin\n" + cfg.read_text())

    result = postinstall(app, target / RUNTIME / "bin/python3")
    assert result.returncode == 0, result.stderr
    assert f"{APP}: linked bin/python" in result.stdout
    assert "rewrote pyvenv.cfg" in result.stdout
    assert (app / "bin/python").readlink() == Path(f"../../{RUNTIME}/bin/python3")
    assert (app / "bin/python3").readlink() == Path("python")
    assert "home" not in cfg.read_text()
    assert "include-system-site-packages = false" in cfg.read_text()
    run_app(target)


def test_rerunning_postinstall_changes_nothing_and_bytecode_is_location_independent(
    deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "elsewhere" / "stack")
    before = pyc_digests(target / FRAMEWORK)
    assert before  # postinstall compiled the layer when it was deployed

    result = postinstall(target / FRAMEWORK, target / RUNTIME / "bin/python3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{FRAMEWORK}: compiled bytecode"
    # Recompiled at another path, the bytecode is byte-for-byte what the template had.
    assert pyc_digests(target / FRAMEWORK) == before == pyc_digests(deployed_template / FRAMEWORK)


def test_a_layer_without_its_runtime_fails_loudly(deployed_template: Path, tmp_path: Path) -> None:
    lonely = tmp_path / "lonely" / FRAMEWORK
    shutil.copytree(deployed_template / FRAMEWORK, lonely, symlinks=True)
    result = postinstall(lonely, sys.executable)
    assert_one_line_error(result, FRAMEWORK, f"the runtime interpreter ../{RUNTIME}/bin/python3 is missing")
    # Moved away from its runtime, the layer cannot start at all (never on some other Python).
    with pytest.raises(FileNotFoundError):
        subprocess.run([str(lonely / "bin/python"), "-c", "pass"], check=False)


def test_a_missing_lower_layer_fails_loudly(deployed_template: Path, tmp_path: Path) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    shutil.rmtree(target / FRAMEWORK)
    result = postinstall(target / APP, target / RUNTIME / "bin/python3")
    assert_one_line_error(
        result, APP, f"lower layer site-packages ../{FRAMEWORK}/lib/python{PY}/site-packages"
    )


def test_an_absolute_path_in_the_layer_config_is_refused(deployed_template: Path, tmp_path: Path) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    config_path = target / APP / CONFIG
    config = json.loads(config_path.read_text())
    config["pylib_dirs"] = ["/build/machine/_build/framework-fw/lib/site-packages"]
    config_path.write_text(json.dumps(config))
    result = postinstall(target / APP, target / RUNTIME / "bin/python3")
    assert_one_line_error(result, APP, "is not a relative path (stale build path?)")


def test_runtime_postinstall_restores_its_interpreter_aliases(
    deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    (target / RUNTIME / "bin/python3").unlink()
    result = postinstall(target / RUNTIME, target / RUNTIME / f"bin/python{PY}")
    assert result.returncode == 0, result.stderr
    assert (target / RUNTIME / "bin/python3").readlink() == Path(f"python{PY}")
    run_app(target)


def test_run_postinstall_handles_already_unpacked_layers_runtime_first(
    deployed_template: Path, tmp_path: Path
) -> None:
    """What ``pdm stack export`` uses: post-install by install target, no metadata needed."""
    target = copy_deployment(deployed_template, tmp_path / "export")
    (target / RUNTIME / "bin/python3").unlink()  # the app's post-install needs it restored first
    (target / APP / "bin/python").unlink()
    run_postinstall(target, [APP, FRAMEWORK, RUNTIME])
    assert (target / APP / "bin/python").readlink() == Path(f"../../{RUNTIME}/bin/python3")
    run_app(target)
    shutil.rmtree(target / RUNTIME)
    with pytest.raises(DeployError, match=f"{FRAMEWORK}: runtime interpreter .* is missing"):
        run_postinstall(target, [FRAMEWORK])


def test_output_at_interpreter_startup_does_not_break_the_self_check(
    deployed_template: Path, tmp_path: Path
) -> None:
    target = copy_deployment(deployed_template, tmp_path / "stack")
    site = target / FRAMEWORK / f"lib/python{PY}/site-packages"
    chatty = 'import sys; sys.stdout.write(\'{"prefix": "/elsewhere"} no newline\')\n'
    (site / "chatty.pth").write_text(chatty)
    result = postinstall(target / FRAMEWORK, target / RUNTIME / "bin/python3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{FRAMEWORK}: compiled bytecode"
