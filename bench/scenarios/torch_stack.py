"""The PyTorch case: a framework with the CPU build of torch, five apps that import it.

The torch wheel comes from a local find-links folder (``$BENCH_TORCH_WHEELS``, default
``/opt/wheels``); without it the scenario is skipped with a note. Measured: disk of the built
and of the deployed stack against one torch install and five plain venvs (copy mode), publish of
the torch layer per format (wall, bytes, peak RSS under 300 MB), export, deploy, and the start-up
of ``import torch`` against a plain venv on the same runtime. Torch-sized steps run once each
unless ``--runs`` says otherwise... they are minutes long on two cores.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench import steps
from bench.core import Context, Goal, Scenario
from bench.measure import disk_usage
from bench.tools import RUNTIME, Layer, StackProject, compileall_command, plain_venv_command

TORCH = "torch==2.13.0+cpu"
APPS = 5


def run(ctx: Context) -> None:
    wheels = Path(os.environ.get("BENCH_TORCH_WHEELS", "/opt/wheels"))
    if not any(wheels.glob("torch-2.13.0+cpu-*.whl")):
        ctx.note(f"skipped: no torch 2.13.0+cpu wheel in {wheels} (set BENCH_TORCH_WHEELS)")
        return
    apps = [
        Layer(f"torch-app{n}", [], frameworks=["torch"], modules={f"torch_app{n}.py": "import torch\n"})
        for n in range(APPS)
    ]
    project = StackProject(
        ctx.work / "torch-stack", [Layer("torch", [TORCH])], apps, find_links=[str(wheels)]
    ).write()
    root = project.root
    heavy = max(1, ctx.runs // 2)
    ctx.figure("lock", [ctx.measure("lock", project.tool("lock"), cwd=root)])
    built = ctx.measure("build (first)", project.tool("build"), cwd=root)
    runtime = project.build / RUNTIME
    one_venv = ctx.work / "one-torch-venv"
    floor = ctx.measure(
        "venv + uv pip install (copy mode)",
        plain_venv_command(
            runtime, one_venv, project.pins(), link_mode="copy", find_links=project.find_links
        ),
    )
    ctx.figure("build", [built], baseline=("venv + uv pip install --link-mode copy", [floor]))
    # The build compiles bytecode, as pip does at install: so is the venv compared with it.
    ctx.measure(
        "compile the torch venv (as pip does)",
        compileall_command(runtime / "bin" / "python3", one_venv, mode="timestamp"),
    )

    # Disk: the stack against the same runtime plus one torch venv, and plus five of them.
    stack_disk = disk_usage(*project.layer_dirs()) / 1e6
    runtime_disk = disk_usage(runtime) / 1e6
    venv_disk = disk_usage(one_venv) / 1e6
    ctx.figure(
        f"disk, built (runtime + torch + {APPS} apps)",
        stack_disk,
        unit="MB",
        baseline=("runtime + one compiled torch venv", runtime_disk + venv_disk),
        goal=Goal(max_ratio=1.1),
    )
    ctx.figure(
        f"disk, built, against {APPS} plain venvs",
        stack_disk,
        unit="MB",
        baseline=(f"runtime + {APPS} torch venvs (copy mode)", runtime_disk + APPS * venv_disk),
        note=f"{APPS} venvs = {APPS} x the one measured (identical copies)",
    )

    # The default format last: the layer's publish state then names that folder, so publishing
    # the other layers into it below skips the torch layer instead of compressing it again.
    formats = (*(f for f in steps.FORMATS if f != steps.DEFAULT_FORMAT), steps.DEFAULT_FORMAT)
    steps.publish(
        ctx, project, include=["framework-*"], formats=formats, label="torch layer ", runs=1, rss_limit_mb=300
    )
    artifacts = ctx.work / f"publish-{steps.DEFAULT_FORMAT}"
    ctx.measure(
        "publish the other layers",
        project.tool("publish", "-o", str(artifacts), "--format", steps.DEFAULT_FORMAT),
        cwd=root,
    )
    # The oci-fetch scenario deploys these apps from a registry, one after another.
    ctx.cache["torch-stack"] = (project, artifacts, [app.name for app in apps])
    steps.export(ctx, project, goal=Goal(max_ratio=1.5))
    shutil.rmtree(ctx.work / "export", ignore_errors=True)
    target = steps.deploy(ctx, project, artifacts, steps.DEFAULT_FORMAT, goal=Goal(max_ratio=1.5), runs=heavy)

    # Deployed: the stack with its bytecode against one torch venv compiled (as above).
    deployed = disk_usage(*(p for p in target.iterdir() if not p.name.startswith("."))) / 1e6
    ctx.figure(
        f"disk, deployed (runtime + torch + {APPS} apps)",
        deployed,
        unit="MB",
        baseline=("deployed runtime + one compiled torch venv", disk_usage(target / RUNTIME, one_venv) / 1e6),
        goal=Goal(max_ratio=1.1),
    )
    steps.startup(
        ctx,
        target / "app-torch-app0" / "bin" / "python",
        one_venv / "bin" / "python",
        "import torch",
        starts=3 if ctx.smoke else 7,
        wall_goal=Goal(max_ratio=1.05),
        rss_goal=Goal(max_ratio=1.05),
        label="torch app",
    )


SCENARIO = Scenario(
    name="torch",
    title=f"torch 2.13.0 CPU framework with {APPS} apps: disk, publish, export, deploy, start-up",
    run=run,
    order=40,
    smoke=False,
)
