"""The archive formats publishing writes, apart from the code that writes them.

Command-line front ends offer these as choices when their parser is set up, which happens on
every ``pdm`` run; this module imports nothing, so listing them never loads the compressors.
"""

from __future__ import annotations

from typing import Literal

ArchiveFormat = Literal["tar.gz", "tar.xz", "tar.zst"]
ARCHIVE_FORMATS: tuple[ArchiveFormat, ...] = ("tar.gz", "tar.xz", "tar.zst")
DEFAULT_FORMAT: ArchiveFormat = "tar.xz"
