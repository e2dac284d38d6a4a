"""Which files of an application's modules ship: git's ignore rules, caches and ``.git*`` left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdm_stack.app_modules import (
    app_module_files,
    app_modules_hash,
    copy_module_files,
    files_hash,
    module_files,
)
from pdm_stack.building.layer_config import LayerConfig
from pdm_stack.errors import StackError
from pdm_stack.lock.stack_lock import version_inputs_hash
from pdm_stack.publish.publish_inputs import PublishLayer
from pdm_stack.stack import open_stack
from pdm_stack.stack_spec.model import LayerKind
from tests.fixtures.specs import BASE_STACK


def shipped(module: Path, root: Path) -> list[str]:
    return [str(item.target) for item in module_files(module, root)]


def make_package(root: Path) -> Path:
    pkg = root / "src" / "pkg"
    for folder in ("sub", "build", "__pycache__", ".git", "keep_dir"):
        (pkg / folder).mkdir(parents=True)
    files = {
        "__init__.py": "",
        "__main__.py": "print('main')\n",
        "sub/mod.py": "X = 1\n",
        "sub/notes.tmp": "local notes",
        "sub/wanted.tmp": "re-included by sub/.gitignore",
        "sub/.gitignore": "!wanted.tmp\n",
        "build/out.py": "generated",
        "__pycache__/mod.cpython-311.pyc": "junk",
        "stale.pyc": "junk",
        ".git/config": "junk",
        ".gitattributes": "* text",
        "settings.local.toml": "secret",
        "keep_dir/data.txt": "data",
        ".gitignore": "build/\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    (root / ".gitignore").write_text("*.tmp\n*.local.toml\n")
    return pkg


def test_gitignore_files_from_the_spec_root_down_are_honoured(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    assert shipped(pkg, tmp_path) == [
        "pkg/__init__.py",
        "pkg/__main__.py",
        "pkg/keep_dir/data.txt",
        "pkg/sub/mod.py",
        "pkg/sub/wanted.tmp",
    ]


def test_single_file_module_and_symlinked_module_keep_their_own_names(tmp_path: Path) -> None:
    (tmp_path / "tool.py").write_text("print('tool')\n")
    (tmp_path / "alias.py").symlink_to("tool.py")
    assert shipped(tmp_path / "tool.py", tmp_path) == ["tool.py"]
    assert shipped(tmp_path / "alias.py", tmp_path) == ["alias.py"]
    pkg = make_package(tmp_path)
    (tmp_path / "linked").symlink_to(pkg)
    assert shipped(tmp_path / "linked", tmp_path)[0] == "linked/__init__.py"


@pytest.mark.parametrize("where", ["module", "member", "folder"])
def test_files_that_lead_out_of_the_project_are_refused(tmp_path: Path, where: str) -> None:
    project = tmp_path / "proj"
    pkg = make_package(project)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "ssh_config").write_text("Host *\n")
    module = pkg
    if where == "module":
        module = project / "escape"
        module.symlink_to(secrets)
    elif where == "member":
        (pkg / "config").symlink_to(secrets / "ssh_config")
    else:
        (pkg / "sub" / "data").symlink_to(secrets)
    with pytest.raises(StackError, match="outside the project folder"):
        module_files(module, project)


def test_hash_follows_shipped_files_only(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    before = files_hash(module_files(pkg, tmp_path))
    (pkg / "sub" / "notes.tmp").write_text("edited, but ignored")
    (pkg / "__pycache__" / "new.pyc").write_text("junk")
    assert files_hash(module_files(pkg, tmp_path)) == before
    (pkg / "sub" / "mod.py").write_text("X = 2\n")
    assert files_hash(module_files(pkg, tmp_path)) != before


def test_copy_creates_independent_files(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    site = tmp_path / "site-packages"
    assert copy_module_files(module_files(pkg, tmp_path), site) == 5
    assert (site / "pkg" / "sub" / "mod.py").read_text() == "X = 1\n"
    assert (site / "pkg" / "sub" / "mod.py").stat().st_ino != (pkg / "sub" / "mod.py").stat().st_ino
    assert not (site / "pkg" / "build").exists()


def test_lock_version_build_and_publish_hash_the_app_modules_by_one_rule(tmp_path: Path) -> None:
    """Editing an ignored file changes none of the three hashes; editing a shipped one changes all."""
    pkg = make_package(tmp_path)
    spec = tmp_path / "pyproject.toml"
    spec.write_text(
        BASE_STACK
        + '[[tool.venvstacks.applications]]\nname = "app"\nruntime = "cpython-3.11"\n'
        + 'launch_module = "src/pkg"\nversioned = true\nrequirements = []\n'
    )
    stack = open_stack(spec)
    layer = stack.graph.by_env_name("app-app")

    def hashes() -> tuple[str, str | None, str | None]:
        built = tmp_path / f"built-{len(list(tmp_path.glob('built-*')))}"
        site_dir = "lib/python3.11/site-packages"
        LayerConfig("bin/python", "3.11.0", "bin/python", site_dir).write(built)
        copy_module_files(app_module_files(layer.spec, stack.spec.root), built / site_dir)
        published = PublishLayer(
            LayerKind.APPLICATION, "app-app", "app-app", built, 1, "", "", "rt", (), "", launch_module="pkg"
        )
        return (
            version_inputs_hash(layer, stack.spec.root),  # lock_version of a versioned layer
            app_modules_hash(layer.spec, stack.spec.root),  # the build's inputs
            published.launch_module_hash(),  # app_launch_module_hash in the published metadata
        )

    before = hashes()
    (pkg / "sub" / "notes.tmp").write_text("ignored by the root .gitignore")
    (pkg / "build" / "out.py").write_text("ignored by the package's .gitignore")
    (pkg / "__pycache__" / "mod.cpython-311.pyc").write_text("never shipped")
    assert hashes() == before
    (pkg / "sub" / "mod.py").write_text("X = 2\n")
    after = hashes()
    assert all(new != old for new, old in zip(after, before, strict=True))
