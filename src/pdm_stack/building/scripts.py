"""Console scripts that keep working when their layer is moved.

Installers write the absolute path of the interpreter into script shebangs; inside a layer built
in a staging folder that path is wrong as soon as the layer is swapped into place. The
``/bin/sh`` trampoline used by python-build-standalone finds the interpreter beside the script.
Both shebang forms installers write are rewritten: ``#!<python>`` and, for paths too long or
with spaces, their own ``/bin/sh`` trampoline naming the absolute interpreter.

uv may hard-link installed files from its cache, so a script is never edited in place: the new
text goes to a temporary file that is renamed over the old one (editing in place would also
change the copy in uv's cache, and every other environment linked to it).
"""

from __future__ import annotations

import io
import re
import shlex
from pathlib import Path

from installer.records import Hash, RecordEntry, parse_record_file
from installer.utils import Scheme, construct_record_file, copyfileobj_with_hashing

from pdm_stack.atomic_files import write_atomically

TRAMPOLINE = """#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")"/'{python}' "$0" "$@"
' '''
"""

#: The trampoline installers (uv, pip/distlib) write when a shebang would be too long or holds
#: spaces. The interpreter is one shell word: bare, or in single quotes with a ``'`` of the path
#: written as ``'"'"'`` (a project folder named ``it's``), which :func:`shlex.split` undoes.
_SH_TRAMPOLINE = re.compile(rb"\A#!/bin/sh\n'''exec' (?P<python>[^\n]+?) \"\$0\" \"\$@\"\n' '''\n")


def make_scripts_relocatable(bin_dir: Path, interpreter_dirs: list[Path]) -> list[Path]:
    """Rewrite scripts whose shebang names an interpreter in ``interpreter_dirs``; returns them."""
    prefixes = tuple(f"{d}/" for d in interpreter_dirs)
    rewritten = []
    for script in sorted(bin_dir.iterdir()) if bin_dir.is_dir() else []:
        if script.is_symlink() or not script.is_file():
            continue
        with script.open("rb") as stream:
            if stream.read(2) != b"#!":
                continue
            data = b"#!" + stream.read()
        python, body = _split_shebang(data)
        if python is None or not python.startswith(prefixes):
            continue
        write_atomically(script, TRAMPOLINE.format(python=Path(python).name).encode() + body)
        rewritten.append(script)
    if rewritten:
        update_records(bin_dir.parent, rewritten)
    return rewritten


def update_records(prefix: Path, changed: list[Path]) -> None:
    """Give ``changed`` files their new hash and size in the ``RECORD`` of the package owning them.

    The installer recorded the script it wrote, whose shebang named the (staging) build path: left
    as is, RECORD would carry a build-path-dependent hash into every published archive, and tools
    that check RECORD would call the rewritten script modified.
    """
    wanted = {path.resolve(): path for path in changed}
    for record in sorted(prefix.glob("lib/python*/site-packages/*.dist-info/RECORD")):
        site = record.parent.parent
        entries: list[tuple[Scheme, RecordEntry]] = []
        touched = False
        for row in parse_record_file(record.read_text(encoding="utf-8").splitlines()):
            entry = RecordEntry.from_elements(*row)
            script = wanted.get((site / entry.path).resolve())
            if script is not None:
                with script.open("rb") as stream:
                    digest, size = copyfileobj_with_hashing(stream, io.BytesIO(), "sha256")
                entry = RecordEntry(entry.path, Hash("sha256", digest), size)
                touched = True
            entries.append((Scheme("scripts"), entry))
        if touched:
            with construct_record_file(entries) as stream:
                write_atomically(record, stream.read())


def _split_shebang(data: bytes) -> tuple[str | None, bytes]:
    """The interpreter a script starts and the rest of the script after its shebang."""
    match = _SH_TRAMPOLINE.match(data)
    if match is not None:
        try:
            words = shlex.split(match.group("python").decode(errors="surrogateescape"))
        except ValueError:  # unbalanced quotes: not a trampoline we understand, leave it alone
            words = []
        return (words[0] if len(words) == 1 else None), data[match.end() :]
    first_line, _, body = data.partition(b"\n")
    return first_line[2:].strip().decode(errors="replace"), body
