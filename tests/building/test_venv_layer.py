"""Framework and application layers built from real locks with real uv and real PyPI wheels.

One stack (runtime, framework ``numpy``, application ``stats`` on it) is locked and built once for
the module; each test inspects or runs the result. Layer interpreters are always run with ``-B``
so no test leaves byte code (which would hold build paths) in the layers.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pdm_stack.building.stack_build import build_layers
from pdm_stack.reporting import PlainReporter
from pdm_stack.stack import Stack, open_stack
from tests.building.layer_projects import (
    NUMPY,
    PATH_CODE,
    PY,
    SITE,
    SIX,
    as_locked,
    empty_lock,
    pdm_install_root,
    run,
    run_json,
    runtime_settings,
    uv_lock,
    write_project,
)
from tests.fixtures.runtimes import clean_env

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux"),
        reason="builds layers for linux_x86_64 from the running CPython",
    ),
    pytest.mark.network,  # installs numpy and six from PyPI
]


# ---- the module's stack ---------------------------------------------------------------------------

STATS_MAIN = """\
import json, sys
import numpy, six
import helpers
print(json.dumps({
    "numpy": numpy.__file__, "six": six.__file__, "helpers": helpers.__file__,
    "answer": helpers.ANSWER, "sum": int(numpy.arange(5).sum()), "prefix": sys.prefix,
    "base_prefix": sys.base_prefix,
}))
"""


@dataclass(frozen=True)
class Built:
    stack: Stack
    build: Path
    outcomes: dict[str, str]

    def layer(self, name: str) -> Path:
        return self.build / name


@pytest.fixture(scope="module")
def numpy_stack(tmp_path_factory: pytest.TempPathFactory, relocatable_runtime: Path) -> Built:
    root = tmp_path_factory.mktemp("numpy-stack")
    project = root / "project"
    stats = project / "stats"
    (stats / "__pycache__").mkdir(parents=True)
    (stats / "__init__.py").write_text("")
    (stats / "__main__.py").write_text(STATS_MAIN)
    (stats / "__pycache__" / "__main__.cpython-311.pyc").write_bytes(b"junk")
    (stats / "stale.pyc").write_bytes(b"junk")
    (stats / ".gitignore").write_text("secret.txt\n")
    (stats / "secret.txt").write_text("do not ship")
    (stats / "debug.log").write_text("do not ship")
    (stats / "data").mkdir()
    (stats / "data" / "table.csv").write_text("a,b\n")
    (project / ".gitignore").write_text("*.log\n")
    (project / "helpers.py").write_text("ANSWER = 42\n")
    spec = write_project(
        project,
        """
        [[tool.venvstacks.frameworks]]
        name = "numpy"
        runtime = "cpython-3.11"
        requirements = ["numpy"]

        [[tool.venvstacks.applications]]
        name = "stats"
        frameworks = ["numpy"]
        requirements = ["numpy", "six"]
        launch_module = "stats"
        support_modules = ["helpers.py"]
        """,
    )
    stack = open_stack(spec)
    requirements = root / "requirements"
    runtime = empty_lock("cpython-3.11")
    framework = uv_lock("framework-numpy", [NUMPY], requirements, [runtime])
    app = uv_lock("app-stats", [NUMPY, SIX], requirements, [framework, runtime])
    locks = {lock.env_name: as_locked(lock) for lock in (runtime, framework, app)}
    settings = runtime_settings(pdm_install_root(relocatable_runtime, root / "installs"))
    outcomes = build_layers(stack, list(stack.graph), settings, PlainReporter(), locks=locks)
    return Built(stack, stack.settings.build_dir, outcomes)


def test_all_layers_are_built(numpy_stack: Built) -> None:
    assert numpy_stack.outcomes == {
        "cpython-3.11": "built",
        "framework-numpy": "built",
        "app-stats": "built",
    }


def test_app_uses_numpy_from_the_framework_layer(numpy_stack: Built) -> None:
    app = numpy_stack.layer("app-stats")
    result = run(app / "bin" / "python", "-m", "stats")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert Path(facts["numpy"]).is_relative_to(numpy_stack.layer("framework-numpy") / SITE)
    assert Path(facts["six"]).is_relative_to(app / SITE)
    assert facts["sum"] == 10
    assert Path(facts["prefix"]) == app
    assert Path(facts["base_prefix"]) == numpy_stack.layer("cpython-3.11")
    site = app / SITE
    assert not (site / "numpy").exists()
    assert not list(site.glob("numpy-*.dist-info"))
    assert list(site.glob("six-1.17.0.dist-info"))


def test_app_modules_are_copied_without_ignored_files(numpy_stack: Built) -> None:
    site = numpy_stack.layer("app-stats") / SITE
    files = sorted(p.relative_to(site).as_posix() for p in (site / "stats").rglob("*"))
    shipped = [name for name in files if "__pycache__" not in name]
    assert shipped == ["stats/__init__.py", "stats/__main__.py", "stats/data", "stats/data/table.csv"]
    # The build compiled the copied modules (and only them: nothing for the data folder).
    tag = sys.implementation.cache_tag
    compiled = [f"stats/__pycache__/__init__.{tag}.pyc", f"stats/__pycache__/__main__.{tag}.pyc"]
    assert [name for name in files if name.endswith(".pyc")] == compiled
    assert (site / "helpers.py").read_text() == "ANSWER = 42\n"


def test_layer_config_and_pyvenv_cfg(numpy_stack: Built) -> None:
    app = numpy_stack.layer("app-stats")
    config = json.loads((app / "share/venv/metadata/venvstacks_layer.json").read_text())
    version = ".".join(map(str, sys.version_info[:3]))
    assert config == {
        "python": "bin/python",
        "py_version": version,
        "base_python": "../cpython-3.11/bin/python3",
        "site_dir": SITE,
        "pylib_dirs": [f"../framework-numpy/{SITE}", f"../cpython-3.11/{SITE}"],
        # numpy.libs holds the OpenBLAS the framework exports to the layers above it.
        "dynlib_dirs": [f"../framework-numpy/{SITE}/numpy.libs"],
        "launch_module": "stats",
    }
    framework = json.loads(
        (numpy_stack.layer("framework-numpy") / "share/venv/metadata/venvstacks_layer.json").read_text()
    )
    assert "launch_module" not in framework
    assert framework["pylib_dirs"] == [f"../cpython-3.11/{SITE}"]
    cfg = (app / "pyvenv.cfg").read_text().splitlines()
    assert cfg == ["include-system-site-packages = false", f"version = {version}"]
    assert (app / "bin" / "python").readlink() == Path("../../cpython-3.11/bin/python3")
    assert (app / "bin" / f"python{PY}").readlink() == Path("python")


def test_no_build_path_in_layers_and_bytecode_only_as_a_deployment_compiles_it(numpy_stack: Built) -> None:
    needle = str(numpy_stack.build.parent).encode()
    for name in ("framework-numpy", "app-stats"):
        layer = numpy_stack.layer(name)
        for path in layer.rglob("*"):
            if path.suffix == ".pyc":
                # checked-hash (PEP 552 flags 0b11) in __pycache__: what post-install writes.
                assert path.parent.name == "__pycache__" and path.read_bytes()[4:8] == b"\x03\0\0\0", path
            if path.is_symlink():
                assert not path.readlink().is_absolute(), path
            elif path.is_file():
                assert needle not in path.read_bytes(), path


def test_sitecustomize_is_small_and_relative(numpy_stack: Built) -> None:
    text = (numpy_stack.layer("app-stats") / SITE / "sitecustomize.py").read_text()
    assert f'"../../../../framework-numpy/{SITE}",' in text
    assert f'"../../../../cpython-3.11/{SITE}",' in text
    assert "import os\n    import site\n" in text
    assert len(text.splitlines()) < 25


def test_copied_stack_runs_from_its_new_place_with_its_scripts(numpy_stack: Built, tmp_path: Path) -> None:
    """Moving the whole build folder needs no rewrite: everything inside is relative."""
    moved = tmp_path / "deployed"
    shutil.copytree(numpy_stack.build, moved, symlinks=True, ignore=shutil.ignore_patterns(".pdm-stack"))
    result = run(moved / "app-stats" / "bin" / "python", "-m", "stats", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    for key in ("numpy", "six", "helpers", "prefix", "base_prefix"):
        assert Path(facts[key]).is_relative_to(moved), (key, facts[key])
    script = moved / "framework-numpy" / "bin" / "numpy-config"
    assert script.read_text().startswith("#!/bin/sh\n")
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == NUMPY.split("==")[1]
    paths = run_json(moved / "framework-numpy" / "bin" / "python", PATH_CODE)
    assert f"{moved}/framework-numpy/{SITE}" in paths
    assert all(not p.startswith(str(numpy_stack.build)) for p in paths)


def test_scripts_in_both_shebang_forms_are_rewritten_without_touching_hard_links(tmp_path: Path) -> None:
    from pdm_stack.building.scripts import make_scripts_relocatable

    bin_dir = tmp_path / ("x" * 130) / "bin"
    bin_dir.mkdir(parents=True)
    short = bin_dir / "short"
    short.write_text(f"#!{bin_dir}/python\nimport tool\n")
    long = bin_dir / "long"
    long.write_text(f"#!/bin/sh\n'''exec' '{bin_dir}/python' \"$0\" \"$@\"\n' '''\nimport tool\n")
    other = bin_dir / "other"
    other.write_text("#!/usr/bin/env python3\nimport tool\n")
    for script in (short, long, other):
        script.chmod(0o755)
    cached = tmp_path / "uv-cache-copy"
    os.link(long, cached)

    assert make_scripts_relocatable(bin_dir, [bin_dir]) == [long, short]
    expected = (
        "#!/bin/sh\n'''exec' \"$(dirname -- \"$(realpath -- \"$0\")\")\"/'python' \"$0\" \"$@\"\n' '''\n"
    )
    for script in (short, long):
        assert script.read_text() == expected + "import tool\n"
        assert script.stat().st_mode & 0o777 == 0o755
    assert other.read_text().startswith("#!/usr/bin/env python3\n")
    assert str(bin_dir) in cached.read_text()
