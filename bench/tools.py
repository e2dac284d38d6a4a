"""What scenarios share: writing stack projects, the tool's command line, baseline commands.

Stacks are written with ``local_runtime = "prefer"`` so every runtime is a relocatable copy of
the interpreter running the suite (no download; python-build-standalone is unreachable here).
"""

from __future__ import annotations

import os
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from uv import find_uv_bin

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

PY_SHORT = "{}.{}".format(*sys.version_info[:2])
PY_FULL = "{}.{}.{}".format(*sys.version_info[:3])
TOOL = (sys.executable, "-m", "pdm_stack")
UV = os.fsdecode(find_uv_bin())
RUNTIME = f"cpython-{PY_SHORT}"


@dataclass
class Layer:
    """One framework or application of a generated stack."""

    name: str
    requirements: list[str]
    frameworks: list[str] = field(default_factory=list)
    #: Application modules: ``{file name: source}``; the first is the launch module.
    modules: dict[str, str] = field(default_factory=dict)


@dataclass
class StackProject:
    """A generated stack project folder with helpers for the tool's commands."""

    root: Path
    frameworks: list[Layer]
    apps: list[Layer]
    find_links: list[str] = field(default_factory=list)

    @property
    def build(self) -> Path:
        return self.root / "_build"

    def write(self) -> StackProject:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "pyproject.toml").write_text(self._toml(venvstacks=False))
        (self.root / "venvstacks.toml").write_text(self._toml(venvstacks=True))
        for app in self.apps:
            for name, source in app.modules.items():
                (self.root / name).write_text(source)
        return self

    def _toml(self, *, venvstacks: bool) -> str:
        prefix = "" if venvstacks else "tool.venvstacks."
        # venvstacks wants the full version (it derives lib/pythonX.Y from it).
        implementation = f"cpython@{PY_FULL if venvstacks else PY_SHORT}"
        lines = []
        if not venvstacks:
            lines += ['[project]\nname = "bench-stack"\nversion = "0"\n', "[tool.pdm-stack]"]
            lines.append('local_runtime = "prefer"')
            if self.find_links:
                lines.append(f"find_links = {_toml_list(self.find_links)}")
            lines.append("")
        lines += [
            f"[[{prefix}runtimes]]",
            f'name = "{RUNTIME}"',
            f'python_implementation = "{implementation}"',
            "requirements = []",
            'platforms = ["linux_x86_64"]',
            "",
        ]
        for layer in self.frameworks:
            lines += [f"[[{prefix}frameworks]]", f'name = "{layer.name}"']
            if layer.frameworks:
                lines.append(f"frameworks = {_toml_list(layer.frameworks)}")
            else:
                lines.append(f'runtime = "{RUNTIME}"')
            lines += [f"requirements = {_toml_list(layer.requirements)}", ""]
        for app in self.apps:
            launch = next(iter(app.modules))
            lines += [f"[[{prefix}applications]]", f'name = "{app.name}"']
            if app.frameworks:
                lines.append(f"frameworks = {_toml_list(app.frameworks)}")
            else:
                lines.append(f'runtime = "{RUNTIME}"')
            lines += [f'launch_module = "{launch}"']
            if len(app.modules) > 1:
                lines.append(f"support_modules = {_toml_list(list(app.modules)[1:])}")
            lines += [f"requirements = {_toml_list(app.requirements)}", ""]
        return "\n".join(lines)

    def tool(self, *args: str) -> list[str]:
        return [*TOOL, *args]

    def pins(self) -> list[str]:
        """Every package the lock installs in any framework or app layer (``name==version``)."""
        pins: set[str] = set()
        for listing in sorted((self.root / "requirements").glob("*/packages-*.txt")):
            if listing.parent.name == RUNTIME:
                continue
            pins.update(
                line.strip()
                for line in listing.read_text().splitlines()
                if line.strip() and not line.startswith("#")
            )
        return sorted(pins)

    def layer_dirs(self) -> list[Path]:
        return sorted(p for p in self.build.iterdir() if (p / "share/venv/metadata").is_dir())

    def all_requirements(self) -> list[str]:
        data = tomllib.loads((self.root / "pyproject.toml").read_text())["tool"]["venvstacks"]
        return sorted({r for kind in data.values() for layer in kind for r in layer["requirements"]})


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def plain_venv_command(
    runtime: Path,
    venv: Path,
    pins: list[str],
    *,
    link_mode: str | None = None,
    find_links: Sequence[str] = (),
) -> str:
    """``python -m venv`` on ``runtime`` plus ``uv pip install`` of ``pins``: one environment
    without layers, the floor a build is compared with."""
    python = shlex.quote(str(runtime / "bin" / "python3"))
    target = shlex.quote(str(venv))
    install = [UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), "--no-deps"]
    if link_mode:
        install += ["--link-mode", link_mode]
    install += [arg for link in find_links for arg in ("--find-links", link)]
    return f"rm -rf {target} && {python} -m venv --without-pip {target} && {shlex.join([*install, *pins])}"


def compileall_command(python: Path, *folders: Path, mode: str = "checked-hash", force: bool = False) -> str:
    """Parallel bytecode compilation with the given interpreter: the floor export/deploy face
    (``checked-hash``, as their post-install compiles), or as pip compiles (``timestamp``)."""
    quoted = " ".join(shlex.quote(str(f)) for f in folders)
    options = f"-q -q -j0 --invalidation-mode {mode}" + (" -f" if force else "")
    # Exit status 1 means some files do not compile (torch ships a few such sources); they run
    # from source, as after pdm-stack's post-install, so that is no failure of the floor.
    return f"{{ {shlex.quote(str(python))} -m compileall {options} {quoted} || [ $? -eq 1 ]; }}"
