"""The core's Reporter on Hatch's app display, and Hatch-style errors and interruptions.

Inside ``hatch build`` the builder runs in a subprocess whose display is hatchling's bridge app:
plain lines on stderr, shown or hidden by ``hatch -v`` / ``hatch -q`` (``HATCH_VERBOSE`` /
``HATCH_QUIET``). Errors end the build through the app's ``abort``: one line, the traceback
only with ``-v``.
"""

from __future__ import annotations

import time
import traceback
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from hatchling.bridge.app import Application, SafeApplication

    AppLike = Application | SafeApplication

#: Exit status of a process ended by Ctrl-C, as shells report it.
INTERRUPTED = 130


class HatchReporter:
    """Adapts Hatch's app display to the core's Reporter protocol."""

    def __init__(self, app: AppLike) -> None:
        self.app = app
        self.verbosity = app.verbosity

    def info(self, message: str) -> None:
        self.app.display_info(message)

    def detail(self, message: str) -> None:
        self.app.display_debug(message)

    def warn(self, message: str) -> None:
        self.app.display_warning(f"Warning: {message}")

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        self.app.display_waiting(f"{title} ...")
        yield
        self.app.display_debug(f"{title}: done in {time.monotonic() - started:.1f}s")


@contextmanager
def hatch_errors(app: AppLike, what_is_kept: str) -> Iterator[None]:
    """User errors and Ctrl-C end the build with one line; ``hatch -v`` adds the traceback."""
    try:
        yield
    except StackError as exc:
        if app.verbosity >= 1:
            app.display_error(traceback.format_exc())
            details = getattr(exc, "details", "")
            if details:
                app.display_error(details)
        abort(app, str(exc))
    except KeyboardInterrupt:
        if app.verbosity >= 1:
            app.display_error(traceback.format_exc())
        abort(app, f"Interrupted: {what_is_kept}", code=INTERRUPTED)


def abort(app: AppLike, message: str, code: int = 1) -> NoReturn:
    app.abort(message, code=code)
    raise SystemExit(code)  # abort exits; this only tells type checkers so
