"""Reporters: what the core prints, also from several threads at once."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pdm_stack.reporting import ConcurrentReporter, Reporter

if TYPE_CHECKING:
    from collections.abc import Iterator


class OneSpinnerReporter:
    """Like a terminal UI: one live spinner at a time, and lines that must not interleave."""

    verbosity = 0

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.spinning = 0
        self.errors: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)

    detail = warn = info

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.spinning += 1
        if self.spinning > 1:
            self.errors.append(f"two spinners at once ({title})")
        time.sleep(0.001)
        yield
        self.spinning -= 1


def run_in_threads(reporter: Reporter) -> None:
    def work(number: int) -> None:
        for step in range(20):
            with reporter.step(f"layer-{number}: step {step}"):
                reporter.info(f"layer-{number}: done {step}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_parallel_work_announces_steps_as_lines_instead_of_spinners() -> None:
    terminal = OneSpinnerReporter()
    run_in_threads(ConcurrentReporter(terminal))
    assert terminal.errors == []
    assert len(terminal.lines) == 4 * 20 * 2
    assert sum(line.endswith(" ...") for line in terminal.lines) == 4 * 20


def test_without_it_spinners_would_collide() -> None:
    terminal = OneSpinnerReporter()
    run_in_threads(terminal)
    assert terminal.errors  # the situation ConcurrentReporter exists for
