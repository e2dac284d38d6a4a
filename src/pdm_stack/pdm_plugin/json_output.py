"""``--json``: one JSON document on stdout per command, everything human on stderr.

Commands build their document with :mod:`pdm_stack.command_json` and hand it to the
:class:`JsonOutput` that :func:`json_output` yields; this module owns where it goes. While the
command runs, anything printed to stdout (PDM's own messages included) is sent to stderr, so stdout
holds exactly one parseable document, also when the command fails or is interrupted.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager, redirect_stdout
from typing import TYPE_CHECKING, Any, TextIO

from pdm.cli.options import Option

from pdm_stack.errors import StackError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator, Mapping, Sequence

json_option = Option(
    "--json",
    action="store_true",
    help="Print one JSON document describing what was done on stdout (schema: docs/json-output.md);"
    " progress and messages go to stderr",
)


class JsonOutput:
    """The document of one command; stays ``None`` (and prints nothing) without ``--json``."""

    def __init__(self, command: str, enabled: bool) -> None:
        self.command = command
        self.enabled = enabled
        self.document: dict[str, Any] | None = None

    def layers(self, layers: Sequence[Mapping[str, Any]], **fields: Any) -> None:
        """Record the per-layer results (call it before raising for failed layers, too)."""
        # Imported when used, as in every command module: PDM imports this one on every run.
        from pdm_stack.command_json import command_document

        self.document = command_document(self.command, layers, **fields)


def _emit(stream: TextIO, document: Mapping[str, Any]) -> None:
    stream.write(json.dumps(document, indent=2) + "\n")
    stream.flush()


def _failure(output: JsonOutput, error: BaseException, exit_code: int) -> dict[str, Any]:
    """The error document, keeping the per-layer results when the command got that far."""
    from pdm_stack.command_json import error_document

    failed = error_document(output.command, error, exit_code=exit_code)
    if output.document is None:
        return failed
    return {**output.document, "ok": False, "exit_code": exit_code, "error": failed["error"]}


def _cause(error: BaseException) -> BaseException:
    """The core's error behind PDM's usage error: it has the unescaped text and the locators."""
    return error.__cause__ if isinstance(error.__cause__, StackError) else error


@contextmanager
def json_output(options: argparse.Namespace, command: str) -> Iterator[JsonOutput]:
    output = JsonOutput(command, bool(getattr(options, "json", False)))
    if not output.enabled:
        yield output
        return
    from pdm_stack.command_json import EXIT_FAILED

    stdout = sys.stdout
    try:
        with redirect_stdout(sys.stderr):
            yield output
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_FAILED
        if code:
            reason = "interrupted" if code == 130 else f"stopped with exit code {code}"
            _emit(stdout, _failure(output, StackError(reason), code))
        elif output.document is not None:
            _emit(stdout, output.document)
        raise
    except Exception as exc:
        _emit(stdout, _failure(output, _cause(exc), EXIT_FAILED))
        raise
    if output.document is not None:
        _emit(stdout, output.document)
