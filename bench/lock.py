"""Benchmark: locking example-project cold, warm and as a no-op, against plain ``uv pip compile``.

Usage: ``python bench/lock.py [--runs N] [--project DIR]``. Runs the real ``pdm-stack lock`` in a
subprocess on a copy of the project (PDM start-up included, as users see it) and reports medians.

- baseline: one ``uv pip compile`` of every layer's requirements together, for the host platform
  only, with a warm cache: what a single-environment project would pay;
- cold: no lock files and an empty uv cache (every index page fetched);
- warm: no lock files, warm uv cache (uv runs once per layer and target platform);
- no-op: everything already locked (nothing is resolved or written).
Ratios are against the baseline, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from uv import find_uv_bin

ROOT = Path(__file__).resolve().parents[1]


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--project", type=Path, default=ROOT / "example-project")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pdm-stack-bench-") as tmp:
        work = Path(tmp) / "project"
        shutil.copytree(
            options.project, work, ignore=shutil.ignore_patterns("_build", "_artifacts", "_export")
        )
        spec = work / "pyproject.toml"
        layers = tomllib.loads(spec.read_text())["tool"]["venvstacks"]
        requirements = sorted(
            {r for kind in layers.values() for layer in kind for r in layer["requirements"]}
        )
        (work / "all.in").write_text("".join(f"{r}\n" for r in requirements))
        env = {**os.environ, "PDM_CHECK_UPDATE": "false"}
        lock = [sys.executable, "-m", "pdm_stack", "lock", "--spec", str(spec)]
        baseline_cmd = [
            os.fsdecode(find_uv_bin()), "pip", "compile", "all.in", "--format", "pylock.toml",
            "--generate-hashes", "--only-binary", ":all:", "--no-python-downloads", "--quiet",
            "--python-version", "3.11", "-o", "pylock.baseline.toml",
        ]  # fmt: skip

        def fresh() -> None:
            shutil.rmtree(work / "requirements", ignore_errors=True)

        results: dict[str, list[float]] = {"baseline": [], "cold": [], "warm": [], "no-op": []}
        timed(baseline_cmd, env, work)  # warm the cache for the baseline
        for _ in range(options.runs):
            results["baseline"].append(timed(baseline_cmd, env, work))
            fresh()
            with tempfile.TemporaryDirectory(prefix="uv-cache-") as cache:
                results["cold"].append(timed(lock, {**env, "UV_CACHE_DIR": cache}, work))
            fresh()
            results["warm"].append(timed(lock, env, work))
            results["no-op"].append(timed(lock, env, work))

    base = statistics.median(results["baseline"])
    print(f"example-project lock, median of {options.runs} run(s); ratio = time / baseline")
    print(f"{'case':<10}{'seconds':>10}{'ratio':>8}")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:<10}{median:>10.3f}{median / base:>8.2f}")


if __name__ == "__main__":
    main()
