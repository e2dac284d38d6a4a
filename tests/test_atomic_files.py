"""Atomic file replacement: whole files, right permissions, no process-wide umask changes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pdm_stack.atomic_files import atomic_output, replacement, write_atomically, write_if_changed


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_the_umask_default_and_the_umask_is_never_touched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = tmp_path / "reference"
    reference.touch()
    # Setting the umask (even to read it) races with other threads creating files.
    monkeypatch.setattr(os, "umask", lambda mask: pytest.fail("os.umask called"))
    target = tmp_path / "sub" / "new.toml"
    assert write_if_changed(target, "a = 1\n")
    assert target.read_text() == "a = 1\n"
    assert _mode(target) == _mode(reference)
    assert sorted(p.name for p in target.parent.iterdir()) == ["new.toml"]


def test_replacing_keeps_the_old_mode_and_does_not_write_through_hard_links(tmp_path: Path) -> None:
    script = tmp_path / "script"
    script.write_text("old")
    script.chmod(0o750)
    cached = tmp_path / "cached"
    os.link(script, cached)
    write_atomically(script, b"new")
    assert script.read_text() == "new"
    assert _mode(script) == 0o750
    assert cached.read_text() == "old"


def test_explicit_mode_wins(tmp_path: Path) -> None:
    target = tmp_path / "deploy.py"
    target.write_text("x")
    target.chmod(0o600)
    write_atomically(target, "y", mode=0o755)
    assert _mode(target) == 0o755


def test_unchanged_content_is_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "lock"
    write_atomically(target, "same")
    before = target.stat().st_mtime_ns, target.stat().st_ino
    assert not write_if_changed(target, b"same")
    assert (target.stat().st_mtime_ns, target.stat().st_ino) == before
    assert write_if_changed(target, "other")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as stream:
        stream.write(b"half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_replacement_can_be_filled_by_name(tmp_path: Path) -> None:
    target = tmp_path / "lib.so"
    target.write_bytes(b"v1")
    target.chmod(0o644)
    with replacement(target, mode=0o555) as temp:
        assert temp.parent == tmp_path and temp.name.startswith(".lib.so.")
        temp.write_bytes(b"v2")
    assert target.read_bytes() == b"v2"
    assert _mode(target) == 0o555
