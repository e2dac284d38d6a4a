"""Valid but almost certainly unintended app setups, warned about when the app is built.

An app's own modules go first on its ``sys.path``: a support module named ``numpy.py`` next to a
numpy framework silently replaces numpy for the app (and, copied into the app layer, overwrites an
installed module of that name). A working folder (build, output, export, requirements) inside an
app's package folder sits among the files that ship with the app. Neither is an error, since both
can be meant, but neither should go unnoticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pdm_stack.stack_spec.folders import settings_folders
from pdm_stack.stack_spec.modules import import_name

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from pdm_stack.stack_spec.model import LayerSpec, StackSettings

_EXTENSION_SUFFIXES = (".so", ".pyd")


def _app_modules(spec: LayerSpec) -> list[tuple[str, Path]]:
    """``(field, path)`` of every module of the app."""
    launch = [("launch_module", spec.launch_module)] if spec.launch_module else []
    return [*launch, *(("support_modules", path) for path in spec.support_modules)]


def provides_module(site_dir: Path, name: str) -> bool:
    """Whether ``site_dir`` holds an importable top-level ``name`` (package, module or extension)."""
    if (site_dir / name).is_dir() or (site_dir / f"{name}.py").is_file():
        return True
    return any(
        path.suffix in _EXTENSION_SUFFIXES for path in site_dir.glob(f"{name}.*") if path.name != f"{name}.py"
    )


def shadowing_warnings(spec: LayerSpec, sites: Sequence[tuple[str, Path]]) -> list[str]:
    """One line per app module named like a module installed in one of ``sites`` (``(layer, dir)``,
    the app's own installed packages first)."""
    warnings = []
    for field, path in _app_modules(spec):
        name = import_name(path)
        owners = [layer for layer, site_dir in sites if provides_module(site_dir, name)]
        if owners:
            warnings.append(
                f"{spec.label}: field '{field}': '{path.name}' is imported as '{name}', which shadows"
                f" the '{name}' installed in {', '.join(owners)}; rename the module"
            )
    return warnings


def output_folder_warnings(spec: LayerSpec, settings: StackSettings) -> list[str]:
    """One line per working folder inside one of the app's package folders."""
    warnings = []
    for _field, module in _app_modules(spec):
        if not module.is_dir():
            continue
        real = module.resolve()
        for folder in settings_folders(settings):
            if real in folder.path.resolve().parents:
                warnings.append(
                    f"{spec.label}: {folder.name} ({folder.path}) is inside its module folder {module};"
                    " what is written there is shipped with the app unless git-ignored"
                )
    return warnings
