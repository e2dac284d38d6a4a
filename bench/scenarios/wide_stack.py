"""A wide stack: one runtime, 8 frameworks in a diamond-rich DAG, 12 apps of small packages.

What matters at this width is the fixed cost per layer: a no-op ``lock`` and ``build`` (nothing
changed: the goal is under a second for the build) and the cost of changing one app's code.
"""

from __future__ import annotations

from bench import steps
from bench.core import Context, Goal, Scenario
from bench.tools import Layer, StackProject

#: name -> (frameworks it sits on, requirements). Diamonds: fw-d over fw-b/fw-c over fw-a, etc.
FRAMEWORKS = {
    "fw-a": ([], ["six"]),
    "fw-b": (["fw-a"], ["idna"]),
    "fw-c": (["fw-a"], ["attrs"]),
    "fw-d": (["fw-b", "fw-c"], ["certifi"]),
    "fw-e": (["fw-a"], ["packaging"]),
    "fw-f": (["fw-d", "fw-e"], ["pyparsing"]),
    "fw-g": (["fw-c", "fw-e"], ["typing-extensions"]),
    "fw-h": (["fw-f", "fw-g"], ["iniconfig"]),
}
APP_REQUIREMENTS = [
    "colorama", "tomli", "click", "markupsafe", "pluggy", "mdurl",
    "wcwidth", "soupsieve", "zipp", "more-itertools", "platformdirs", "sniffio",
]  # fmt: skip


def wide_project(ctx: Context, *, apps: int = 12) -> StackProject:
    frameworks = [Layer(name, reqs, frameworks=on) for name, (on, reqs) in FRAMEWORKS.items()]
    names = list(FRAMEWORKS)
    app_layers = []
    for number, requirement in enumerate(APP_REQUIREMENTS[:apps]):
        on = [names[-1 - number % 4], names[number % 3]]  # two frameworks each, overlapping
        module = f"app{number}.py"
        app_layers.append(
            Layer(f"app{number}", [requirement], frameworks=on, modules={module: "import sys\n"})
        )
    return StackProject(ctx.work / "wide-stack", frameworks, app_layers).write()


def run(ctx: Context) -> None:
    project = wide_project(ctx, apps=2 if ctx.smoke else 12)
    root = project.root
    ctx.figure("first lock (warm uv cache)", [ctx.measure("lock (first)", project.tool("lock"), cwd=root)])
    ctx.figure("first build", [ctx.measure("build (first)", project.tool("build"), cwd=root)])
    noop_lock = ctx.repeat("lock, no-op", project.tool("lock"), cwd=root)
    ctx.figure("no-op lock", noop_lock)
    noop = ctx.repeat("build, no-op", project.tool("build"), cwd=root)
    ctx.figure("no-op build", noop, goal=Goal(max_value=1.0))
    steps.rebuild_one_app(ctx, project, root / "app0.py")


SCENARIO = Scenario(
    name="wide-stack",
    title="1 runtime, 8 frameworks (diamond DAG), 12 apps: no-op lock and build, one app changed",
    run=run,
    order=30,
    smoke=False,
)
