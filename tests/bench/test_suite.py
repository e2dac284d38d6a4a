"""The benchmark suite's machinery and a smoke pass of a real scenario (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from bench.core import Context, Goal, Scenario
from bench.measure import StepFailed, disk_usage, run_measured
from bench.report import render

from bench import core, suite

if TYPE_CHECKING:
    from pathlib import Path

ROOT = suite.ROOT


def test_every_scenario_module_registers_itself() -> None:
    names = [s.name for s in core.discover()]
    assert {"example-project", "numpy-vs-venvstacks", "wide-stack", "torch"} <= set(names)
    assert names.index("numpy-vs-venvstacks") < names.index("example-project") < names.index("torch")


def test_peak_rss_covers_the_whole_pipeline_and_failures_raise() -> None:
    hog = f"{sys.executable} -c 'x = bytearray(120_000_000); x[::4096] = b\"1\" * len(x[::4096])'"
    sample = run_measured(f"echo start | cat && {hog} | cat")
    assert sample.peak_rss_mb > 120
    assert run_measured([sys.executable, "-c", "pass"]).peak_rss_mb < 100
    with pytest.raises(StepFailed, match="exit 3"):
        run_measured([sys.executable, "-c", "print('why'); raise SystemExit(3)"])


def test_disk_usage_counts_hard_links_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    alone = disk_usage(tmp_path)
    (tmp_path / "b").hardlink_to(tmp_path / "a")
    assert disk_usage(tmp_path) == alone
    (tmp_path / "c").write_bytes(b"x" * 100_000)
    assert disk_usage(tmp_path) > alone


def _fake_run(ctx: Context) -> None:
    fast = ctx.repeat("python -c pass", [sys.executable, "-c", "pass"])
    slow = ctx.repeat("python -c sleep", [sys.executable, "-c", "import time; time.sleep(0.2)"])
    ctx.figure("start", fast, baseline=("sleepy start", slow), goal=Goal(max_ratio=1.0))
    ctx.figure("size", 30.0, unit="MB", baseline=("their size", 20.0), goal=Goal(max_ratio=1.0))
    ctx.note("a note for the report")


def test_one_command_writes_results_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suite, "discover", lambda: [Scenario("fake", "A fake scenario", _fake_run)])
    results, report = tmp_path / "results.json", tmp_path / "benchmarks.md"
    assert suite.main(["--runs", "2", "--results", str(results), "--report", str(report)]) == 0

    data = json.loads(results.read_text())
    figures = {f["name"]: f for f in data["scenarios"]["fake"]["figures"]}
    assert len(figures["start"]["samples"]) == 2 and figures["start"]["goal_met"] is True
    assert figures["start"]["ratio"] < 1 and figures["start"]["peak_rss_mb"] > 1
    assert figures["size"]["ratio"] == 1.5 and figures["size"]["goal_met"] is False
    assert {s["label"] for s in data["scenarios"]["fake"]["steps"]} == {"python -c pass", "python -c sleep"}
    assert data["machine"]["cores"] and data["machine"]["versions"]["uv"]
    text = report.read_text()
    assert "1 of 2 goals met" in text and "**missed**" in text and "a note for the report" in text
    assert text == render(data)  # --report-only regenerates the very same table
    assert suite.main(["--report-only", "--results", str(results), "--report", str(report)]) == 0
    assert report.read_text() == text


def test_a_failing_scenario_is_recorded_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: Context) -> None:
        ctx.measure("fails", [sys.executable, "-c", "raise SystemExit(1)"])

    scenarios = [Scenario("broken", "Breaks", broken, order=1), Scenario("fake", "Works", _fake_run, order=2)]
    monkeypatch.setattr(suite, "discover", lambda: scenarios)
    results = tmp_path / "results.json"
    assert suite.main(["--runs", "1", "--results", str(results), "--report", str(tmp_path / "b.md")]) == 1
    data = json.loads(results.read_text())
    assert "StepFailed" in data["scenarios"]["broken"]["error"]
    assert data["scenarios"]["fake"]["figures"]
    assert "This scenario failed" in (tmp_path / "b.md").read_text()


@pytest.mark.slow
def test_smoke_pass_of_a_real_scenario(tmp_path: Path) -> None:
    """``python -m bench --smoke`` locks, builds and publishes a tiny stack, and measures start-up."""
    results = tmp_path / "results.json"
    command = [
        sys.executable,
        "-m",
        "bench",
        "--smoke",
        "--only",
        "example-project",
        "--results",
        str(results),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = {
        f["name"]: f for f in json.loads(results.read_text())["scenarios"]["example-project"]["figures"]
    }
    assert (
        figures["publish tar.gz size"]["value"] > 0 and figures["publish tar.gz size"]["baseline_value"] > 0
    )
    assert figures["app start-up (import idna, six)"]["ratio"] is not None
