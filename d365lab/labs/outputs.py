"""Where lab commands write: terminal consoles, output files checked before any request.

A lab platform reads exit code 1 as "the student failed", so a report that cannot be
written must be found out before the tenant is touched (exit 2), never after.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from d365lab.backlog.outputs import OutputPathError, check_writable

#: ``--output`` suffix -> report format, when ``--format`` is not given.
FORMAT_BY_SUFFIX = {".json": "json", ".xml": "junit", ".md": "markdown", ".markdown": "markdown", ".txt": "table"}
#: Width of report tables when the output is not a terminal (a log, a CI capture).
NON_TTY_WIDTH = 160


class OutputError(ValueError):
    """An output path cannot be written; the message names it and why."""


def terminal_console(*, stderr: bool = False) -> Console:
    """A console that never hard-wraps when it is not a terminal (paths and ids stay whole)."""
    stream = Console(stderr=stderr)
    if stream.is_terminal:
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=NON_TTY_WIDTH)


def check_writable_file(path: Path, option: str = "--output") -> None:
    """Raise :class:`OutputError` unless ``path`` can be created or overwritten."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"cannot write {option} {path}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {option} {path}: folder {folder} does not exist")
    _probe(path, option)


def check_replaceable_file(path: Path, option: str = "--output") -> None:
    """As :func:`check_writable_file`, for a file later replaced atomically (a temp file, then a rename).

    The probe is a temporary name in the same folder, never ``path`` itself: a reader watching
    ``path`` (a platform polling a summary) never sees it appear empty.
    """
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"cannot write {option} {path}: it is a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {option} {path}: folder {folder} does not exist")
    if path.exists():
        _probe(path, option)  # opened for appending: its content is left as it is
    _probe(folder / f".{path.name}.d365lab-write-probe", option, shown=path)


def ensure_writable_dir(path: Path, option: str = "--reports-dir") -> None:
    """Create ``path`` if needed; raise :class:`OutputError` unless files can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write {option} {path}: {exc.strerror or exc}") from None
    _probe(path / ".d365lab-write-probe", option, shown=path)


def _probe(path: Path, option: str, *, shown: Path | None = None) -> None:
    """Ask the file system (the one writable-output test of d365lab, :func:`check_writable`).

    ``os.access`` is not enough: it is wrong for root and for read-only mounts.
    """
    try:
        check_writable(path, option)
    except OutputPathError as exc:
        reason = str(exc).rsplit(": ", 1)[-1]
        raise OutputError(f"cannot write {option} {shown or path}: {reason}") from None


def choose_format(fmt: str | None, output: Path | None) -> str:
    """``--format`` if given, else inferred from the ``--output`` suffix, else ``table``.

    Raises :class:`OutputError` for an output suffix that names no format.
    """
    if fmt is not None:
        return fmt
    if output is None:
        return "table"
    inferred = FORMAT_BY_SUFFIX.get(output.suffix.lower())
    if inferred is None:
        known = ", ".join(sorted(FORMAT_BY_SUFFIX))
        raise OutputError(f"cannot tell the report format of --output {output} (suffix {output.suffix or 'none'}; "
                          f"known: {known}); pass --format")
    return inferred
