"""example-project (numpy framework, two apps): lock, build, publish, export, deploy, start-up.

With ``--smoke`` a tiny stack of small pure-Python packages stands in for it, every step runs
once and only the small layers are published: it proves the steps work, not how fast they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench import steps
from bench.core import Context, Goal, Scenario
from bench.tools import RUNTIME, Layer, StackProject, compileall_command, plain_venv_command

ROOT = Path(__file__).resolve().parents[2]


def _example(ctx: Context) -> tuple[StackProject, Path, str, str]:
    """The example project copied into the work folder, set to use the local runtime."""
    root = ctx.work / "example-project"
    shutil.copytree(
        ROOT / "example-project", root, ignore=shutil.ignore_patterns("_build", "_artifacts", "_export")
    )
    spec = root / "pyproject.toml"
    text = spec.read_text().replace("[tool.pdm-stack]", '[tool.pdm-stack]\nlocal_runtime = "prefer"', 1)
    spec.write_text(text)
    project = StackProject(root, frameworks=[], apps=[])
    return project, root / "src" / "report_format.py", "app-stats", "import numpy, attrs"


def _smoke(ctx: Context) -> tuple[StackProject, Path, str, str]:
    project = StackProject(
        ctx.work / "smoke-stack",
        frameworks=[Layer("text", ["six"])],
        apps=[Layer("hello", ["idna"], frameworks=["text"], modules={"hello.py": "import idna, six\n"})],
    ).write()
    return project, project.root / "hello.py", "app-hello", "import idna, six"


def run(ctx: Context) -> None:
    if ctx.smoke:
        _run_smoke(ctx)
        return
    project, changed_module, app, imports = _example(ctx)
    steps.lock(ctx, project)
    steps.build(ctx, project, goal=Goal(max_ratio=1.5))
    steps.rebuild_one_app(ctx, project, changed_module)
    steps.publish(ctx, project)
    steps.export(ctx, project, goal=Goal(max_ratio=1.5))
    fmt = steps.DEFAULT_FORMAT
    target = steps.deploy(ctx, project, ctx.work / f"publish-{fmt}", fmt)
    plain = _plain_venv(ctx, project, target / RUNTIME)
    steps.startup(ctx, target / app / "bin" / "python", plain / "bin" / "python", imports, starts=15)


def _run_smoke(ctx: Context) -> None:
    """Each kind of step once, on small layers (export and deploy have their own tests)."""
    project, _changed, app, imports = _smoke(ctx)
    ctx.measure("lock", project.tool("lock"), cwd=project.root)
    ctx.measure("build", project.tool("build"), cwd=project.root)
    steps.publish(ctx, project, include=["framework-*", "app-*"], formats=("tar.gz",))
    plain = _plain_venv(ctx, project, project.build / RUNTIME)
    steps.startup(ctx, project.build / app / "bin" / "python", plain / "bin" / "python", imports, starts=1)


def _plain_venv(ctx: Context, project: StackProject, runtime: Path) -> Path:
    """A plain venv of the stack's packages on ``runtime``, compiled as pip would (timestamps)."""
    plain = ctx.work / "plain-venv"
    ctx.measure("plain venv for start-up", plain_venv_command(runtime, plain, project.pins()))
    ctx.measure(
        "compile the plain venv", compileall_command(runtime / "bin" / "python3", plain, mode="timestamp")
    )
    return plain


SCENARIO = Scenario(
    name="example-project",
    title="example-project: lock, build, publish, export, deploy and start-up",
    run=run,
    order=20,
)
