"""Benchmark: building a stack and starting its app, against one plain venv on the same runtime.

Usage: ``python bench/build.py [--runs N] [--starts N]``. In a temporary folder it writes a stack of
a runtime, three frameworks (numpy; attrs; idna + six) and an app on all three, locks it, then:

- baseline build: ``python -m venv`` on the built runtime plus ``uv pip install`` of the same locked
  packages into that single venv (what one app without layers would cost, warm uv cache);
- cold build: ``pdm-stack build --clean`` of every layer (runtime included, from the local CPython);
- cold venvs: the same for the four framework and app layers only (the part the baseline does);
- no-op build: ``pdm-stack build`` again (nothing changes; PDM start-up included);
- start-up: ``python -c "import numpy, attrs, idna, six"`` from the app layer against the same from
  the plain venv (median of ``--starts`` runs each, interleaved). The issue's target is within 10 %.

All ratios are against the baseline measured in the same run.
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
from pathlib import Path

from uv import find_uv_bin

STACK = """
[project]
name = "bench-stack"
version = "0"

[tool.pdm-stack]
exclude_newer = "2026-10-01"
local_runtime = "prefer"

[[tool.venvstacks.runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@{python}"
requirements = []
platforms = ["linux_x86_64"]

[[tool.venvstacks.frameworks]]
name = "numpy"
runtime = "cpython-3.11"
requirements = ["numpy"]

[[tool.venvstacks.frameworks]]
name = "attrs"
runtime = "cpython-3.11"
requirements = ["attrs"]

[[tool.venvstacks.frameworks]]
name = "text"
runtime = "cpython-3.11"
requirements = ["idna", "six"]

[[tool.venvstacks.applications]]
name = "app"
frameworks = ["numpy", "attrs", "text"]
launch_module = "app.py"
requirements = []
"""
IMPORTS = "import numpy, attrs, idna, six"


def run(command: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="cold/no-op build repetitions")
    parser.add_argument("--starts", type=int, default=40, help="interpreter starts per variant")
    options = parser.parse_args()
    env = {**os.environ, "PDM_CHECK_UPDATE": "false"}
    uv = os.fsdecode(find_uv_bin())
    python = ".".join(map(str, sys.version_info[:2]))
    with tempfile.TemporaryDirectory(prefix="pdm-stack-bench-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "pyproject.toml").write_text(STACK.format(python=python))
        (root / "app.py").write_text(f"{IMPORTS}\nprint('ok')\n")
        tool = [sys.executable, "-m", "pdm_stack"]
        subprocess.run([*tool, "lock"], cwd=root, env=env, check=True, capture_output=True)
        cold = [run([*tool, "build", "--clean"], cwd=root, env=env) for _ in range(options.runs)]
        envs = ["--include", "framework-*", "--include", "app-*"]
        cold_envs = [run([*tool, "build", "--clean", *envs], cwd=root, env=env) for _ in range(options.runs)]
        noop = [run([*tool, "build"], cwd=root, env=env) for _ in range(options.runs)]

        build = root / "_build"
        runtime_python = build / "cpython-3.11" / "bin" / "python3"
        pins = []
        for folder in sorted((root / "requirements").glob("framework-*")):
            pins += [line for line in (folder / f"packages-{folder.name}.txt").read_text().splitlines()
                     if line and not line.startswith("#")]  # fmt: skip
        plain = Path(tmp) / "plain"
        baseline = []
        for _ in range(options.runs):
            shutil.rmtree(plain, ignore_errors=True)
            start = time.perf_counter()
            subprocess.run([str(runtime_python), "-m", "venv", "--without-pip", str(plain)], check=True)
            subprocess.run(
                [uv, "pip", "install", "--python", str(plain / "bin" / "python"), "--no-deps", *pins],
                check=True, capture_output=True, env=env,
            )  # fmt: skip
            baseline.append(time.perf_counter() - start)

        app_python = build / "app-app" / "bin" / "python"
        starts: dict[str, list[float]] = {"plain venv": [], "app layer": []}
        for _ in range(options.starts):
            for name, interpreter in (("plain venv", plain / "bin" / "python"), ("app layer", app_python)):
                starts[name].append(run([str(interpreter), "-c", IMPORTS]))

    base = statistics.median(baseline)
    print(f"build (median of {options.runs}); ratio = time / baseline")
    rows = (
        ("baseline", baseline),
        ("cold build", cold),
        ("cold venvs", cold_envs),
        ("no-op build", noop),
    )
    for name, values in rows:
        median = statistics.median(values)
        print(f"  {name:<12}{median:>8.3f} s{median / base:>8.2f}")
    plain_start = statistics.median(starts["plain venv"])
    app_start = statistics.median(starts["app layer"])
    print(f"start-up with '{IMPORTS}' (median of {options.starts})")
    print(f"  plain venv  {plain_start * 1000:>8.1f} ms    1.00")
    print(f"  app layer   {app_start * 1000:>8.1f} ms{app_start / plain_start:>8.2f}")


if __name__ == "__main__":
    main()
