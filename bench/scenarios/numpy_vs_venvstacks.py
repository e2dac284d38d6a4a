"""The issue's comparison: a numpy stack (runtime + numpy framework + one app), pdm-stack
against venvstacks from the index, alternating runs of the same steps on the same runtime.

venvstacks downloads its runtimes from GitHub (unreachable here); ``bench/venvstacks_driver.py``
hands it a copy of the same relocatable runtime pdm-stack uses instead, and everything else is
venvstacks as shipped. Without venvstacks (no index access), only pdm-stack's side is measured.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from bench.core import Context, Goal, Job, Scenario
from bench.steps import DEFAULT_FORMAT
from bench.tools import RUNTIME, Layer, StackProject
from bench.venvstacks_tool import driver_command, venvstacks_python

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: Recorded in issue 12 against venvstacks 0.8 on a numpy stack (not measured in this run).
ISSUE_FIGURES = (
    "issue 12 measured, against venvstacks 0.8 (not this run): lock 0.24x, build 2.07x,"
    " publish 0.06x wall at 1.54x the bytes (gzip against xz), export 0.95x"
)


def run(ctx: Context) -> None:
    project = StackProject(
        ctx.work / "numpy-stack",
        frameworks=[Layer("numpy", ["numpy"])],
        apps=[Layer("app", [], frameworks=["numpy"], modules={"app.py": "import numpy\n"})],
    ).write()
    root = project.root
    ctx.measure("lock (first)", project.tool("lock"), cwd=root)
    ctx.measure("build (first)", project.tool("build"), cwd=root)
    python, version = venvstacks_python()
    if python is None:
        ctx.note(f"venvstacks not measured: {version}. {ISSUE_FIGURES}.")
        return
    ctx.note(f"venvstacks {version} from the index, fed the same local runtime. {ISSUE_FIGURES}.")
    ours_root, theirs_root = root, ctx.work / "venvstacks-stack"
    theirs_root.mkdir()
    for name in ("venvstacks.toml", "app.py"):
        shutil.copy2(root / name, theirs_root / name)
    env = {**ctx.env, "BENCH_LOCAL_RUNTIME": str(project.build / RUNTIME)}
    spec = ["venvstacks.toml", "--build-dir", "_build"]

    def theirs(*args: str) -> list[str]:
        return driver_command(python, *args)

    def fresh(folder: Path) -> Callable[[], None]:
        return lambda: shutil.rmtree(folder, ignore_errors=True)

    # Lock: both from scratch, warm uv cache for both.
    ours, base = ctx.alternate(
        [
            Job("pdm-stack lock", project.tool("lock"), fresh(ours_root / "requirements"), ours_root),
            Job("venvstacks lock", theirs("lock", *spec), fresh(theirs_root / "requirements"), theirs_root),
        ],
        env=env,
    )
    ctx.figure("lock", ours, baseline=(f"venvstacks {version} lock", base))
    ours, base = ctx.alternate(
        [
            Job("pdm-stack build --clean", project.tool("build", "--clean"), cwd=ours_root),
            Job("venvstacks build --clean", theirs("build", *spec, "--clean"), cwd=theirs_root),
        ],
        env=env,
    )
    versus = f"venvstacks {version}"
    ctx.figure("cold build", ours, baseline=(f"{versus} build", base), goal=Goal(max_ratio=1.0))

    ours_out, theirs_out = ours_root / "_artifacts", theirs_root / "_artifacts"
    publish_theirs = theirs("publish", *spec, "--output-dir", str(theirs_out), "--force")
    ours, base = ctx.alternate(
        [
            Job("pdm-stack publish", project.tool("publish", "-o", str(ours_out), "--force"),
                fresh(ours_out), ours_root),
            Job("venvstacks publish", publish_theirs, fresh(theirs_out), theirs_root),
        ],
        env=env,
    )  # fmt: skip
    fmt = f"default format, {DEFAULT_FORMAT}"
    ctx.figure(f"publish wall ({fmt})", ours, baseline=(f"{versus} publish (tar.xz)", base),
               goal=Goal(max_ratio=0.3))  # fmt: skip
    ours_mb = sum(p.stat().st_size for p in ours_out.glob("*.tar.*")) / 1e6
    theirs_mb = sum(p.stat().st_size for p in theirs_out.glob("*.tar.*")) / 1e6
    theirs_label = f"{versus} publish (tar.xz)"
    ctx.figure(f"publish size ({fmt})", ours_mb, unit="MB", baseline=(theirs_label, theirs_mb),
               goal=Goal(max_ratio=1.0))  # fmt: skip
    ctx.figure(
        "publish peak RSS",
        max(s.peak_rss_mb for s in ours),
        unit="MB",
        baseline=(f"{versus} publish", max(s.peak_rss_mb for s in base)),
    )

    ours_export, theirs_export = ours_root / "_export", theirs_root / "_export"
    export_theirs = theirs("local-export", *spec, "--output-dir", str(theirs_export))
    ours, base = ctx.alternate(
        [
            Job("pdm-stack export", project.tool("export", "-o", str(ours_export)), fresh(ours_export),
                ours_root),
            Job("venvstacks local-export", export_theirs, fresh(theirs_export), theirs_root),
        ],
        env=env,
    )  # fmt: skip
    ctx.figure("export", ours, baseline=(f"{versus} local-export", base), goal=Goal(max_ratio=0.5))


SCENARIO = Scenario(
    name="numpy-vs-venvstacks",
    title="numpy stack (runtime, numpy framework, one app): pdm-stack against venvstacks",
    run=run,
    order=10,
    smoke=False,
)
