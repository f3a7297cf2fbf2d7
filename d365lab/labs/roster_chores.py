"""Class-wide chores: ``lab seed|cleanup|prepare --roster``, one line per student and a summary.

Every student's tenant (or prefix on a shared tenant) gets the chore, ``--parallel`` tenants
at a time (students sharing the default tenant one after the other), through the same
scheduler as class grading (:func:`d365lab.labs.roster.for_each_student`). Exit code 2 only
when a student's chore failed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from d365lab.labs.cleanup import cleanup_lab
from d365lab.labs.outputs import terminal_console
from d365lab.labs.prepare import prepare_tenant
from d365lab.labs.roster import RosterError, Student, for_each_student, read_roster
from d365lab.labs.run_journal import RunJournalError
from d365lab.labs.runner import run_lab
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.steps import LabRunError
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

EXIT_OK, EXIT_FAILED = 0, 2


@dataclass(frozen=True)
class ChoreOutcome:
    """What a chore did for one student."""

    ok: bool
    message: str
    #: extra lines (prepare's items), shown under the student's line
    details: tuple[str, ...] = ()


Chore = Callable[[Student, "DataverseClient", Language], ChoreOutcome]


def seed_chore(lab: LabSpec, upto: str, time_zone: str | None) -> Chore:
    """Seed one student's scope up to ``upto``."""

    def seed(student: Student, client: DataverseClient, lang: Language) -> ChoreOutcome:
        try:
            summary = run_lab(client, lab, lang=lang, prefix=student.prefix, time_zone=time_zone, upto=upto)
        except LabRunError as exc:
            return ChoreOutcome(False, str(exc))
        except RunJournalError as exc:
            return ChoreOutcome(False, exc.in_language(lang))
        if summary.done_beyond:
            return ChoreOutcome(False, say(lang, "beyond_upto", upto=upto, done=", ".join(summary.done_beyond)))
        return ChoreOutcome(True, say(lang, "seeded", upto=upto, performed=summary.performed,
                                      skipped=summary.skipped, zone=summary.time_zone))

    return seed


def cleanup_chore(lab: LabSpec) -> Chore:
    """Delete what the lab made for one student's scope."""

    def cleanup(student: Student, client: DataverseClient, lang: Language) -> ChoreOutcome:
        try:
            summary = cleanup_lab(client, lab, lang=lang, prefix=student.prefix)
        except RunJournalError as exc:
            return ChoreOutcome(False, exc.in_language(lang))
        return ChoreOutcome(True, say(lang, "cleaned", deleted=len(summary.deleted),
                                      gone=len(summary.already_gone)))

    return cleanup


def prepare_chore(lab: LabSpec) -> Chore:
    """Make one student's tenant gradable.

    Students sharing a tenant (one client) prepare it one after the other: the first switches
    auditing on, the others find it on, as when they were handled one at a time.
    """
    guard = threading.Lock()
    per_client: weakref.WeakKeyDictionary[DataverseClient, threading.Lock] = weakref.WeakKeyDictionary()

    def prepare(student: Student, client: DataverseClient, lang: Language) -> ChoreOutcome:
        with guard:
            tenant_lock = per_client.setdefault(client, threading.Lock())
        with tenant_lock:
            result = prepare_tenant(client, lab, lang)
        details = tuple(line.text for line in result.lines[:-1] if line.status != "ok")
        return ChoreOutcome(result.gradable, result.lines[-1].text, details)

    return prepare


def run_roster_chore(roster: Path, chore: Chore, *, lang: Language, parallel: int, quiet: bool = False) -> int:
    """Do ``chore`` for every student of ``roster``; print one line each and a summary; exit code."""
    console = terminal_console()
    errors = terminal_console(stderr=True)
    try:
        students = read_roster(roster)
    except (OSError, RosterError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        errors.print(f"error: {roster}: {reason}" if isinstance(exc, OSError) else f"error: {reason}", markup=False)
        return EXIT_FAILED

    def work(student: Student, client: DataverseClient) -> ChoreOutcome:
        return chore(student, client, student.language or lang)

    def failed(student: Student, reason: str) -> ChoreOutcome:
        return ChoreOutcome(False, reason)

    def show(student: Student, outcome: ChoreOutcome) -> None:
        student_lang = student.language or lang
        word = say(student_lang, "chore_ok" if outcome.ok else "chore_failed")
        line = f"{student.name}{say(student_lang, 'colon')}{word}{say(student_lang, 'sep')}{outcome.message}"
        if not outcome.ok:
            errors.print(line, markup=False)
        elif not quiet:
            console.print(line, markup=False)
        for detail in outcome.details if (not quiet or not outcome.ok) else ():
            console.print(f"  {detail}", markup=False)

    done = for_each_student(students, work, failed, parallel=parallel, on_done=show)
    failures = [s.name for s, outcome in done if not outcome.ok]
    console.print(say(lang, "chore_summary", total=len(done), ok=len(done) - len(failures), failed=len(failures),
                      names=", ".join(failures) or "-"), markup=False)
    return EXIT_FAILED if failures else EXIT_OK
