"""Figures every stack scenario measures the same way, each against its same-run baseline.

Baselines:

- lock: ``uv pip compile`` of every requirement of the stack together, same cache state;
- build: ``python -m venv`` on the built runtime plus ``uv pip install`` of the same locked set;
- publish: ``tar | gzip``, ``tar | xz -T0`` and ``tar | zstd -T0`` of the same layer folders;
- export: ``cp -al`` of the layer folders plus ``python -m compileall -j0``;
- deploy: ``tar -x`` of the published archives plus ``python -m compileall -j0``;
- start-up: the same imports in a plain venv (bytecode compiled) on the same runtime.
"""

from __future__ import annotations

import functools
import shlex
import shutil
from typing import TYPE_CHECKING

from bench.core import Context, Goal
from bench.measure import Sample, median
from bench.tools import PY_SHORT, RUNTIME, UV, StackProject, compileall_command, plain_venv_command

if TYPE_CHECKING:
    from pathlib import Path

#: Our format name -> (the baseline's compressor command, the tar option that unpacks it).
BASELINE_COMPRESSORS = {
    "tar.gz": ("gzip", "-z"),
    "tar.xz": ("xz -T0", "-J"),
    "tar.zst": ("zstd -q -T0", "--zstd"),
}
FORMATS = tuple(BASELINE_COMPRESSORS)
DEFAULT_FORMAT = "tar.xz"


def _rm(*paths: Path) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def lock(ctx: Context, project: StackProject) -> None:
    """Cold lock (empty uv cache), then no-op lock; baseline ``uv pip compile`` alike."""
    root = project.root
    (root / "all.in").write_text("".join(f"{r}\n" for r in project.all_requirements()))
    cache = ctx.work / "uv-cache-cold"
    baseline = [UV, "pip", "compile", "all.in", "--format", "pylock.toml", "--generate-hashes"]
    baseline += ["--only-binary", ":all:", "--no-python-downloads", "--quiet", "--python-version"]
    baseline += [PY_SHORT, "-o", "pylock.baseline.toml"]
    if project.find_links:
        baseline += [arg for link in project.find_links for arg in ("--find-links", link)]
    cold_env = {**ctx.env, "UV_CACHE_DIR": str(cache)}

    def cold() -> None:
        _rm(cache, root / "requirements")

    ours, base = ctx.alternate(
        [
            ("lock, cold (empty uv cache)", project.tool("lock"), cold),
            ("uv pip compile, cold (empty uv cache)", baseline, lambda: _rm(cache)),
        ],
        cwd=root,
        env=cold_env,
    )
    ctx.figure("cold lock", ours, baseline=("uv pip compile, cold", base))
    _rm(cache)
    noop, base = ctx.alternate(
        [("lock, no-op", project.tool("lock"), None), ("uv pip compile, warm", baseline, None)], cwd=root
    )
    ctx.figure("no-op lock", noop, baseline=("uv pip compile, warm", base))


def build(ctx: Context, project: StackProject, *, goal: Goal | None = None) -> list[Sample]:
    """Cold build (every layer, runtime included) against the plain ``uv pip install`` floor."""
    root = project.root
    ctx.measure("build (first, unmeasured warm-up of uv's cache)", project.tool("build"), cwd=root)
    runtime = project.build / RUNTIME
    floor_venv = ctx.work / "floor-venv"
    floor = plain_venv_command(runtime, floor_venv, project.pins(), find_links=project.find_links)
    ours, base = ctx.alternate(
        [
            ("build --clean (cold)", project.tool("build", "--clean"), None),
            ("python -m venv + uv pip install", floor, None),
        ],
        cwd=root,
    )
    _rm(floor_venv)
    ctx.figure(
        "cold build",
        ours,
        baseline=("venv + uv pip install", base),
        goal=goal,
        note="the build includes the runtime layer; the floor reuses it",
    )
    noop = ctx.repeat("build, no-op", project.tool("build"), cwd=root)
    ctx.figure("no-op build", noop)
    return ours


def rebuild_one_app(ctx: Context, project: StackProject, app_module: Path) -> None:
    """Build after one application's code changed (only that layer rebuilds)."""
    counter = iter(range(1_000_000))

    def touch() -> None:
        app_module.write_text(app_module.read_text() + f"# change {next(counter)}\n")

    changed = ctx.repeat("build after one app changed", project.tool("build"), cwd=project.root, before=touch)
    ctx.figure("build after one app changed", changed)


def tar_members(project: StackProject, layers: list[Path]) -> str:
    names = " ".join(shlex.quote(p.name) for p in layers)
    return (
        f"tar -C {shlex.quote(str(project.build))} --exclude=__pycache__ --exclude='*.pyc'"
        f" --sort=name --owner=0 --group=0 --numeric-owner -cf - {names}"
    )


def publish(
    ctx: Context,
    project: StackProject,
    *,
    include: list[str] | None = None,
    formats: tuple[str, ...] = FORMATS,
    label: str = "",
    runs: int | None = None,
    rss_limit_mb: float | None = None,
) -> dict[str, tuple[list[Sample], int]]:
    """Publish in every format (wall, bytes, peak RSS) against ``tar | <compressor>``."""
    root = project.root
    selection = [arg for glob in include or [] for arg in ("--include", glob)]
    layers = [p for p in project.layer_dirs() if not include or any(_match(p.name, g) for g in include)]
    results = {}
    for fmt in formats:
        out = ctx.work / f"publish-{fmt}"
        compressor = BASELINE_COMPRESSORS[fmt][0]
        base_out = ctx.work / f"baseline.{fmt}"
        command = project.tool("publish", "-o", str(out), "--format", fmt, "--force", *selection)
        baseline = f"{tar_members(project, layers)} | {compressor} > {shlex.quote(str(base_out))}"
        ours, base = ctx.alternate(
            [
                (f"publish {label}{fmt}", command, functools.partial(_rm, out)),
                (f"tar | {compressor.split()[0]} {label}".strip(), baseline, None),
            ],
            cwd=root,
            runs=runs,
        )
        size = sum(p.stat().st_size for p in out.glob(f"*.{fmt}"))
        base_size = base_out.stat().st_size
        name = f"publish {label}{fmt}"
        ctx.figure(f"{name} wall", ours, baseline=(f"tar | {compressor}", base))
        ctx.figure(f"{name} size", size / 1e6, unit="MB", baseline=(f"tar | {compressor}", base_size / 1e6))
        if rss_limit_mb is not None:
            rss = max(s.peak_rss_mb for s in ours)
            ctx.figure(f"{name} peak RSS", rss, unit="MB", goal=Goal(max_value=rss_limit_mb))
        results[fmt] = (ours, size)
        base_out.unlink(missing_ok=True)
    return results


def _match(name: str, glob: str) -> bool:
    from fnmatch import fnmatchcase

    return fnmatchcase(name, glob)


def export(ctx: Context, project: StackProject, *, goal: Goal | None = None) -> list[Sample]:
    """``export`` (copies + post-install) against ``cp -al`` + parallel compileall."""
    root = project.root
    dest = ctx.work / "export"
    floor_dest = ctx.work / "export-floor"
    layers = " ".join(shlex.quote(str(p)) for p in project.layer_dirs())
    runtime_python = project.build / RUNTIME / "bin" / "python3"
    floor = (
        f"mkdir -p {shlex.quote(str(floor_dest))} && cp -al {layers} {shlex.quote(str(floor_dest))}"
        f" && {compileall_command(runtime_python, floor_dest, force=True)}"
    )
    ours, base = ctx.alternate(
        [
            ("export", project.tool("export", "-o", str(dest)), lambda: _rm(dest)),
            ("cp -al + compileall -j0", floor, lambda: _rm(floor_dest)),
        ],
        cwd=root,
    )
    _rm(floor_dest)
    ctx.figure("export", ours, baseline=("cp -al + compileall -j0", base), goal=goal)
    return ours


def deploy(
    ctx: Context,
    project: StackProject,
    artifacts: Path,
    fmt: str,
    *,
    goal: Goal | None = None,
    runs: int | None = None,
) -> Path:
    """``deploy`` of the published archives against ``tar -x`` + parallel compileall."""
    target = ctx.work / "deployed"
    floor_target = ctx.work / "deploy-floor"
    unpack = " && ".join(
        f"tar -C {shlex.quote(str(floor_target))} {BASELINE_COMPRESSORS[fmt][1]} -xf {shlex.quote(str(a))}"
        for a in sorted(artifacts.glob(f"*.{fmt}"))
    )
    runtime_python = floor_target / RUNTIME / "bin" / "python3"
    floor = (
        f"mkdir -p {shlex.quote(str(floor_target))} && {unpack}"
        f" && {compileall_command(runtime_python, floor_target)}"
    )
    ours, base = ctx.alternate(
        [
            ("deploy", project.tool("deploy", str(artifacts), str(target)), lambda: _rm(target)),
            ("tar -x + compileall -j0", floor, lambda: _rm(floor_target)),
        ],
        cwd=project.root,
        runs=runs,
    )
    _rm(floor_target)
    ctx.figure(f"deploy ({fmt})", ours, baseline=("tar -x + compileall -j0", base), goal=goal)
    return target


def startup(
    ctx: Context,
    app_python: Path,
    plain_python: Path,
    code: str,
    *,
    starts: int,
    wall_goal: Goal | None = None,
    rss_goal: Goal | None = None,
    label: str = "app",
) -> None:
    """``python -c CODE`` in an app layer against a plain venv, interleaved ``starts`` times."""
    jobs = [
        (f"{label} layer: {code}", [str(app_python), "-c", code], None),
        (f"plain venv: {code}", [str(plain_python), "-c", code], None),
    ]
    for job_label, command, _ in jobs:  # warm the page cache (and any bytecode cache) first
        ctx.measure(f"{job_label} (warm-up)", command)
    ours, base = ctx.alternate(jobs, runs=starts)
    ctx.figure(f"{label} start-up ({code})", ours, baseline=("plain venv", base), goal=wall_goal)
    ctx.figure(
        f"{label} start-up peak RSS",
        median([s.peak_rss_mb for s in ours]),
        unit="MB",
        baseline=("plain venv", median([s.peak_rss_mb for s in base])),
        goal=rss_goal,
    )
