"""The one lock build, publish and export take on their folders."""

from __future__ import annotations

import io
import os
import stat
from typing import TYPE_CHECKING

import pytest

from pdm_stack.errors import StackError
from pdm_stack.folder_lock import folder_lock
from pdm_stack.publish.publish import PublishOptions, publish_layers
from pdm_stack.reporting import PlainReporter
from tests.publish.fake_layers import make_build, publish_layers_of

if TYPE_CHECKING:
    from pathlib import Path


def test_a_second_holder_waits_then_gives_up_naming_the_activity(tmp_path: Path) -> None:
    output = io.StringIO()
    lock = tmp_path / "out" / "x.lock"
    with (
        folder_lock(lock, PlainReporter(stream=output), activity="publish into out"),
        pytest.raises(StackError, match="gave up waiting for the other publish into out after 0s"),
        folder_lock(lock, PlainReporter(stream=output), activity="publish into out", timeout=0.2),
    ):
        pass
    assert f"Another publish into out is running (lock {lock}); waiting" in output.getvalue()


def test_the_lock_file_is_not_writable_by_others_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        with folder_lock(tmp_path / "x.lock", PlainReporter(stream=io.StringIO()), activity="test"):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "x.lock").stat().st_mode) == 0o644


def test_a_folder_that_is_a_file_is_named_in_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "artifacts"
    blocker.write_text("a file")
    layers = publish_layers_of(make_build(tmp_path / "_build"))
    with pytest.raises(StackError) as caught:
        publish_layers(layers, PublishOptions(blocker / "out"), PlainReporter(stream=io.StringIO()))
    assert (
        str(caught.value)
        == f"{blocker}: is a file, not a folder (needed for the publish into {blocker / 'out'})"
    )
    assert blocker.read_text() == "a file"
