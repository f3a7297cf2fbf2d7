"""``d365lab lab prepare``, and the ``--roster`` forms of ``lab check``, ``seed``, ``cleanup`` and ``prepare``."""

from __future__ import annotations

from pathlib import Path

import requests
import typer

from d365lab.errors import DataverseError, describe_error
from d365lab.labs.audit_settle import AuditSettle
from d365lab.labs.outputs import OutputError, ensure_writable_dir, terminal_console
from d365lab.labs.prepare import prepare_tenant
from d365lab.labs.roster_chores import Chore, cleanup_chore, prepare_chore, run_roster_chore, seed_chore
from d365lab.labs.run_journal import lock_wait_seconds
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.timeutil import resolve_time_zone


def _fail(message: str) -> typer.Exit:
    terminal_console(stderr=True).print(f"error: {message}", markup=False)
    return typer.Exit(2)


def check_roster(lab: LabSpec, language: Language, roster: Path, *, upto: str | None, time_zone: str | None,
                 fmt: str, output: Path | None, parallel: int, reports_dir: Path, quiet: bool,
                 require_observable: bool = False, audit_settle: AuditSettle | None = None) -> int:
    """``lab check --roster``: grade the class; the exit code. Outputs are checked before any request."""
    from d365lab.labs.roster_report import check_summary_output, grade_roster

    try:
        if output is not None:
            check_summary_output(output)
        ensure_writable_dir(reports_dir)
    except OutputError as exc:
        raise _fail(str(exc)) from None
    return grade_roster(lab, roster, lang=language, upto=upto, time_zone=time_zone, fmt=fmt, output=output,
                        parallel=parallel, reports_dir=reports_dir, quiet=quiet,
                        require_observable=require_observable, audit_settle=audit_settle)


def roster_chore(roster: Path, chore: Chore, language: Language, parallel: int, quiet: bool) -> int:
    """Run a chore for every student of a roster; the exit code (2 when a student failed)."""
    try:
        lock_wait_seconds()  # a bad D365LAB_LAB_LOCK_WAIT fails before any request
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return run_roster_chore(roster, chore, lang=language, parallel=parallel, quiet=quiet)


def seed_roster(lab: LabSpec, language: Language, roster: Path, upto: str, time_zone: str | None, parallel: int,
                quiet: bool) -> int:
    """``lab seed --roster``: every student's scope up to ``upto``."""
    try:
        lab.resolve_upto(upto)
        resolve_time_zone(lab, language, time_zone)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    return roster_chore(roster, seed_chore(lab, upto, time_zone), language, parallel, quiet)


def cleanup_roster(lab: LabSpec, language: Language, roster: Path, parallel: int, quiet: bool) -> int:
    """``lab cleanup --roster``: what the lab made, student by student."""
    return roster_chore(roster, cleanup_chore(lab), language, parallel, quiet)


def prepare_one(lab: LabSpec, language: Language) -> int:
    """``lab prepare``: switch auditing on, check the lab user; one line per item; 0 gradable, 2 not."""
    from d365lab.connect import connect

    console, errors = terminal_console(), terminal_console(stderr=True)
    try:
        with connect() as client:
            result = prepare_tenant(client, lab, language)
    except (DataverseError, requests.RequestException, OSError) as exc:
        raise _fail(describe_error(exc)) from None
    marks = {"ok": "ok ", "changed": "set", "failed": "!! ", "note": " - "}
    for line in result.lines:
        (errors if line.status == "failed" else console).print(f"{marks[line.status]} {line.text}", markup=False)
    return result.exit_code


def prepare_roster(lab: LabSpec, language: Language, roster: Path, parallel: int, quiet: bool) -> int:
    """``lab prepare --roster``: every student's tenant."""
    return roster_chore(roster, prepare_chore(lab), language, parallel, quiet)
