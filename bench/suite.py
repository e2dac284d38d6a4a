"""The one benchmark command: run the scenarios, write ``bench/results.json`` and the report.

Usage (from the repository root)::

    .venv/bin/python -m bench                 # every scenario; rewrites docs/benchmarks.md
    .venv/bin/python -m bench --only torch    # some scenarios (results of the others are kept)
    .venv/bin/python -m bench --smoke         # a tiny, untimed pass proving every script works
    .venv/bin/python -m bench --report-only   # regenerate docs/benchmarks.md from results.json

Work happens in a temporary folder (``--keep`` keeps it). A scenario that fails is reported as
failed and the others still run; the command then exits non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.core import Context, discover
from bench.machine import describe_machine
from bench.report import write_report

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
REPORT = ROOT / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="scenario name (repeatable)")
    parser.add_argument("--runs", type=int, default=3, help="runs per timed figure (median)")
    parser.add_argument("--smoke", action="store_true", help="tiny inputs, one run, no report")
    parser.add_argument("--results", type=Path, default=RESULTS, help="results JSON to write")
    parser.add_argument("--report", type=Path, default=REPORT, help="markdown report to write")
    parser.add_argument("--report-only", action="store_true", help="only regenerate the report")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="combine results files of separate runs (the first gives the machine)",
    )
    options = parser.parse_args(argv)

    scenarios = discover()
    if options.list:
        for scenario in scenarios:
            print(f"{scenario.name:20} {scenario.title}")
        return 0
    if options.merge:
        merged = _merge([json.loads(path.read_text()) for path in options.merge])
        options.results.write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
        write_report(merged, options.report)
        print(f"wrote {options.results} and {options.report}")
        return 0
    if options.report_only:
        write_report(json.loads(options.results.read_text()), options.report)
        print(f"wrote {options.report}")
        return 0
    unknown = set(options.only) - {s.name for s in scenarios}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    selected = [
        s
        for s in scenarios
        if (not options.only or s.name in options.only) and (s.smoke or not options.smoke)
    ]
    runs = 1 if options.smoke else max(1, options.runs)
    results = _previous(options.results) if options.only and not options.smoke else {}
    results["machine"] = describe_machine()
    results["started"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["runs"] = runs
    results.setdefault("scenarios", {})
    failed = []
    results["not_run"] = [s.name for s in selected]
    work = Path(tempfile.mkdtemp(prefix="pdm-stack-bench-"))
    cache: dict[str, Any] = {}
    env = {**os.environ, "PDM_CHECK_UPDATE": "false"}
    started = time.perf_counter()
    try:
        for scenario in selected:
            print(f"== {scenario.name}: {scenario.title}", flush=True)
            folder = work / scenario.name
            folder.mkdir()
            begun = time.perf_counter()
            entry: dict[str, Any] = {"title": scenario.title}

            def checkpoint(ctx: Context, entry: dict[str, Any] = entry, begun: float = begun) -> None:
                partial = dict(entry, partial=True, seconds=round(time.perf_counter() - begun, 1))
                results["scenarios"][ctx.scenario] = dict(partial, **ctx.as_dict())
                _write(results, options, time.perf_counter() - started)

            ctx = Context(
                scenario.name, folder, runs, options.smoke, dict(env), cache=cache, checkpoint=checkpoint
            )
            try:
                scenario.run(ctx)
            except Exception as exc:  # a failed scenario must not lose the others' figures
                failed.append(scenario.name)
                entry["error"] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            entry.update(ctx.as_dict(), seconds=round(time.perf_counter() - begun, 1))
            results["scenarios"][scenario.name] = entry
            results["not_run"].remove(scenario.name)
            # Written after every scenario: a long run that is stopped keeps what it measured.
            _write(results, options, time.perf_counter() - started)
    finally:
        if options.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    _write(results, options, time.perf_counter() - started)
    print(f"wrote {options.results} ({results['seconds']:.0f} s)")
    if not options.smoke:
        print(f"wrote {options.report}")
    if failed:
        print(f"failed scenario(s): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _write(results: dict[str, Any], options: argparse.Namespace, seconds: float) -> None:
    results["seconds"] = round(seconds, 1)
    results["machine"]["load_average_end"] = _load()
    options.results.parent.mkdir(parents=True, exist_ok=True)
    options.results.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    if not options.smoke:
        write_report(results, options.report)


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Scenarios of several runs in one document; each run's start, length and load are kept."""
    merged = dict(runs[0], scenarios={}, not_run=[], parts=[])
    for run in runs:
        merged["scenarios"].update(run.get("scenarios", {}))
        merged["not_run"] += run.get("not_run", [])
        machine = run.get("machine", {})
        merged["parts"].append(
            {
                "scenarios": list(run.get("scenarios", {})),
                "started": run.get("started"),
                "seconds": run.get("seconds"),
                "load_average": [machine.get("load_average_start"), machine.get("load_average_end")],
            }
        )
    merged["not_run"] = sorted({name for name in merged["not_run"] if name not in merged["scenarios"]})
    merged["seconds"] = sum(part["seconds"] or 0 for part in merged["parts"])
    return merged


def _previous(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
