"""What a scenario is and how it records figures; the registry of scenario modules.

A scenario is a module in ``bench/scenarios/`` with a module-level ``SCENARIO``::

    from bench.core import Context, Goal, Scenario

    def run(ctx: Context) -> None:
        ours = ctx.repeat("publish", ["pdm-stack", "publish", ...], cwd=project)
        base = ctx.repeat("tar | xz -T0", "tar cf - _build | xz -T0 > out.tar.xz", cwd=project)
        ctx.figure("publish wall", ours, baseline=("tar | xz -T0", base), goal=Goal(max_ratio=0.3))

    SCENARIO = Scenario(name="my-case", title="What it measures", run=run, order=50)

Dropping the file in is all the registration there is (``discover`` imports every module of the
package). Figures are either timings (medians of ``Context.runs`` samples, each with its peak RSS)
or plain quantities (bytes, MB); each may carry the baseline measured in the same run, and a goal
that is then judged met or missed in the report.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bench.measure import Sample, median, run_measured

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path


@dataclass(frozen=True)
class Goal:
    """What a figure must reach: a ratio to its baseline and/or an absolute value (its unit)."""

    max_ratio: float | None = None
    max_value: float | None = None

    def describe(self, unit: str) -> str:
        parts = []
        if self.max_ratio is not None:
            parts.append(f"≤ {self.max_ratio:g}x")
        if self.max_value is not None:
            parts.append(f"≤ {self.max_value:g} {unit}")
        return " and ".join(parts)

    def met(self, value: float, ratio: float | None) -> bool:
        if self.max_value is not None and not value <= self.max_value:
            return False
        return not (self.max_ratio is not None and (ratio is None or not ratio <= self.max_ratio))


@dataclass
class Figure:
    """One reported number, its same-run baseline and whether it reaches its goal."""

    scenario: str
    name: str
    unit: str
    value: float
    samples: list[float] = field(default_factory=list)
    peak_rss_mb: float | None = None
    baseline_name: str | None = None
    baseline_value: float | None = None
    baseline_samples: list[float] = field(default_factory=list)
    baseline_peak_rss_mb: float | None = None
    ratio: float | None = None
    goal: str | None = None
    goal_met: bool | None = None
    note: str = ""


@dataclass(frozen=True)
class Job:
    """A command to measure, what to do (unmeasured) before each run, and where to run it."""

    label: str
    command: Sequence[str] | str
    before: Callable[[], object] | None = None
    cwd: Path | None = None


@dataclass
class Step:
    """One measured command: every run of every step is listed with its peak RSS."""

    scenario: str
    label: str
    seconds: float
    peak_rss_mb: float


Quantity = float | int | list[Sample]


@dataclass
class Context:
    """Handed to a scenario's ``run``: where to work, how often to repeat, where results go."""

    scenario: str
    work: Path
    runs: int
    smoke: bool
    env: dict[str, str]
    figures: list[Figure] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Shared between scenarios (built runtimes, tool folders): see ``bench.tools``.
    cache: dict[str, Any] = field(default_factory=dict)
    #: Called after every figure, so a long run that is stopped keeps what it measured.
    checkpoint: Callable[[Context], None] | None = None

    def measure(
        self,
        label: str,
        command: Sequence[str] | str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Sample:
        """Run ``command`` once (see ``bench.measure.run_measured``) and log it as a step."""
        sample = run_measured(command, cwd=cwd, env=env if env is not None else self.env)
        self.steps.append(Step(self.scenario, label, sample.seconds, sample.peak_rss_mb))
        print(f"  {label}: {sample.seconds:.2f} s, {sample.peak_rss_mb:.0f} MB peak RSS", flush=True)
        return sample

    def repeat(
        self,
        label: str,
        command: Sequence[str] | str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        before: Callable[[], object] | None = None,
        runs: int | None = None,
    ) -> list[Sample]:
        """``runs`` (default ``self.runs``) measurements; ``before`` runs unmeasured before each."""
        samples = []
        for _ in range(runs or self.runs):
            if before is not None:
                before()
            samples.append(self.measure(label, command, cwd=cwd, env=env))
        return samples

    def alternate(
        self,
        jobs: Sequence[Job | tuple[str, Sequence[str] | str, Callable[[], object] | None]],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        runs: int | None = None,
    ) -> list[list[Sample]]:
        """Interleave several jobs round by round, so background load on a shared machine
        penalises each of them alike; one sample list per job. A job is a :class:`Job` or a
        ``(label, command, before)`` tuple run in ``cwd``."""
        normalised = [job if isinstance(job, Job) else Job(*job, cwd=cwd) for job in jobs]
        results: list[list[Sample]] = [[] for _ in normalised]
        for _ in range(runs or self.runs):
            for index, job in enumerate(normalised):
                if job.before is not None:
                    job.before()
                results[index].append(self.measure(job.label, job.command, cwd=job.cwd, env=env))
        return results

    def figure(
        self,
        name: str,
        value: Quantity,
        *,
        unit: str | None = None,
        baseline: tuple[str, Quantity] | None = None,
        goal: Goal | None = None,
        note: str = "",
    ) -> Figure:
        """Record a figure: ``value`` is a list of samples (seconds) or a number in ``unit``."""
        samples = value if isinstance(value, list) else []
        figure = Figure(
            scenario=self.scenario,
            name=name,
            unit=unit or ("s" if samples else ""),
            value=_value(value),
            samples=[s.seconds for s in samples],
            peak_rss_mb=max((s.peak_rss_mb for s in samples), default=None),
            note=note,
        )
        if baseline is not None:
            base_name, base = baseline
            base_samples = base if isinstance(base, list) else []
            figure.baseline_name = base_name
            figure.baseline_value = _value(base)
            figure.baseline_samples = [s.seconds for s in base_samples]
            figure.baseline_peak_rss_mb = max((s.peak_rss_mb for s in base_samples), default=None)
            if figure.baseline_value:
                figure.ratio = figure.value / figure.baseline_value
        if goal is not None:
            figure.goal = goal.describe(figure.unit)
            figure.goal_met = goal.met(figure.value, figure.ratio)
        self.figures.append(figure)
        if self.checkpoint is not None:
            self.checkpoint(self)
        ratio = f" = {figure.ratio:.2f}x {figure.baseline_name}" if figure.ratio is not None else ""
        verdict = {True: " (goal met)", False: " (goal MISSED)", None: ""}[figure.goal_met]
        print(f"* {name}: {figure.value:.3g} {figure.unit}{ratio}{verdict}", flush=True)
        return figure

    def note(self, text: str) -> None:
        """A sentence the report prints under the scenario (e.g. what could not be measured)."""
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def as_dict(self) -> dict[str, Any]:
        return {
            "figures": [asdict(f) for f in self.figures],
            "steps": [asdict(s) for s in self.steps],
            "notes": self.notes,
        }


def _value(value: Quantity) -> float:
    if isinstance(value, list):
        return median([s.seconds for s in value])
    return float(value)


@dataclass(frozen=True)
class Scenario:
    """A registered scenario: ``run(ctx)`` records figures; lower ``order`` runs first."""

    name: str
    title: str
    run: Callable[[Context], None]
    order: int = 50
    #: Whether ``python -m bench --smoke`` (the test suite's run) includes it.
    smoke: bool = True


def discover() -> list[Scenario]:
    """Every ``SCENARIO`` of the modules in ``bench/scenarios/``, in run order."""
    import bench.scenarios as package

    found = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("_"):
            continue
        imported = importlib.import_module(f"{package.__name__}.{module.name}")
        scenario = getattr(imported, "SCENARIO", None)
        if isinstance(scenario, Scenario):
            found.append(scenario)
    return sorted(found, key=lambda s: (s.order, s.name))
