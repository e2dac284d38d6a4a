"""Installing exactly a layer's locked packages for one platform, and nothing else.

uv installs from a PEP 751 lock of the layer's packages for this platform: the locked wheel files
themselves (their URLs or lock-relative paths) with their hashes. Nothing is resolved and no index
is searched, so the build gets the files the lock chose even when several indexes serve the same
version (a PyTorch CPU index mirroring numpy, a private mirror with its own builds). Packages a
lower layer provides are never installed: at run time that layer's copy is the one on ``sys.path``.

Index credentials come from the environment given by the caller only (uv applies them to files
on the index's host); neither the command line nor the lock file carries them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomlkit

from pdm_stack.building.uv_install import run_uv_install
from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pdm_stack.lock.pylock import LayerLock, LockedPackage
    from pdm_stack.reporting import Reporter


def packages_for(lock: LayerLock, platform: str) -> list[LockedPackage]:
    """The packages this layer itself installs on ``platform``."""
    inherited = {item.name for item in lock.inherited if platform in item.platforms}
    return [p for p in lock.packages if platform in p.platforms and p.name not in inherited]


def platform_pylock(
    packages: Sequence[LockedPackage], lock_dir: Path | None, *, label: str | None = None
) -> str:
    """A pylock.toml of ``packages`` with absolute wheel locations, to install from anywhere.

    Wheels stored as paths (local find-links folders of the project) are relative to the lock's
    folder ``lock_dir``.
    """
    doc = tomlkit.document()
    doc["lock-version"] = "1.0"
    doc["created-by"] = "pdm-stack"
    entries = tomlkit.aot()
    for package in packages:
        wheels = [_absolute(wheel, lock_dir) for wheel in package.wheels if wheel.get("hashes")]
        if not wheels:
            raise StackError(
                f"the lock has no wheel with a hash for '{package.name}' {package.version};"
                " relock the layer (layers are installed from wheels only)",
                layer=label,
            )
        entries.append(tomlkit.item({"name": package.name, "version": package.version, "wheels": wheels}))
    doc["packages"] = entries
    return tomlkit.dumps(doc)


def _absolute(wheel: Mapping[str, Any], lock_dir: Path | None) -> dict[str, Any]:
    entry = {key: value for key, value in wheel.items() if key in {"url", "path", "name", "hashes"}}
    if "path" in entry and lock_dir is not None:
        entry["url"] = (lock_dir / str(entry.pop("path"))).resolve().as_uri()
    return entry


def install_locked(
    python: Path,
    lock: LayerLock,
    platform: str,
    reporter: Reporter,
    *,
    label: str,
    index_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    system: bool = False,
    lock_dir: Path | None = None,
) -> list[str]:
    """Install ``lock``'s packages for ``platform`` into the interpreter ``python``.

    ``system`` is for runtime layers, which are a base interpreter rather than a venv. Returns
    the installed ``name==version`` pins.
    """
    packages = packages_for(lock, platform)
    pins = [f"{p.name}=={p.version}" for p in packages]
    if not packages:
        return pins
    text = platform_pylock(packages, lock_dir, label=label)
    with tempfile.TemporaryDirectory(prefix="pdm-stack-install-") as work:
        pylock = Path(work) / "pylock.toml"
        pylock.write_text(text, encoding="utf-8")
        arguments = [
            "--no-deps",
            "--no-python-downloads",
            *(["--break-system-packages"] if system else []),
            *index_args,
            "-r",
            str(pylock),
        ]
        run_uv_install(
            python, arguments, reporter, label=label, what=f"{len(pins)} locked package(s)", env=env
        )
    return pins
