"""Console scripts in a project whose path holds every character a user may have in one.

Installers quote such a path in the ``/bin/sh`` trampoline they write; the rewrite to a
relocatable script must understand that quoting, or the script keeps pointing at the staging
folder (it fails once the layer is in place) and its RECORD hash carries the project path into
the published archive.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from pdm_stack.building.scripts import make_scripts_relocatable
from pdm_stack.indexes import PackageIndex
from pdm_stack.lock import LockInputs, lock_layer
from pdm_stack.publish.publish import PublishOptions, publish_layers
from pdm_stack.publish.publish_inputs import plan_layers
from pdm_stack.reporting import NullReporter
from pdm_stack.stack import open_stack
from tests.building.layer_projects import (
    PLATFORM,
    PY,
    Project,
    as_locked,
    build,
    empty_lock,
    write_project,
)
from tests.fixtures.pure_wheels import make_pure_wheel
from tests.fixtures.runtimes import clean_env

if TYPE_CHECKING:
    from pathlib import Path

    from pdm_stack.runtimes.provider import RuntimeSettings

NASTY = 'it\'s a "ü" $dir & `x`'
APP = """
[[tool.venvstacks.applications]]
name = "greet"
runtime = "cpython-3.11"
requirements = ["pdmstack-greet==1.0"]
launch_module = "greet_main.py"
"""


def test_a_quoted_interpreter_path_in_the_trampoline_is_understood(tmp_path: Path) -> None:
    bin_dir = tmp_path / NASTY / "bin"
    bin_dir.mkdir(parents=True)
    quoted = "'" + str(bin_dir / "python").replace("'", "'\"'\"'") + "'"
    script = bin_dir / "tool"
    script.write_text(f"#!/bin/sh\n'''exec' {quoted} \"$0\" \"$@\"\n' '''\nimport tool\n")
    assert make_scripts_relocatable(bin_dir, [bin_dir]) == [script]
    assert str(tmp_path) not in script.read_text()
    assert script.read_text().endswith("' '''\nimport tool\n")


def build_and_publish(root: Path, settings: RuntimeSettings, wheels: Path) -> tuple[Project, bytes]:
    spec = write_project(root, APP)
    (root / "greet_main.py").write_text("from pdmstack_greet import main\nmain()\n")
    project = Project(open_stack(spec), root, settings)
    index = PackageIndex("wheels", wheels.as_uri(), "find_links")
    inputs = LockInputs(
        "app-greet",
        ("pdmstack-greet==1.0",),
        PY,
        (PLATFORM,),
        lower=(empty_lock("cpython-3.11"),),
        indexes=(index,),
    )
    lock = lock_layer(inputs, root / "requirements").lock
    locks = {"cpython-3.11": as_locked(empty_lock("cpython-3.11")), "app-greet": as_locked(lock)}
    assert build(project, locks) == {"cpython-3.11": "built", "app-greet": "built"}
    layers = plan_layers(
        project.stack.graph,
        project.layers("app-greet"),
        locks,
        project.build,
        keep_console_scripts=lambda layer: True,
        spec_root=root,
        platform=PLATFORM,
    )
    [result] = publish_layers(layers, PublishOptions(root / "_artifacts"), NullReporter())
    assert result.archive is not None
    return project, result.archive.read_bytes()


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or sys.version_info[:2] != (3, 11),
    reason="builds layers for linux_x86_64 from the running CPython 3.11",
)
def test_a_project_path_with_quotes_spaces_and_non_ascii_builds_runs_and_publishes_the_same_bytes(
    tmp_path: Path, settings: RuntimeSettings
) -> None:
    wheels = tmp_path / "wheels"
    module = "def main():\n    print('hello from greet')\n"
    make_pure_wheel(
        wheels,
        "pdmstack-greet",
        "1.0",
        module,
        entry_points="[console_scripts]\ngreet = pdmstack_greet:main\n",
    )
    nasty, nasty_archive = build_and_publish(tmp_path / NASTY / "project", settings, wheels)
    script = nasty.build / "app-greet" / "bin" / "greet"
    ran = subprocess.run([str(script)], capture_output=True, text=True, env=clean_env(), check=False)
    assert (ran.returncode, ran.stdout) == (0, "hello from greet\n"), ran.stderr
    _, plain_archive = build_and_publish(tmp_path / "plain" / "project", settings, wheels)
    assert nasty_archive == plain_archive
