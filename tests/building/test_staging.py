"""Atomic layer swaps and the per-build-dir lock."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from pdm_stack.building.layer_config import CONFIG_PATH
from pdm_stack.building.staging import (
    build_lock,
    clean_stale_staging,
    recover,
    remove_layer_folder,
    staged_layer,
    state_dir,
)
from pdm_stack.errors import StackError
from pdm_stack.reporting import PlainReporter


def built_layer(folder: Path) -> Path:
    """A folder as a build leaves it: with its layer config."""
    (folder / CONFIG_PATH).parent.mkdir(parents=True)
    (folder / CONFIG_PATH).write_text("{}")
    return folder


def test_success_replaces_the_old_layer(tmp_path: Path) -> None:
    dest = built_layer(tmp_path / "layer")
    (dest / "old").write_text("old")
    with staged_layer(dest) as staging:
        # Staged at the same depth as the final folder, so relative paths stay valid.
        assert staging.parent == dest.parent
        assert staging.name.startswith(".layer.staging-")
        staging.mkdir()
        (staging / "new").write_text("new")
        (staging / "link").symlink_to("../other/file")
        (staging / ".lock").write_text("")  # what uv leaves in an environment it installed into
        (staging / ".lock").chmod(0o666)
    assert sorted(p.name for p in dest.iterdir()) == ["link", "new"]
    assert (dest / "link").readlink() == Path("../other/file")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pdm-stack", "layer"]


def test_a_folder_no_build_made_is_never_replaced(tmp_path: Path) -> None:
    """``build_dir = "requirements"`` once replaced the lock folders by layers."""
    dest = tmp_path / "framework-numpy"
    dest.mkdir()
    (dest / "pylock.framework-numpy.toml").write_text("lock")
    refused = pytest.raises(StackError, match="not a layer pdm-stack built")
    with refused as caught, staged_layer(dest) as staging:
        staging.mkdir()
    assert str(dest) in str(caught.value)
    assert [p.name for p in dest.iterdir()] == ["pylock.framework-numpy.toml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["framework-numpy"]


def test_failure_keeps_the_old_layer_and_cleans_up(tmp_path: Path) -> None:
    dest = built_layer(tmp_path / "layer")
    (dest / "old").write_text("old")
    with pytest.raises(KeyboardInterrupt), staged_layer(dest) as staging:
        staging.mkdir()
        (staging / "half").write_text("half")
        raise KeyboardInterrupt
    assert sorted(p.name for p in dest.iterdir()) == ["old", "share"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer"]


def test_stale_staging_folders_are_removed_but_nothing_else(tmp_path: Path) -> None:
    (tmp_path / ".app-x.staging-1234" / "bin").mkdir(parents=True)
    (tmp_path / "app-x").mkdir()
    (tmp_path / ".hidden").mkdir()
    clean_stale_staging(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "app-x"]


def test_remove_layer_folder_stays_inside_the_build_dir(tmp_path: Path) -> None:
    built_layer(tmp_path / "app-x@1")
    (tmp_path / "requirements").mkdir()
    (tmp_path / ".pdm-stack").mkdir()
    assert not remove_layer_folder(tmp_path, "requirements")
    assert not remove_layer_folder(tmp_path, "../elsewhere")
    assert not remove_layer_folder(tmp_path, ".pdm-stack")
    assert remove_layer_folder(tmp_path, "app-x@1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pdm-stack", "requirements"]


def test_recover_restores_a_layer_parked_by_an_interrupted_swap(tmp_path: Path) -> None:
    parked = state_dir(tmp_path) / "previous" / "layer"
    parked.mkdir(parents=True)
    (parked / "old").write_text("old")
    recover(tmp_path / "layer")
    assert (tmp_path / "layer" / "old").read_text() == "old"


def test_second_build_waits_then_gives_up_with_a_clear_message(tmp_path: Path) -> None:
    output = io.StringIO()
    with (
        build_lock(tmp_path, PlainReporter(stream=output)),
        pytest.raises(StackError, match="gave up waiting for the other build"),
        build_lock(tmp_path, PlainReporter(stream=output), timeout=0.2),
    ):
        pass
    assert "Another build of this stack is running" in output.getvalue()
    with build_lock(tmp_path, PlainReporter(stream=output), timeout=0.2):
        pass


def test_the_build_lock_file_is_writable_by_its_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        with build_lock(tmp_path, PlainReporter(stream=io.StringIO())):
            pass
    finally:
        os.umask(previous)
    assert stat.S_IMODE((state_dir(tmp_path) / "build.lock").stat().st_mode) == 0o644
