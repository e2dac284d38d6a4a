"""Integrated locking against real uv and real PyPI packages (small, pure-Python wheels)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from pdm_stack.errors import StackError
from pdm_stack.lock import LockError, LockInputs, check_lock, load_layer_lock, lock_layer
from pdm_stack.lock.layer_lock import LockPaths

#: Locks (and installs) real packages from PyPI.
pytestmark = pytest.mark.network

# A fixed cutoff keeps resolutions reproducible whatever PyPI publishes later.
CUTOFF = "2025-06-01T00:00:00Z"
PLATFORMS = ("win_amd64", "linux_x86_64", "macosx_arm64")


def inputs(env_name: str, requirements: tuple[str, ...], **kwargs: object) -> LockInputs:
    options: dict[str, object] = {
        "python_version": "3.12",
        "platforms": PLATFORMS,
        "exclude_newer": CUTOFF,
    }
    options.update(kwargs)
    return LockInputs(env_name, requirements, **options)  # type: ignore[arg-type]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def locked_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A framework locking attrs and an app on top needing attrs and six."""
    root = tmp_path_factory.mktemp("requirements")
    lock_layer(inputs("framework-base", ("attrs",)), root)
    base = load_layer_lock(root, "framework-base")
    lock_layer(inputs("app-demo", ("attrs", "six"), lower=(base,)), root)
    return root


def test_files_are_written_where_the_layer_model_says(locked_stack: Path) -> None:
    paths = LockPaths.of(locked_stack, "app-demo")
    assert paths.pylock == locked_stack / "app-demo" / "pylock.app-demo.toml"
    assert paths.pylock.is_file() and paths.meta.is_file() and paths.summary.is_file()
    assert LockPaths.of(locked_stack, "cpython-3.12").pylock.name == "pylock.cpython-3_12.toml"
    meta = json.loads(paths.meta.read_text())
    assert set(meta) == {
        "lock_input_hash",
        "requirements_hash",
        "other_inputs_hash",
        "other_inputs",
        "version_inputs_hash",
        "lock_version",
        "locked_at",
    }
    assert meta["lock_version"] == 1
    assert meta["locked_at"] == CUTOFF
    assert all(meta[key].startswith("sha256:") for key in ("lock_input_hash", "requirements_hash"))


def test_upper_layer_pins_lower_version_and_leaves_it_out(locked_stack: Path) -> None:
    base = tomllib.loads((locked_stack / "framework-base" / "pylock.framework-base.toml").read_text())
    app = tomllib.loads((locked_stack / "app-demo" / "pylock.app-demo.toml").read_text())
    (attrs,) = [p for p in base["packages"] if p["name"] == "attrs"]
    assert [p["name"] for p in app["packages"]] == ["six"]
    assert app["packages"][0]["wheels"][0]["hashes"]["sha256"]
    inherited = app["tool"]["pdm-stack"]["inherited"]
    assert inherited == [
        {
            "name": "attrs",
            "version": attrs["version"],
            "layer": "framework-base",
            "platforms": list(PLATFORMS),
        }
    ]
    summary = (locked_stack / "app-demo" / "packages-app-demo.txt").read_text()
    assert f"attrs=={attrs['version']}  # from framework-base" in summary


def test_unchanged_relock_touches_nothing(locked_stack: Path) -> None:
    base = load_layer_lock(locked_stack, "framework-base")
    before = snapshot(locked_stack / "app-demo")
    again = inputs("app-demo", ("six", "attrs"), lower=(base,))  # order does not matter
    assert check_lock(again, locked_stack).valid
    skipped = lock_layer(again, locked_stack)
    assert not skipped.resolved and skipped.written == ()
    forced = lock_layer(again, locked_stack, force=True)
    assert forced.resolved and forced.written == ()
    assert snapshot(locked_stack / "app-demo") == before
    assert forced.meta["lock_version"] == 1


def test_changed_requirement_bumps_lock_version(tmp_path: Path) -> None:
    first = lock_layer(inputs("framework-x", ("six",)), tmp_path)
    assert first.meta["lock_version"] == 1
    changed = inputs("framework-x", ("six", "idna"))
    status = check_lock(changed, tmp_path)
    assert not status.valid and "requirements changed" in status.reasons
    second = lock_layer(changed, tmp_path)
    assert second.meta["lock_version"] == 2
    assert {p.name for p in second.lock.packages} == {"six", "idna"}
    # Spelling changes of the same requirement relock, but the same content keeps the version.
    third = lock_layer(inputs("framework-x", ("six", "idna", "IDNA>=0")), tmp_path)
    assert third.resolved and third.meta["lock_version"] == 2


def test_hand_edited_lock_is_stale(tmp_path: Path) -> None:
    spec = inputs("framework-y", ("six",), platforms=("linux_x86_64",))
    result = lock_layer(spec, tmp_path)
    pylock = LockPaths.of(tmp_path, "framework-y").pylock
    pylock.write_text(pylock.read_text().replace(result.lock.packages[0].version, "0.0.1"))
    assert check_lock(spec, tmp_path).reasons == ("pylock.framework-y.toml was edited by hand",)


def test_sdist_only_package_names_package_and_platform(tmp_path: Path) -> None:
    # docopt 0.6.2 has only ever been published as an sdist.
    with pytest.raises(LockError) as info:
        lock_layer(inputs("app-cli", ("docopt",), platforms=("linux_x86_64",)), tmp_path)
    message = str(info.value)
    assert "app-cli" in message and "'docopt'" in message and "linux_x86_64" in message
    assert "no usable wheels" in info.value.details
    assert not (tmp_path / "app-cli").exists()


def test_conflict_with_lower_layer_names_layer_and_pin(tmp_path: Path) -> None:
    lock_layer(inputs("framework-old", ("attrs==22.1.0",), platforms=("linux_x86_64",)), tmp_path)
    base = load_layer_lock(tmp_path, "framework-old")
    app = inputs(
        "app-new", ("attrs>=23",), platforms=("linux_x86_64",), lower=(base,), label="application 'new'"
    )
    with pytest.raises(LockError) as info:
        lock_layer(app, tmp_path)
    message = str(info.value)
    assert message.startswith(
        "application 'new': field 'requirements': requirements conflict on linux_x86_64"
    )
    assert "(from framework-old)" in message
    assert "attrs==22.1.0" in message


def test_version_conflict_is_reported_as_a_conflict_not_a_missing_wheel(tmp_path: Path) -> None:
    # uv's report mentions that requests 2.32.0/2.32.1 have no wheels; the cause is urllib3<1.
    app = inputs("app-web", ("requests>=2.31", "urllib3<1"), platforms=("win_amd64",))
    with pytest.raises(LockError) as info:
        lock_layer(app, tmp_path)
    message = str(info.value)
    assert "requirements conflict on win_amd64" in message
    assert "requests and urllib3" in message
    assert "the layer requires requests>=2.31 and urllib3<1" in message
    assert "no wheel" not in message


def test_platform_specific_packages_get_markers(tmp_path: Path) -> None:
    result = lock_layer(inputs("framework-cli", ("click",)), tmp_path)
    colorama = next(p for p in result.lock.packages if p.name == "colorama")
    assert colorama.platforms == ("win_amd64",)
    text = LockPaths.of(tmp_path, "framework-cli").pylock.read_text()
    assert "marker = \"sys_platform == 'win32' and platform_machine == 'AMD64'\"" in text


def test_lower_layer_lock_change_makes_upper_stale(locked_stack: Path, tmp_path: Path) -> None:
    base = load_layer_lock(locked_stack, "framework-base")
    other = lock_layer(inputs("framework-base", ("attrs==24.2.0",)), tmp_path).lock
    assert other.requirements_hash != base.requirements_hash
    status = check_lock(inputs("app-demo", ("attrs", "six"), lower=(other,)), locked_stack)
    assert not status.valid


def test_unknown_glibc_floor_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"glibc 2\.5"):
        lock_layer(inputs("framework-z", ("six",), linux_target="glibc@2.5"), tmp_path)
