"""Output files (rejects, results, journal, reports) are checked before any request or write.

An admin must not learn after a successful import or triage that its rejects or results
could not be written: the tenant has changed and the record of what happened is lost.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputPathError(Exception):
    """An output file cannot be written; the message names the option and the path."""


def check_writable(path: Path, option: str, *, create_folder: bool = True) -> None:
    """Make sure ``path`` can be written.

    ``create_folder``: the writer creates missing folders (CSV writers, the journal), so the
    check creates them too; otherwise a missing folder is an error. A file that does not
    exist yet is created and removed again: asking the file system is the only test that
    also holds for read-only mounts and for root. Raises :class:`OutputPathError` naming
    ``option`` (``--rejects``) and the path.
    """
    if str(path) == ":memory:":
        return
    if path.is_dir():
        raise OutputPathError(f"{option}: cannot write {path}: it is a folder")
    existed = path.exists()
    try:
        if create_folder:
            path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.close(descriptor)
        if not existed:
            path.unlink()
    except OSError as exc:
        raise OutputPathError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
