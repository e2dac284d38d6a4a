"""Naming what changed between a lock's recorded inputs and the current ones."""

from __future__ import annotations

from typing import Any

from pdm_stack.lock.input_changes import GENERIC, describe_changes

CORP = ["corp", "https://corp.example/simple", "index", True]
PYPI = ["pypi", "https://pypi.org/simple", "index", True]
RECORDED: dict[str, Any] = {
    "python": "3.11",
    "platforms": ["linux_x86_64", "win_amd64"],
    "glibc": "2.28",
    "macosx": None,
    "lower": [["framework-base", "sha256:aa"], ["rt", "sha256:bb"]],
    "indexes": [
        ["corp", "https://corp.example/simple", "index", True],
        ["pypi", "https://pypi.org/simple", "index", True],
    ],
    "pinned": [],
    "exclude_newer": "2025-06-01",
}


def test_each_changed_input_is_named() -> None:
    current = {
        **RECORDED,
        "platforms": ["linux_x86_64", "macosx_arm64"],
        "lower": [["framework-base", "sha256:cc"], ["rt", "sha256:bb"]],
        "indexes": [PYPI],
        "exclude_newer": None,
        "uv": {"prerelease": "allow"},
    }
    assert describe_changes(RECORDED, current) == [
        "platforms changed (added macosx_arm64; removed win_amd64)",
        "lower layer lock changed (framework-base)",
        "indexes changed (removed 'corp')",
        "cutoff changed (2025-06-01 -> none)",
        "uv settings changed (prerelease)",
    ]


def test_index_order_and_urls() -> None:
    swapped = {**RECORDED, "indexes": list(reversed(RECORDED["indexes"]))}
    assert describe_changes(RECORDED, swapped) == ["indexes changed (search order changed)"]
    moved = {
        **RECORDED,
        "indexes": [["corp", "https://new.example/simple", "index", True], RECORDED["indexes"][1]],
    }
    assert describe_changes(RECORDED, moved) == ["indexes changed ('corp' changed)"]


def test_locks_without_a_record_get_the_generic_reason() -> None:
    assert describe_changes(None, RECORDED) == [GENERIC]
