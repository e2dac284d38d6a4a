"""Building runtime layers through the real ``pdm stack build``, offline.

Runtimes come from the session's relocatable copy of the running interpreter, fed through the
same paths users take: PDM's install root, a local CPython, a custom archive over HTTP, and a
"download" served by a local HTTP server or mirror folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pdm_stack.runtimes.relocate import runtime_content_hash
from tests.fixtures.pure_wheels import make_pure_wheel
from tests.fixtures.runtimes import runtime_facts

if TYPE_CHECKING:
    from pdm.project import Project
    from pdm.pytest import PDMCallable

    from tests.fixtures.http_server import LocalHTTPServer

VERSION = ".".join(str(part) for part in sys.version_info[:3])
PBS_NAME = f"cpython-{VERSION}+20240107-x86_64-unknown-linux-gnu-install_only.tar.gz"


def write_stack(root: Path, runtime_extra: str = "", requirements: str = "[]") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "pyproject.toml"
    spec.write_text(
        f"""
[project]
name = "demo"
version = "0"

[[tool.venvstacks.runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@{sys.version_info[0]}.{sys.version_info[1]}"
requirements = {requirements}
platforms = ["linux_x86_64"]
{runtime_extra}
"""
    )
    return spec


def record(spec: Path) -> dict[str, Any]:
    path = spec.parent / "_build" / ".pdm-stack" / "layers" / "cpython-3.11.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def install_root(project: Project) -> Path:
    return Path(project.config["python.install_root"])


def build(pdm: PDMCallable, project: Project, spec: Path, *args: str) -> Any:
    return pdm(["stack", "build", "-v", "--lock", "--spec", str(spec), *args], obj=project)


def assert_no_foreign_paths(tree: Path, *paths: Path | str) -> None:
    needles = [str(p).encode() for p in paths]
    for file in tree.rglob("*"):
        if file.is_file() and not file.is_symlink():
            data = file.read_bytes()
            for needle in needles:
                assert needle not in data, f"{file} contains {needle.decode()}"


def pbs_archive(runtime: Path, folder: Path, name: str = PBS_NAME) -> tuple[Path, str]:
    """A python-build-standalone style archive (top folder ``python/``) of ``runtime``."""
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / name
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(runtime, arcname="python")
    return archive, hashlib.sha256(archive.read_bytes()).hexdigest()


def test_reuses_pdm_install_without_touching_it(
    pdm_install: Path, pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    before = runtime_content_hash(pdm_install)
    spec = write_stack(tmp_path / "stack")

    result = build(pdm, project, spec, "--local-runtime", "never")

    assert result.exit_code == 0, result.stderr
    assert "using PDM's install of CPython" in result.stderr
    layer = spec.parent / "_build" / "cpython-3.11"
    facts = runtime_facts(layer)
    assert Path(facts["prefix"]) == layer
    assert record(spec)["runtime_source"]["kind"] == "pdm-install"
    assert runtime_content_hash(pdm_install) == before
    config = json.loads((layer / "share/venv/metadata/venvstacks_layer.json").read_text())
    assert config["python"] == "bin/python3"
    assert config["py_version"] == VERSION
    assert config["site_dir"] == f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    shown = json.loads(pdm(["stack", "show", "--json", "--spec", str(spec)], obj=project, strict=True).stdout)
    assert shown["layers"][0]["built"] is True
    assert shown["layers"][0]["build_dir"] == str(layer)


@pytest.mark.slow
def test_local_cpython_runtime_runs_after_two_moves(
    pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    spec = write_stack(tmp_path / "stack")
    result = build(pdm, project, spec, "--local-runtime", "prefer")
    assert result.exit_code == 0, result.stderr
    source = record(spec)["runtime_source"]
    assert source["kind"] == "local"
    assert source["content_hash"].startswith("sha256:")
    built = spec.parent / "_build" / "cpython-3.11"
    # No path of the build machine: neither the build folder nor the interpreter it came from.
    assert_no_foreign_paths(built, spec.parent, sys.base_prefix)

    here = built
    for move in ("first", "second"):
        target = tmp_path / move / "runtime"
        target.parent.mkdir()
        here.rename(target)
        here = target
        facts = runtime_facts(here, cwd=tmp_path)
        for key in ("prefix", "base_prefix", "executable"):
            assert Path(facts[key]).is_relative_to(here), (key, facts[key])
        for name in ("prefix", "LIBDIR", "INCLUDEPY"):
            assert Path(facts["config_vars"][name]).is_relative_to(here), (name, facts["config_vars"][name])
        assert all(Path(module).is_relative_to(here) for module in facts["modules"])
        assert all(Path(lib).is_relative_to(here) for lib in facts["libpython"])


def test_declared_requirements_are_installed_unlocked(
    pdm_install: Path, pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    spec = write_stack(tmp_path / "stack", requirements='["six==1.16.0"]')
    result = build(pdm, project, spec)
    assert result.exit_code == 0, result.stderr
    assert "not locked yet" in result.stderr
    layer = spec.parent / "_build" / "cpython-3.11"
    site = layer / f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    assert (site / "six.py").is_file()
    assert_no_foreign_paths(layer, spec.parent / "_build" / ".pdm-stack")


def test_second_build_is_a_no_op_and_clean_rebuilds(
    pdm_install: Path, pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    spec = write_stack(tmp_path / "stack")
    assert build(pdm, project, spec).exit_code == 0
    marker = spec.parent / "_build" / "cpython-3.11" / "marker"
    marker.write_text("kept")
    again = build(pdm, project, spec)
    assert "cpython-3.11: up to date" in again.stderr
    assert marker.exists()
    clean = build(pdm, project, spec, "--clean")
    assert clean.exit_code == 0, clean.stderr
    assert not marker.exists()


def test_failed_build_keeps_the_previous_one(
    pdm_install: Path, pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    wheels = tmp_path / "stack" / "wheels"
    make_pure_wheel(wheels, "pdmstack-demo", "1.0")
    settings = '[tool.pdm-stack]\nfind_links = ["wheels"]\n'
    spec = write_stack(tmp_path / "stack", requirements='["pdmstack-demo"]')
    spec.write_text(spec.read_text() + settings)
    assert build(pdm, project, spec).exit_code == 0
    before = record(spec)
    # Lock a newer release, then lose its wheel: the build fails while installing it.
    make_pure_wheel(wheels, "pdmstack-demo", "2.0")
    spec.write_text(spec.read_text().replace('"pdmstack-demo"', '"pdmstack-demo>=2"'))
    pdm(["stack", "lock", "--spec", str(spec)], obj=project, strict=True)
    (wheels / "pdmstack_demo-2.0-py3-none-any.whl").unlink()

    # A cold uv cache: the lost wheel cannot come from the copy uv kept while locking.
    cold = {"UV_CACHE_DIR": str(tmp_path / "cold-cache")}
    result = pdm(["stack", "build", "--spec", str(spec)], obj=project, env=cold)

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "runtime 'cpython-3.11'" in result.stderr and "pdmstack" in result.stderr
    assert record(spec) == before
    facts = runtime_facts(spec.parent / "_build" / "cpython-3.11")
    assert facts["version"].startswith(VERSION)
    assert not list((spec.parent / "_build").glob(".*.staging-*"))


def test_custom_runtime_archive_over_http(
    relocatable_runtime: Path,
    pdm: PDMCallable,
    project: Project,
    tmp_path: Path,
    http_server: LocalHTTPServer,
) -> None:
    _, sha256 = pbs_archive(relocatable_runtime, http_server.root, "my-python.tar.gz")
    url = http_server.url_for("my-python.tar.gz")
    spec = write_stack(tmp_path / "stack", f'runtime_archive = {{ url = "{url}", sha256 = "{sha256}" }}')

    result = build(pdm, project, spec, "--local-runtime", "never")

    assert result.exit_code == 0, result.stderr
    assert record(spec)["runtime_source"] == {
        "kind": "archive",
        "version": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "location": url,
        "sha256": sha256,
        "content_hash": None,
    }
    runtime_facts(spec.parent / "_build" / "cpython-3.11")


def test_custom_archive_with_wrong_checksum_is_refused(
    relocatable_runtime: Path,
    pdm: PDMCallable,
    project: Project,
    tmp_path: Path,
    http_server: LocalHTTPServer,
) -> None:
    pbs_archive(relocatable_runtime, http_server.root, "my-python.tar.gz")
    url = http_server.url_for("my-python.tar.gz")
    spec = write_stack(tmp_path / "stack", f'runtime_archive = {{ url = "{url}", sha256 = "{"0" * 64}" }}')

    result = build(pdm, project, spec)

    assert result.exit_code == 1
    assert "Traceback" not in result.stderr.split("[PdmUsageError]")[-1]
    assert "sha256" in result.stderr
    assert not (spec.parent / "_build" / "cpython-3.11").exists()
    cache = Path(project.cache("stack")) / "archives"
    assert not cache.exists() or not list(cache.iterdir())


@pytest.fixture
def fake_pbs_table(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Make pbs-installer's table name our archive (its sha256 filled in by the test)."""
    entry: dict[str, str] = {}

    def get_download_link(request: str, **kwargs: Any) -> Any:
        from pbs_installer import PythonVersion

        major, minor, micro = (int(x) for x in VERSION.split("."))
        url = f"https://github.invalid/releases/download/20240107/{PBS_NAME.replace('+', '%2B')}"
        return PythonVersion("cpython", major, minor, micro), (url, entry["sha256"])

    monkeypatch.setattr("pbs_installer.get_download_link", get_download_link)
    return entry


def test_download_from_mirror_folder_is_registered_with_pdm(
    relocatable_runtime: Path,
    pdm: PDMCallable,
    project: Project,
    tmp_path: Path,
    fake_pbs_table: dict[str, str],
) -> None:
    _, fake_pbs_table["sha256"] = pbs_archive(relocatable_runtime, tmp_path / "mirror")
    spec = write_stack(tmp_path / "stack")

    result = pdm(
        ["stack", "build", "-v", "--lock", "--spec", str(spec), "--local-runtime", "never"],
        obj=project,
        env={"PDM_STACK_RUNTIME_MIRROR": str(tmp_path / "mirror")},
    )

    assert result.exit_code == 0, result.stderr
    source = record(spec)["runtime_source"]
    assert source["kind"] == "mirror"
    assert source["sha256"] == fake_pbs_table["sha256"]
    registered = install_root(project) / f"cpython@{VERSION}"
    assert (registered / "bin" / "python3").exists()
    listed = pdm(["python", "list"], obj=project, strict=True)
    assert str(registered) in listed.stdout
    # The next build reuses PDM's install: no download, even with the mirror gone.
    shutil.rmtree(tmp_path / "mirror")
    again = build(pdm, project, spec, "--clean", "--local-runtime", "never")
    assert again.exit_code == 0, again.stderr
    assert record(spec)["runtime_source"]["kind"] == "pdm-install"


def test_mirror_serving_other_bytes_is_refused(
    relocatable_runtime: Path,
    pdm: PDMCallable,
    project: Project,
    tmp_path: Path,
    fake_pbs_table: dict[str, str],
) -> None:
    fake_pbs_table["sha256"] = "1" * 64
    pbs_archive(relocatable_runtime, tmp_path / "mirror")
    spec = write_stack(tmp_path / "stack")
    result = pdm(
        [
            "stack",
            "build",
            "--lock",
            "--spec",
            str(spec),
            "--local-runtime",
            "never",
            "--runtime-mirror",
            str(tmp_path / "mirror"),
        ],
        obj=project,
    )
    assert result.exit_code == 1
    assert "sha256" in result.stderr
    assert not (install_root(project) / f"cpython@{VERSION}").exists()
    assert not (spec.parent / "_build" / "cpython-3.11").exists()


@pytest.mark.slow
def test_unreachable_download_falls_back_to_local_with_warning(
    pdm: PDMCallable, project: Project, tmp_path: Path, unreachable_url: str, fake_pbs_table: dict[str, str]
) -> None:
    fake_pbs_table["sha256"] = "2" * 64
    spec = write_stack(tmp_path / "stack")
    result = pdm(
        ["stack", "build", "--lock", "--spec", str(spec), "--runtime-mirror", unreachable_url], obj=project
    )
    assert result.exit_code == 0, result.stderr
    assert "Falling back to a relocatable copy of the local CPython" in result.stderr
    assert record(spec)["runtime_source"]["kind"] == "local"


EXTENSION_SOURCE = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *args) { return PyLong_FromLong(42); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tiny", NULL, -1, methods};
PyMODINIT_FUNC PyInit_tiny(void) { return PyModule_Create(&module); }
"""

COMPILE_SCRIPT = r"""
import subprocess, sys, sysconfig
cc = sysconfig.get_config_var("CC").split()[0]
include = sysconfig.get_config_var("INCLUDEPY")
suffix = sysconfig.get_config_var("EXT_SUFFIX")
subprocess.run([cc, "-shared", "-fPIC", "-I", include, "tiny.c", "-o", "tiny" + suffix], check=True)
sys.path.insert(0, ".")
import tiny
print(include, tiny.answer())
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_c_extension_builds_against_a_moved_runtime(
    pdm: PDMCallable, project: Project, tmp_path: Path
) -> None:
    spec = write_stack(tmp_path / "stack")
    assert build(pdm, project, spec, "--local-runtime", "prefer").exit_code == 0
    moved = tmp_path / "deployed" / "runtime"
    moved.parent.mkdir()
    (spec.parent / "_build" / "cpython-3.11").rename(moved)
    work = tmp_path / "ext"
    work.mkdir()
    (work / "tiny.c").write_text(EXTENSION_SOURCE)
    result = subprocess.run(
        [str(moved / "bin" / "python3"), "-c", COMPILE_SCRIPT],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    include, answer = result.stdout.split()
    assert Path(include).is_relative_to(moved)
    assert answer == "42"
