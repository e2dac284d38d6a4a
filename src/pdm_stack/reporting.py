"""How the core tells the user what it is doing, independent of any front end.

The core only depends on the small :class:`Reporter` protocol. The PDM plugin adapts PDM's UI
(colours, spinners, ``-v`` levels); everything else uses :class:`PlainReporter`, which writes plain
lines that read well in CI logs.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator


class Reporter(Protocol):
    """Progress and diagnostics sink used by long-running core operations."""

    verbosity: int

    def info(self, message: str) -> None:
        """Something the user should see at the default verbosity."""

    def detail(self, message: str) -> None:
        """Something only shown with ``-v`` (e.g. which runtime source was tried)."""

    def warn(self, message: str) -> None:
        """A problem that does not stop the work."""

    def step(self, title: str) -> AbstractContextManager[None]:
        """A context manager around a long step; implementations may show a spinner."""
        ...


class PlainReporter:
    """Line-oriented reporter for terminals without PDM, CI logs and tests."""

    def __init__(self, verbosity: int = 0, stream: TextIO | None = None) -> None:
        self.verbosity = verbosity
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _write(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def info(self, message: str) -> None:
        self._write(message)

    def detail(self, message: str) -> None:
        if self.verbosity > 0:
            self._write(message)

    def warn(self, message: str) -> None:
        self._write(f"WARNING: {message}")

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        self._write(f"{title} ...")
        yield
        self.detail(f"{title}: done in {time.monotonic() - started:.1f}s")


class NullReporter(PlainReporter):
    """Discards everything; for library callers that want silence."""

    def _write(self, line: str) -> None:
        return None


class ConcurrentReporter:
    """Lets several threads report through one reporter: whole lines, never overlapping spinners.

    Front ends may draw a spinner per step, and a terminal has room for one; work running in
    parallel announces each step as a plain line instead.
    """

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.verbosity = inner.verbosity
        self._lock = threading.Lock()

    def info(self, message: str) -> None:
        with self._lock:
            self.inner.info(message)

    def detail(self, message: str) -> None:
        with self._lock:
            self.inner.detail(message)

    def warn(self, message: str) -> None:
        with self._lock:
            self.inner.warn(message)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.info(f"{title} ...")
        yield
