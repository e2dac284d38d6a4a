"""Checks of an application's ``launch_module`` and ``support_modules`` paths.

These are the only spec fields that point at files, so a missing or clashing module is caught
when the spec is read rather than halfway through a build. Whatever they name ships in the app's
archive, so a path must stay inside the project folder (the spec file's folder), links included:
``support_modules = ["/etc/ssh"]`` would otherwise publish the machine's ssh configuration.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath, PureWindowsPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pdm_stack.stack_spec.fields import FieldReader


def import_name(path: Path) -> str:
    """The name ``import`` (and ``python -m``) uses for a module file or package folder."""
    return path.stem if path.suffix == ".py" else path.name


def check_app_modules(reader: FieldReader, spec_dir: Path) -> tuple[Path | None, tuple[Path, ...]]:
    """Validate the app's module paths; returns them resolved (invalid ones dropped)."""
    launch_text = reader.string("launch_module")
    support_texts = reader.string_list("support_modules") or []
    if launch_text is None and "launch_module" not in reader.table:
        reader.error("launch_module", "required for applications (a module file or package folder)")
    launch = _module_path(reader, "launch_module", launch_text, spec_dir) if launch_text else None
    if launch is not None and launch.is_dir() and not (launch / "__main__.py").is_file():
        reader.error(
            "launch_module", f"package '{launch_text}' has no __main__.py, so 'python -m' cannot run it"
        )
    support = [_module_path(reader, "support_modules", text, spec_dir) for text in support_texts]

    seen: dict[str, str] = {}
    if launch is not None:
        seen[import_name(launch)] = str(launch_text)
    for text, path in zip(support_texts, support, strict=True):
        if path is None:
            continue
        name = import_name(path)
        if name in seen:
            reader.error(
                "support_modules",
                f"'{text}' and '{seen[name]}' would both be imported as '{name}'",
            )
        seen.setdefault(name, text)
    return launch, tuple(p for p in support if p is not None)


def _module_path(reader: FieldReader, field: str, text: str, spec_dir: Path) -> Path | None:
    """The module's path below the project folder, named as written (a symlinked module keeps
    its own name); ``None`` after reporting a path that is missing or leads out of the project."""
    if PurePath(text).is_absolute() or PureWindowsPath(text).is_absolute():
        reader.error(field, f"'{text}' is an absolute path; give a path relative to the project folder")
        return None
    root = spec_dir.absolute()
    path = Path(os.path.normpath(root / text))
    if not path.is_relative_to(root):
        reader.error(field, f"'{text}' is outside the project folder {root}")
        return None
    if not path.exists():
        reader.error(field, f"'{text}' not found (looked for {path})")
        return None
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        reader.error(field, f"'{text}' is a link to {real}, outside the project folder {root}")
        return None
    if real.is_file() and path.suffix != ".py":
        reader.error(field, f"'{text}' is neither a .py file nor a package folder")
        return None
    name = import_name(path)
    if not name.isidentifier():
        reader.error(field, f"'{text}' cannot be imported: '{name}' is not a valid module name")
        return None
    return path
