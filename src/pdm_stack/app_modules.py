"""An application's own code: its launch module and support modules, as shipped in its layer.

The modules live in the project tree next to things that must not ship (caches, local settings,
generated files). What git would not commit is not copied either: ``.gitignore`` files from the
spec folder down to each module (and inside package folders) are honoured with git's rules
(deeper files override shallower ones, a negated pattern re-includes, an ignored folder is not
entered). Byte-code caches and ``.git*`` entries are always left out.

The same file list, hashed by :func:`files_hash`, is the one rule for "did the app's code
change" everywhere: the versioned layer's ``lock_version``, the layer's build inputs and the
published ``app_launch_module_hash``. Editing an ignored file changes none of them; editing a
shipped one changes all.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pathspec

from pdm_stack.errors import StackError
from pdm_stack.file_digests import file_sha256
from pdm_stack.stack_spec.modules import import_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pdm_stack.stack_spec.model import LayerSpec


@dataclass(frozen=True)
class ModuleFile:
    source: Path
    #: Where the file goes, relative to the layer's site-packages.
    target: PurePosixPath


def _always_skipped(name: str, is_dir: bool) -> bool:
    if name.startswith(".git") or name == "__pycache__":
        return True
    return not is_dir and name.endswith((".pyc", ".pyo"))


class _IgnoreRules:
    """The ``.gitignore`` files in force for paths below ``root``, read once per folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}

    def _spec(self, folder: Path) -> pathspec.GitIgnoreSpec | None:
        if folder not in self._specs:
            try:
                lines = (folder / ".gitignore").read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                self._specs[folder] = None
            except (OSError, UnicodeDecodeError) as exc:
                raise StackError(f"cannot read {folder / '.gitignore'}: {exc}") from exc
            else:
                self._specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines)
        return self._specs[folder]

    def ignored(self, path: Path, is_dir: bool) -> bool:
        """Whether git would ignore ``path``, judged by every ``.gitignore`` from ``root`` down."""
        verdict = False
        folder = self.root
        parts = path.relative_to(self.root).parts
        for depth in range(len(parts)):
            spec = self._spec(folder)
            if spec is not None:
                relative = "/".join(parts[depth:]) + ("/" if is_dir else "")
                result = spec.check_file(relative)
                if result.include is not None:
                    verdict = result.include
            folder = folder / parts[depth]
        return verdict


def _check_inside(path: Path, root: Path) -> None:
    """Refuse a module, or a file or folder of one, that is (or links to) something outside the
    project: the spec checks the modules it names, but links inside a package are found only here."""
    real = path.resolve()
    if not path.absolute().is_relative_to(root) or not real.is_relative_to(root.resolve()):
        shown = path if real == path else f"{path} (a link to {real})"
        raise StackError(f"{shown} is outside the project folder {root}; it would ship in the layer")


def module_files(module: Path, spec_root: Path) -> list[ModuleFile]:
    """The files of one module (a ``.py`` file or a package folder) that ship, sorted.

    Files keep the names they have in the module, even where they are links to other files of
    the project; a link out of the project (``spec_root``) is an error, never followed.
    """
    root = spec_root.absolute()
    _check_inside(module, root)
    rules = _IgnoreRules(root)
    name = module.name
    if module.is_file():
        return [ModuleFile(module, PurePosixPath(name))]
    files: list[ModuleFile] = []
    for folder, dirs, names in os.walk(module):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs if not _always_skipped(d, True) and not rules.ignored(here / d, is_dir=True)
        )
        for linked in (here / d for d in dirs):
            if linked.is_symlink():
                _check_inside(linked, root)
        for file_name in sorted(names):
            path = here / file_name
            if _always_skipped(file_name, False) or rules.ignored(path, is_dir=False):
                continue
            if path.is_symlink():
                _check_inside(path, root)
            files.append(ModuleFile(path, PurePosixPath(name, *path.relative_to(module).parts)))
    return files


def app_module_files(spec: LayerSpec, spec_root: Path) -> list[ModuleFile]:
    """Every file of the launch module and the support modules of an application."""
    modules = [*([spec.launch_module] if spec.launch_module else []), *spec.support_modules]
    files: list[ModuleFile] = []
    for module in modules:
        if not module.exists():
            raise StackError(f"'{module}' not found", layer=spec.label, field="launch_module")
        try:
            files.extend(module_files(module, spec_root))
        except StackError as exc:
            field = "launch_module" if module == spec.launch_module else "support_modules"
            raise StackError(exc.message, layer=spec.label, field=field) from exc
    return files


def launch_module_name(spec: LayerSpec) -> str | None:
    return import_name(spec.launch_module) if spec.launch_module else None


def files_hash(files: Iterable[ModuleFile]) -> str:
    """``sha256:<hex>`` over the shipped names and contents."""
    digest = hashlib.sha256()
    for item in files:
        digest.update(str(item.target).encode() + b"\0")
        digest.update(bytes.fromhex(file_sha256(item.source)))
    return "sha256:" + digest.hexdigest()


def app_modules_hash(spec: LayerSpec, spec_root: Path) -> str | None:
    """:func:`files_hash` of an application's modules as they ship; ``None`` without modules."""
    if spec.launch_module is None and not spec.support_modules:
        return None
    return files_hash(app_module_files(spec, spec_root))


def copy_module_files(files: Iterable[ModuleFile], site_dir: Path) -> int:
    """Copy ``files`` into ``site_dir`` (fresh files, never links to the project tree)."""
    count = 0
    for item in files:
        dest = site_dir.joinpath(*item.target.parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.source, dest)
        shutil.copymode(item.source, dest)
        count += 1
    return count
