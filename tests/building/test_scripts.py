"""Console scripts made relocatable, and the RECORD of their package kept true to them."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from pathlib import Path

from pdm_stack.building.scripts import make_scripts_relocatable


def test_rewritten_script_gets_its_new_hash_in_record(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "tool"
    script.write_text(f"#!{bin_dir}/python\nimport tool\ntool.main()\n")
    script.chmod(0o755)
    dist_info = tmp_path / "lib" / "python3.11" / "site-packages" / "tool-1.0.dist-info"
    dist_info.mkdir(parents=True)
    record = dist_info / "RECORD"
    record.write_text(
        'tool.py,sha256=AAAA,5\n../../../bin/tool,sha256=BBBB,42\n"odd,name.txt",,\ntool-1.0.dist-info/RECORD,,\n'
    )

    assert make_scripts_relocatable(bin_dir, [bin_dir]) == [script]

    data = script.read_bytes()
    assert str(bin_dir).encode() not in data
    assert script.stat().st_mode & 0o777 == 0o755
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(record.read_text()))}
    assert rows == {
        "tool.py": ["sha256=AAAA", "5"],
        "../../../bin/tool": [f"sha256={digest}", str(len(data))],
        "odd,name.txt": ["", ""],
        "tool-1.0.dist-info/RECORD": ["", ""],
    }
