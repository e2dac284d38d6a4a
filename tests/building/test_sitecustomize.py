"""The generated ``sitecustomize.py``: relative, ordered, ``.pth``-aware, Python 3.9 syntax."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from pdm_stack.building.sitecustomize import relative_site_dir, render_sitecustomize

if TYPE_CHECKING:
    from pathlib import Path

SITE = "lib/python3.11/site-packages"


def test_relative_site_dir_between_sibling_layers() -> None:
    assert relative_site_dir("app-x", SITE, "framework-a@3", SITE) == f"../../../../framework-a@3/{SITE}"
    assert (
        relative_site_dir("app-x", SITE, "cpython-3.11", "lib/python3.11/site-packages")
        == f"../../../../cpython-3.11/{SITE}"
    )


def test_rendered_module_parses_as_python_3_9() -> None:
    text = render_sitecustomize([f"../../../../framework-a/{SITE}", f"../../../../cpython-3.11/{SITE}"])
    ast.parse(text, feature_version=(3, 9))
    imported = {
        alias.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported == {"os", "site"}


@pytest.mark.parametrize("bad", [[], ["/abs/site-packages"], ['../x"y'], ["..\\win"]])
def test_refuses_what_it_cannot_express(bad: list[str]) -> None:
    with pytest.raises(ValueError):
        render_sitecustomize(bad)


def test_adds_lower_dirs_in_order_and_processes_pth_files(tmp_path: Path) -> None:
    layers = tmp_path / "moved" / "layers"
    own = layers / "app-x" / SITE
    lower = [layers / name / SITE for name in ("framework-b", "framework-a", "cpython-3.11")]
    for folder in (own, *lower):
        folder.mkdir(parents=True)
    extra = tmp_path / "from-pth"
    extra.mkdir()
    (lower[1] / "extra.pth").write_text(f"{extra}\n")
    relative = [relative_site_dir("app-x", SITE, path.parents[2].name, SITE) for path in lower]
    (own / "sitecustomize.py").write_text(render_sitecustomize(relative))

    # Run it as site.py would: with the layer's own site dir already on sys.path.
    code = (
        "import json, sys; sys.path.append(sys.argv[1]); import sitecustomize;"
        " print(json.dumps([sys.path, sorted(vars(sitecustomize))]))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-B", "-c", code, str(own)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    path, names = json.loads(result.stdout)
    tail = path[path.index(str(own)) :]
    assert tail == [str(own), str(lower[0]), str(lower[1]), str(extra), str(lower[2])]
    assert not [name for name in names if not name.startswith("__")]
