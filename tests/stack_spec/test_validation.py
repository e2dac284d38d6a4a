"""Every invalid stack is reported as one line naming file, layer and field; all at once.

Each case runs through the core (``open_stack``) and through the real ``pdm stack show`` command,
which must exit non-zero with the same line and no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pdm.project import Project

if TYPE_CHECKING:
    from pdm.pytest import PDMCallable

from pdm_stack.errors import StackError, StackErrors
from pdm_stack.stack import open_stack
from tests.fixtures.specs import SpecWriter


@dataclass(frozen=True)
class Case:
    id: str
    toml: str
    layer: str | None
    field: str | None
    fragment: str


FRAMEWORK_A = """
[[tool.venvstacks.frameworks]]
name = "a"
runtime = "cpython-3.11"
requirements = []
"""

LONG_NAME = "n" * 300

CASES = [
    Case(
        "unknown-runtime",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.12"
        requirements = []
        """,
        "framework 'f'",
        "runtime",
        "unknown runtime 'cpython-3.12' (did you mean 'cpython-3.11'?)",
    ),
    Case(
        "unknown-framework",
        FRAMEWORK_A
        + """
        [[tool.venvstacks.applications]]
        name = "app"
        frameworks = ["b"]
        requirements = []
        launch_module = "main.py"
        """,
        "application 'app'",
        "frameworks",
        "unknown framework 'b'",
    ),
    Case(
        "forward-reference",
        """
        [[tool.venvstacks.frameworks]]
        name = "first"
        frameworks = ["second"]
        requirements = []

        [[tool.venvstacks.frameworks]]
        name = "second"
        runtime = "cpython-3.11"
        requirements = []
        """,
        "framework 'first'",
        "frameworks",
        "framework 'second' is defined later in the spec",
    ),
    Case(
        "both-runtime-and-frameworks",
        FRAMEWORK_A
        + """
        [[tool.venvstacks.frameworks]]
        name = "b"
        runtime = "cpython-3.11"
        frameworks = ["a"]
        requirements = []
        """,
        "framework 'b'",
        "frameworks",
        "set either 'runtime' or 'frameworks', not both",
    ),
    Case(
        "neither-runtime-nor-frameworks",
        """
        [[tool.venvstacks.frameworks]]
        name = "b"
        requirements = []
        """,
        "framework 'b'",
        "runtime",
        "set either 'runtime'",
    ),
    Case(
        "frameworks-on-different-runtimes",
        """
        [[tool.venvstacks.runtimes]]
        name = "cpython-3.12"
        python_implementation = "cpython@3.12"
        requirements = []
        """
        + FRAMEWORK_A
        + """
        [[tool.venvstacks.frameworks]]
        name = "b"
        runtime = "cpython-3.12"
        requirements = []

        [[tool.venvstacks.frameworks]]
        name = "c"
        frameworks = ["a", "b"]
        requirements = []
        """,
        "framework 'c'",
        "frameworks",
        "frameworks must share one runtime: a on 'cpython-3.11'; b on 'cpython-3.12'",
    ),
    Case(
        "c3-conflict",
        FRAMEWORK_A
        + """
        [[tool.venvstacks.frameworks]]
        name = "b"
        runtime = "cpython-3.11"
        requirements = []

        [[tool.venvstacks.frameworks]]
        name = "ab"
        frameworks = ["a", "b"]
        requirements = []

        [[tool.venvstacks.frameworks]]
        name = "ba"
        frameworks = ["b", "a"]
        requirements = []

        [[tool.venvstacks.frameworks]]
        name = "top"
        frameworks = ["ab", "ba"]
        requirements = []
        """,
        "framework 'top'",
        "frameworks",
        "no consistent order for the sequences [a, b], [b, a]",
    ),
    Case(
        "duplicate-name",
        FRAMEWORK_A + FRAMEWORK_A,
        "framework 'a'",
        "name",
        "duplicate framework name 'a'",
    ),
    Case(
        "env-name-clash",
        """
        [[tool.venvstacks.runtimes]]
        name = "framework-a"
        python_implementation = "cpython@3.11"
        requirements = []
        """
        + FRAMEWORK_A,
        "framework 'a'",
        "name",
        "folder name 'framework-a' clashes with runtime 'framework-a'",
    ),
    Case(
        "invalid-requirement",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = ["numpy >>= 2"]
        """,
        "framework 'f'",
        "requirements",
        "invalid requirement 'numpy >>= 2'",
    ),
    Case(
        "unknown-platform",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        platforms = ["linux_x86-64"]
        """,
        "framework 'f'",
        "platforms",
        "unknown platform 'linux_x86-64' (did you mean 'linux_x86_64'?)",
    ),
    Case(
        "bad-linux-target",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        linux_target = "musl@1.2"
        """,
        "framework 'f'",
        "linux_target",
        "invalid value 'musl@1.2': expected 'glibc' or 'glibc@X.Y'",
    ),
    Case(
        # Refused when the spec is read, not when uv is first asked to lock for it.
        "unsupported-glibc-floor",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        linux_target = "glibc@2.29"
        """,
        "framework 'f'",
        "linux_target",
        "uv cannot lock for glibc 2.29",
    ),
    Case(
        "bad-macosx-target",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        macosx_target = "sonoma"
        """,
        "framework 'f'",
        "macosx_target",
        "invalid value 'sonoma'",
    ),
    Case(
        "platform-missing-below",
        """
        [[tool.venvstacks.runtimes]]
        name = "linux-only"
        python_implementation = "cpython@3.11"
        requirements = []
        platforms = ["linux_x86_64"]

        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "linux-only"
        requirements = []
        platforms = ["linux_x86_64", "win_amd64"]
        """,
        "framework 'f'",
        "platforms",
        "platform 'win_amd64' is not built by lower layer(s) linux-only",
    ),
    Case(
        "unknown-index",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        priority_indexes = ["pytorch-cpu"]
        """,
        "framework 'f'",
        "priority_indexes",
        "unknown index 'pytorch-cpu'",
    ),
    Case(
        "conflicting-inherited-indexes",
        """
        [[tool.venvstacks.frameworks]]
        name = "a"
        runtime = "cpython-3.11"
        requirements = []
        package_indexes = { torch = "pypi" }

        [[tool.venvstacks.frameworks]]
        name = "b"
        runtime = "cpython-3.11"
        requirements = []
        package_indexes = { torch = "mirror" }

        [[tool.venvstacks.frameworks]]
        name = "c"
        frameworks = ["a", "b"]
        requirements = []

        [[tool.pdm.source]]
        name = "mirror"
        url = "https://example.invalid/simple"
        """,
        "framework 'c'",
        "package_indexes",
        "'torch' comes from index 'pypi' in framework-a but from 'mirror' in framework-b",
    ),
    Case(
        "missing-launch-module-field",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        """,
        "application 'app'",
        "launch_module",
        "required for applications",
    ),
    Case(
        "missing-launch-module-file",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "nowhere.py"
        """,
        "application 'app'",
        "launch_module",
        "'nowhere.py' not found",
    ),
    Case(
        "launch-package-without-main",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "nomain"
        """,
        "application 'app'",
        "launch_module",
        "package 'nomain' has no __main__.py",
    ),
    Case(
        "missing-support-module",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "main.py"
        support_modules = ["gone.py"]
        """,
        "application 'app'",
        "support_modules",
        "'gone.py' not found",
    ),
    Case(
        "clashing-modules",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "main.py"
        support_modules = ["other/main.py"]
        """,
        "application 'app'",
        "support_modules",
        "'other/main.py' and 'main.py' would both be imported as 'main'",
    ),
    Case(
        "absolute-support-module",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "main.py"
        support_modules = ["/etc/ssh"]
        """,
        "application 'app'",
        "support_modules",
        "'/etc/ssh' is an absolute path; give a path relative to the project folder",
    ),
    Case(
        "launch-module-above-the-project",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "../outside.py"
        """,
        "application 'app'",
        "launch_module",
        "'../outside.py' is outside the project folder",
    ),
    Case(
        "symlinked-module-leaving-the-project",
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "main.py"
        support_modules = ["escape"]
        """,
        "application 'app'",
        "support_modules",
        "'escape' is a link to",
    ),
    Case(
        "build-dir-is-the-requirements-folder",
        """
        [tool.pdm-stack]
        build_dir = "requirements"
        """,
        "[tool.pdm-stack]",
        "build_dir",
        "build_dir and requirements_dir are the same folder",
    ),
    Case(
        "export-dir-inside-the-build-dir",
        """
        [tool.pdm-stack]
        build_dir = "out"
        export_dir = "out/export"
        """,
        "[tool.pdm-stack]",
        "export_dir",
        "is inside build_dir",
    ),
    Case(
        "build-dir-is-a-file",
        """
        [tool.pdm-stack]
        build_dir = "main.py"
        """,
        "[tool.pdm-stack]",
        "build_dir",
        "is a file, not a folder",
    ),
    Case(
        "python-that-does-not-exist",
        """
        [[tool.venvstacks.runtimes]]
        name = "future"
        python_implementation = "cpython@3.99"
        requirements = []
        """,
        "runtime 'future'",
        "python_implementation",
        "there is no CPython 3.99",
    ),
    Case(
        "layer-name-too-long-for-a-folder",
        f"""
        [[tool.venvstacks.frameworks]]
        name = "{LONG_NAME}"
        runtime = "cpython-3.11"
        requirements = []
        """,
        f"framework '{LONG_NAME}'",
        "name",
        "300 characters long; use at most 100",
    ),
    Case(
        "wrong-type",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = "numpy"
        """,
        "framework 'f'",
        "requirements",
        "expected a list of strings, got a string ('numpy')",
    ),
    Case(
        "wrong-type-bool",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        versioned = "yes"
        """,
        "framework 'f'",
        "versioned",
        "expected true or false",
    ),
    Case(
        "unknown-key",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        platfroms = ["linux_x86_64"]
        """,
        "framework 'f'",
        "platfroms",
        "unknown key (did you mean 'platforms'?)",
    ),
    Case(
        "unknown-top-level-key",
        """
        [[tool.venvstacks.framework]]
        name = "f"
        """,
        "[tool.venvstacks]",
        "framework",
        "unknown key (did you mean 'frameworks'?)",
    ),
    Case(
        "unknown-settings-key",
        """
        [tool.pdm-stack]
        build-dir = "out"
        """,
        "[tool.pdm-stack]",
        "build-dir",
        "unknown key (did you mean 'build_dir'?)",
    ),
    Case(
        "missing-name",
        """
        [[tool.venvstacks.frameworks]]
        runtime = "cpython-3.11"
        requirements = []
        """,
        "frameworks[0]",
        "name",
        "required",
    ),
    Case(
        "missing-requirements",
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        """,
        "framework 'f'",
        "requirements",
        "required (use [] for a layer without packages)",
    ),
    Case(
        "bad-python-implementation",
        """
        [[tool.venvstacks.runtimes]]
        name = "rt"
        python_implementation = "python3"
        requirements = []
        """,
        "runtime 'rt'",
        "python_implementation",
        "invalid Python runtime request 'python3'",
    ),
    Case(
        # The runtime request's own rule: no relocatable PyPy builds, so the spec refuses it too.
        "pypy-implementation",
        """
        [[tool.venvstacks.runtimes]]
        name = "rt"
        python_implementation = "pypy@3.10"
        requirements = []
        """,
        "runtime 'rt'",
        "python_implementation",
        "implementation 'pypy' is not supported",
    ),
    Case(
        "bad-layer-name",
        """
        [[tool.venvstacks.frameworks]]
        name = "my framework"
        runtime = "cpython-3.11"
        requirements = []
        """,
        "framework 'my framework'",
        "name",
        "use letters, digits",
    ),
]


def _write_case(write_spec: SpecWriter, app_modules: Path, case: Case) -> Path:
    (app_modules / "nomain").mkdir()
    (app_modules / "other").mkdir()
    (app_modules / "other" / "main.py").write_text("")
    outside = app_modules.parent / "outside_pkg"
    outside.mkdir()
    (outside / "__init__.py").write_text("SECRET = 1\n")
    (app_modules.parent / "outside.py").write_text("")
    (app_modules / "escape").symlink_to(outside)
    return write_spec(case.toml)


def _matching(errors: list[StackError], case: Case) -> list[StackError]:
    return [e for e in errors if e.layer == case.layer and e.field == case.field and case.fragment in str(e)]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_core_reports_layer_and_field(write_spec: SpecWriter, app_modules: Path, case: Case) -> None:
    path = _write_case(write_spec, app_modules, case)
    with pytest.raises(StackErrors) as raised:
        open_stack(path)
    matching = _matching(raised.value.errors, case)
    assert matching, f"no error for {case.layer}/{case.field} in:\n{raised.value}"
    line = str(matching[0])
    assert "\n" not in line
    assert line.startswith(f"{path}: {case.layer}: field '{case.field}': ")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pdm_command_prints_one_line_without_traceback(
    write_spec: SpecWriter, app_modules: Path, case: Case, pdm: PDMCallable, project: Project
) -> None:
    path = _write_case(write_spec, app_modules, case)
    result = pdm(["stack", "show", "--spec", str(path)], obj=project)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    expected = f"{case.layer}: field '{case.field}': "
    lines = [line for line in result.stderr.splitlines() if expected in line and case.fragment in line]
    assert lines, result.stderr


def test_all_errors_are_reported_in_one_run(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "nope"
        requirements = ["bad req !"]
        platforms = ["amiga"]
        """
    )
    with pytest.raises(StackErrors) as raised:
        open_stack(path)
    fields = sorted(e.field or "" for e in raised.value.errors)
    assert fields == ["platforms", "requirements", "runtime"]


def test_traceback_only_with_verbose(write_spec: SpecWriter, pdm: PDMCallable, project: Project) -> None:
    path = write_spec("[[tool.venvstacks.frameworks]]\nname = 'f'\nruntime = 'nope'\nrequirements = []\n")
    quiet = pdm(["stack", "show", "--spec", str(path)], obj=project)
    verbose = pdm(["stack", "show", "-v", "--spec", str(path)], obj=project)
    assert "Traceback" not in quiet.stderr
    assert verbose.exit_code == 1
    assert "Traceback" in verbose.stderr
    assert "unknown runtime 'nope'" in verbose.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "stack spec not found"),
        ("[tool.venvstacks\n", "invalid TOML"),
        ("[project]\nname = 'x'\n", "no [tool.venvstacks] table"),
    ],
    ids=["missing-file", "invalid-toml", "no-stack-table"],
)
def test_file_level_errors(
    tmp_path: Path, content: str | None, fragment: str, pdm: PDMCallable, project: Project
) -> None:
    path = tmp_path / "elsewhere" / "pyproject.toml"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content)
    result = pdm(["stack", "show", "--spec", str(path)], obj=project)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert f"{path}: {fragment}" in result.stderr
