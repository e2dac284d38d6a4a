from __future__ import annotations

import pytest

from pdm_stack.graph import C3Conflict, c3_merge


def test_merge_keeps_every_sequence_order() -> None:
    # The classic diamond: D(B, C), B(A), C(A) -> B, C, A
    assert c3_merge([["B", "A"], ["C", "A"], ["B", "C"]]) == ["B", "C", "A"]


def test_merge_reports_the_unmergeable_sequences() -> None:
    with pytest.raises(C3Conflict) as raised:
        c3_merge([["a", "b"], ["b", "a"]])
    assert raised.value.sequences == [["a", "b"], ["b", "a"]]
    assert "[a, b], [b, a]" in str(raised.value)
