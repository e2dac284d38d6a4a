"""C3 linearisation, the algorithm behind Python's method resolution order.

Frameworks form a DAG; a layer's ``sys.path`` must list every framework below it exactly once,
each before the frameworks it builds on, and respect the order the layer declared them in.
C3 gives exactly that order, or proves none exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


class C3Conflict(ValueError):
    """No order satisfies every sequence; ``sequences`` are the ones left unmerged."""

    def __init__(self, sequences: list[list[str]]) -> None:
        self.sequences = sequences
        shown = ", ".join("[" + ", ".join(s) + "]" for s in sequences)
        super().__init__(f"no consistent order for the sequences {shown}")


def c3_merge(sequences: Sequence[Sequence[str]]) -> list[str]:
    """Merge sequences so each keeps its relative order; raises :class:`C3Conflict`."""
    pending = [list(s) for s in sequences if s]
    result: list[str] = []
    while pending:
        for sequence in pending:
            head = sequence[0]
            if not any(head in other[1:] for other in pending):
                break
        else:
            raise C3Conflict(pending)
        result.append(head)
        pending = [[item for item in s if item != head] for s in pending]
        pending = [s for s in pending if s]
    return result
