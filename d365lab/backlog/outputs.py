"""Output files (rejects, results, journal, reports) are checked before any request or write.

An admin must not learn after a successful import or triage that its rejects or results
could not be written: the tenant has changed and the record of what happened is lost.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputPathError(Exception):
    """An output file cannot be written; the message names the option and the path."""


def check_writable(path: Path, option: str, *, create_folder: bool = False) -> None:
    """Make sure ``path`` can be written.

    One rule for every output option: the folder must exist (a typo must not create folders,
    at the root of the disk or elsewhere): ``the folder X does not exist; create it first``,
    and a file where a folder is expected is named: ``X is a file, not a directory``.
    ``create_folder`` is for default locations the tool owns (the journal in the user data
    folder), whose folders are created. A file that does not exist yet is created and removed
    again: asking the file system is the only test that also holds for read-only mounts and for
    root. Raises :class:`OutputPathError` naming ``option`` (``--rejects``) and the path.
    """
    if str(path) == ":memory:":
        return
    if path.is_dir():
        raise OutputPathError(f"{option}: cannot write {path}: it is a folder")
    blocking = _nearest_existing(path.parent)
    if blocking is not None and not blocking.is_dir():
        raise OutputPathError(f"{option}: cannot write {path}: {blocking} is a file, not a directory")
    if not create_folder and not path.parent.is_dir():
        raise OutputPathError(f"{option}: cannot write {path}: the folder {path.parent} does not exist; "
                              "create it first")
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


def _nearest_existing(folder: Path) -> Path | None:
    """``folder`` or its nearest ancestor that exists (a file or a folder); None if none does."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return None
