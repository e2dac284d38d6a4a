"""Installing exactly a layer's locked packages for one platform, and nothing else.

uv gets every package pinned with the hashes of its locked wheels, ``--no-deps`` (the lock is
already the complete install set: resolving again could only diverge from it) and
``--require-hashes`` (a wheel that is not the locked one is refused, whatever the index serves).
Packages a lower layer provides are never installed: at run time that layer's copy is the one on
``sys.path``.

Index URLs and credentials come from the environment given by the caller only; neither the
command line (visible in process lists) nor the requirements file carries them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pdm_stack.build.installer import run_uv_install
from pdm_stack.errors import StackError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from pdm_stack.lock.pylock import LayerLock, LockedPackage
    from pdm_stack.reporting import Reporter


def packages_for(lock: LayerLock, platform: str) -> list[LockedPackage]:
    """The packages this layer itself installs on ``platform``."""
    inherited = {item.name for item in lock.inherited if platform in item.platforms}
    return [p for p in lock.packages if platform in p.platforms and p.name not in inherited]


def requirements_text(packages: Sequence[LockedPackage], *, label: str | None = None) -> str:
    """A ``--require-hashes`` requirements file pinning ``packages`` to their locked wheels."""
    lines = []
    for package in packages:
        hashes = sorted(
            {
                f"{algorithm}:{value}"
                for wheel in package.wheels
                for algorithm, value in dict(wheel.get("hashes", {})).items()
            }
        )
        if not hashes:
            raise StackError(
                f"the lock has no wheel with a hash for '{package.name}' {package.version};"
                " relock the layer (layers are installed from wheels only)",
                layer=label,
            )
        options = "".join(f" \\\n    --hash={value}" for value in hashes)
        lines.append(f"{package.name}=={package.version}{options}")
    return "\n".join(lines) + "\n"


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
) -> list[str]:
    """Install ``lock``'s packages for ``platform`` into the interpreter ``python``.

    ``system`` is for runtime layers, which are a base interpreter rather than a venv. Returns
    the installed ``name==version`` pins.
    """
    packages = packages_for(lock, platform)
    pins = [f"{p.name}=={p.version}" for p in packages]
    if not packages:
        return pins
    text = requirements_text(packages, label=label)
    with tempfile.TemporaryDirectory(prefix="pdm-stack-install-") as work:
        requirements = Path(work) / "requirements.txt"
        requirements.write_text(text, encoding="utf-8")
        arguments = [
            "--no-deps",
            "--require-hashes",
            "--no-python-downloads",
            *(["--break-system-packages"] if system else []),
            *index_args,
            "-r",
            str(requirements),
        ]
        run_uv_install(
            python, arguments, reporter, label=label, what=f"{len(pins)} locked package(s)", env=env
        )
    return pins
