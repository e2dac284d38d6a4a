"""Reading valid specs: fields, defaults, settings, venvstacks.toml, legacy fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdm_stack.errors import StackErrors
from pdm_stack.stack_spec import LayerKind, load_stack
from tests.fixtures.specs import SpecWriter


def test_reads_all_layer_kinds_in_stack_order(write_spec: SpecWriter, app_modules: Path) -> None:
    path = write_spec(
        """
        [[tool.venvstacks.frameworks]]
        name = "numpy"
        runtime = "cpython-3.11"
        requirements = ["numpy>=2"]
        linux_target = "glibc@2.34"
        macosx_target = "13.0"
        dynlib_exclude = ["libgomp*"]
        versioned = true

        [[tool.venvstacks.applications]]
        name = "app"
        frameworks = ["numpy"]
        requirements = ["attrs"]
        launch_module = "main.py"
        support_modules = ["helpers.py", "pkg"]
        """
    )
    spec = load_stack(path)
    assert [(layer.kind, layer.env_name) for layer in spec.layers] == [
        (LayerKind.RUNTIME, "cpython-3.11"),
        (LayerKind.FRAMEWORK, "framework-numpy"),
        (LayerKind.APPLICATION, "app-app"),
    ]
    framework = spec.layers[1]
    assert framework.requirements == ("numpy>=2",)
    assert framework.linux_target == "glibc@2.34"
    assert framework.macosx_target == "13.0"
    assert framework.dynlib_exclude == ("libgomp*",)
    assert framework.versioned is True
    app = spec.layers[2]
    assert app.runtime == "cpython-3.11"  # inferred from its frameworks
    assert app.launch_module == app_modules / "main.py"
    assert app.support_modules == (app_modules / "helpers.py", app_modules / "pkg")


def test_settings_default_beside_the_spec(write_spec: SpecWriter) -> None:
    path = write_spec()
    settings = load_stack(path).settings
    assert settings.build_dir == path.parent / "_build"
    assert settings.output_dir == path.parent / "_artifacts"
    assert settings.export_dir == path.parent / "_export"
    assert settings.requirements_dir == path.parent / "requirements"
    assert settings.local_runtime is None


def test_settings_table_overrides(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [tool.pdm-stack]
        build_dir = "out/build"
        runtime_mirror = "mirror"
        local_runtime = "prefer"
        register_runtimes = false
        """
    )
    settings = load_stack(path).settings
    assert settings.build_dir == path.parent / "out" / "build"
    assert settings.runtime_mirror == str(path.parent / "mirror")
    assert settings.local_runtime == "prefer"
    assert settings.register_runtimes is False


def test_standalone_venvstacks_toml(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [[runtimes]]
        name = "cpython-3.12"
        python_implementation = "cpython@3.12.1"
        requirements = []

        [[frameworks]]
        name = "web"
        runtime = "cpython-3.12"
        requirements = ["idna"]
        """,
        base=False,
        name="venvstacks.toml",
    )
    spec = load_stack(path)
    assert spec.table == "top level"
    assert [layer.env_name for layer in spec.layers] == ["cpython-3.12", "framework-web"]


def test_legacy_fields_warn_but_work(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [[tool.venvstacks.runtimes]]
        name = "old"
        fully_versioned_name = "cpython@3.11.7"
        build_requirements = ["setuptools"]
        requirements = []
        """
    )
    spec = load_stack(path)
    old = spec.layers[1]
    assert old.python_implementation == "cpython@3.11.7"
    assert any("'fully_versioned_name' is deprecated" in w for w in spec.warnings)
    assert any("'build_requirements' is deprecated" in w for w in spec.warnings)


def test_runtime_archive_path_is_resolved(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [[tool.venvstacks.runtimes]]
        name = "custom"
        python_implementation = "cpython@3.11.7"
        requirements = []
        runtime_archive = { url = "archives/python.tar.gz", sha256 = "%s" }
        """
        % ("ab" * 32)
    )
    archive = load_stack(path).layers[1].runtime_archive
    assert archive is not None
    assert archive.url == str(path.parent / "archives" / "python.tar.gz")
    assert archive.sha256 == "ab" * 32


def test_index_names_from_pdm_sources_are_known(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [[tool.pdm.source]]
        name = "internal"
        url = "https://example.invalid/simple"

        [[tool.venvstacks.frameworks]]
        name = "f"
        runtime = "cpython-3.11"
        requirements = []
        package_indexes = { mypkg = "internal" }
        priority_indexes = ["extra"]
        """
    )
    spec = load_stack(path, extra_indexes=["extra"])
    assert spec.layers[1].package_indexes == {"mypkg": "internal"}


def test_lock_and_publish_settings(write_spec: SpecWriter, app_modules: Path) -> None:
    path = write_spec(
        """
        [tool.pdm-stack]
        exclude_newer = "2025-06-01"
        find_links = ["wheels"]
        keep_console_scripts = ["tool"]

        [[tool.uv.index]]
        name = "cpu"
        url = "https://download.example/whl/cpu"
        explicit = true

        [[tool.venvstacks.applications]]
        name = "tool"
        runtime = "cpython-3.11"
        launch_module = "main.py"
        requirements = []

        [[tool.venvstacks.applications]]
        name = "other"
        runtime = "cpython-3.11"
        launch_module = "pkg"
        requirements = []
        """
    )
    stack = load_stack(path)
    assert stack.settings.exclude_newer == "2025-06-01"
    assert stack.settings.find_links == (path.parent / "wheels",)
    [cpu] = stack.settings.uv_indexes
    assert (cpu.name, cpu.url, cpu.explicit) == ("cpu", "https://download.example/whl/cpu", True)
    kept = {layer.name: layer.keep_console_scripts for layer in stack.layers_of(LayerKind.APPLICATION)}
    assert kept == {"tool": True, "other": False}


def test_bad_lock_and_publish_settings_name_the_field(write_spec: SpecWriter) -> None:
    path = write_spec(
        """
        [tool.pdm-stack]
        exclude_newer = "last tuesday"
        keep_console_scripts = ["nope"]
        """
    )
    with pytest.raises(StackErrors) as info:
        load_stack(path)
    text = str(info.value)
    assert "[tool.pdm-stack]: field 'exclude_newer': invalid date 'last tuesday'" in text
    assert "[tool.pdm-stack]: field 'keep_console_scripts': 'nope' is not an application layer" in text


def test_a_symlinked_module_inside_the_project_keeps_its_own_name(
    write_spec: SpecWriter, app_modules: Path
) -> None:
    (app_modules / "tool.py").symlink_to("main.py")
    (app_modules / "extras").symlink_to("pkg")
    path = write_spec(
        """
        [[tool.venvstacks.applications]]
        name = "app"
        runtime = "cpython-3.11"
        requirements = []
        launch_module = "tool.py"
        support_modules = ["extras", "sub/../helpers.py"]
        """
    )
    (app_modules / "sub").mkdir()
    app = load_stack(path).layers[-1]
    assert app.launch_module == app_modules / "tool.py"
    assert app.support_modules == (app_modules / "extras", app_modules / "helpers.py")
