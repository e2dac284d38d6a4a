"""Which files of an application's modules ship: git's ignore rules, caches and ``.git*`` left out."""

from __future__ import annotations

from pathlib import Path

from pdm_stack.building.app_modules import copy_module_files, files_hash, module_files


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


def test_single_file_module_and_module_outside_the_spec_root(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / ".gitignore").write_text("*.py\n")
    outside = tmp_path / "shared" / "tool.py"
    outside.parent.mkdir()
    outside.write_text("print('tool')\n")
    assert shipped(outside, tmp_path / "proj") == ["tool.py"]
    # The root's rules do not reach a module outside it.
    pkg = make_package(tmp_path / "elsewhere")
    assert "pkg/sub/notes.tmp" in shipped(pkg, tmp_path / "proj")


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
