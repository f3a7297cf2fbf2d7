"""Lab output checks ask the file system (the helper the backlog commands use), and leave nothing behind."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from d365lab.labs.outputs import OutputError, check_writable_file, ensure_writable_dir


def test_checking_an_output_leaves_no_file_behind(tmp_path: Path) -> None:
    check_writable_file(tmp_path / "report.json")
    ensure_writable_dir(tmp_path / "reports")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["reports"]


def test_an_existing_report_is_kept(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("{}", encoding="utf-8")
    check_writable_file(report)
    assert report.read_text(encoding="utf-8") == "{}"


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root writes in a read-only folder")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"cannot write --output .*ro/r.json: Permission denied"):
            check_writable_file(folder / "r.json")
        with pytest.raises(OutputError, match=r"cannot write --reports-dir .*ro: Permission denied"):
            ensure_writable_dir(folder)
    finally:
        folder.chmod(0o700)
