"""``lab check --watch``: grade one student or a class again and again while they do the lab.

Each round is one ordinary check per student (``WhoAmI``, the reads of the lab's records,
and the history sources' questions about a state a later task undid; see
docs/lab-platforms.md), its transitions written to the student's watch journal (which the
check itself reads back as a history source), and the tasks turning green reported. A throttled round (429
after the client's own retries) pushes the next round back by the ``Retry-After`` the
tenant asked for. Clients stay open between rounds (one per tenant).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import requests

from d365lab.errors import DataverseError, ThrottledError, describe_error
from d365lab.labs.checker import check_lab, error_report
from d365lab.labs.roster import Connector, Student, default_connector, tenant_of
from d365lab.labs.run_journal import RunJournalError
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.timeutil import now_utc, to_wire
from d365lab.labs.watch_history import EXTRAS_KEY, scope_watch_path, waiting_checks
from d365lab.labs.watch_journal import WatchEvent, WatchJournal, WatchJournalError

if TYPE_CHECKING:
    from d365lab.client import DataverseClient
    from d365lab.labs.results import LabReport



class _RowError(ValueError):
    """A roster row that cannot be graded (its reason is the row's own)."""


@dataclass(frozen=True)
class WatchOptions:
    """How to watch: the pause between rounds, when to stop, what to grade."""

    interval: float = 30.0
    until_complete: bool = False
    max_time: float | None = None
    upto: str | None = None
    time_zone: str | None = None
    parallel: int = 4
    use_journal: bool = True
    require_observable: bool = False
    #: keep the watch journals on disk (next to the run journals), so later checks can use them
    keep_journal: bool = True


@dataclass
class WatchedStudent:
    """One student under watch: the latest report, the journal, when something last changed."""

    student: Student
    language: Language
    report: LabReport | None = None
    journal: WatchJournal | None = None
    last_change: str | None = None
    #: tasks already announced green (seeded from the journal: an earlier watch announced those)
    green: set[str] | None = None


@dataclass
class WatchRound:
    """What one round did."""

    number: int
    at: str
    requests: int
    students: int
    events: list[tuple[WatchedStudent, WatchEvent]] = field(default_factory=list)
    #: seconds the tenant asked us to wait (Retry-After of a 429 the client could not absorb)
    throttled_for: float = 0.0

    @property
    def requests_per_student(self) -> float:
        """Requests of the round divided by the students watched."""
        return self.requests / max(self.students, 1)


class ClassWatch:
    """Watch a list of students (one, without ``--roster``): clients kept open, one journal each."""

    def __init__(self, lab: LabSpec, students: list[Student], *, lang: Language, options: WatchOptions,
                 connector: Connector = default_connector) -> None:
        self.lab = lab
        self.options = options
        self.connector = connector
        self.watched = [WatchedStudent(s, s.language or lang) for s in students]
        self.rounds = 0
        self._waiting = waiting_checks(lab)
        self._clients: dict[str, DataverseClient] = {}
        self._lock = threading.Lock()
        self._connecting = threading.Lock()

    # ---------------------------------------------------------------- clients
    def _client(self, student: Student) -> DataverseClient:
        key = "" if student.shares_default_tenant else student.name
        with self._connecting:  # students sharing the default tenant grade in parallel: connect it once
            with self._lock:
                client = self._clients.get(key)
            if client is None:
                options: dict[str, object] = {} if not key else dict(student.settings)
                if key and student.env_file:
                    options["env_file"] = student.env_file
                client = self.connector(options)
                with self._lock:
                    self._clients[key] = client
        return client

    def close(self) -> None:
        """Close every client (stops an embedded mock)."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> ClassWatch:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- rounds
    def _request_total(self) -> int:
        with self._lock:
            return sum(c.request_count for c in self._clients.values())

    def round(self) -> WatchRound:
        """Grade every student once; journal what changed; return the round's events and cost."""
        self.rounds += 1
        at = to_wire(now_utc())
        before = self._request_total()
        result = WatchRound(number=self.rounds, at=at, requests=0, students=len(self.watched))
        # every student on a thread of their own, those sharing the default tenant over its one client
        with ThreadPoolExecutor(max_workers=max(1, self.options.parallel)) as pool:
            futures = [pool.submit(self._grade, w, at, result) for w in self.watched]
            for future in futures:
                future.result()
        result.requests = self._request_total() - before
        return result

    def _grade(self, watched: WatchedStudent, at: str, result: WatchRound) -> None:
        student, opts = watched.student, self.options
        try:
            if student.error is not None:  # a bad roster row, worded as 'lab check --roster' words it
                raise _RowError(student.error)
            extras = {EXTRAS_KEY: watched.journal} if watched.journal is not None else None
            report = check_lab(self._client(student), self.lab, lang=watched.language, prefix=student.prefix,
                               time_zone=opts.time_zone, upto=opts.upto, use_journal=opts.use_journal,
                               require_observable=opts.require_observable, history_extras=extras)
        except ThrottledError as exc:
            report = self._error(watched, describe_error(exc))
            with self._lock:
                result.throttled_for = max(result.throttled_for, exc.retry_after or opts.interval)
        except _RowError as exc:
            report = self._error(watched, str(exc))
        except (DataverseError, RunJournalError, requests.RequestException, OSError, ValueError) as exc:
            report = self._error(watched, describe_error(exc))
        report.student = student.name or None
        events: list[WatchEvent] = []
        if not report.error:
            try:
                events = self._journal(watched, report, at)
            except (WatchJournalError, OSError) as exc:
                report = self._error(watched, describe_error(exc) if isinstance(exc, OSError) else str(exc))
        if report.error and (watched.report is None or watched.report.error != report.error):
            watched.last_change = at
        watched.report = report
        with self._lock:
            result.events.extend((watched, e) for e in events)

    def _error(self, watched: WatchedStudent, reason: str) -> LabReport:
        student = watched.student
        return error_report(self.lab, watched.language, tenant_of(student), reason, student=student.name or None,
                            prefix=student.prefix, upto=self.options.upto)

    def _journal(self, watched: WatchedStudent, report: LabReport, at: str) -> list[WatchEvent]:
        if watched.journal is None:
            path = scope_watch_path(self.lab, report) if self.options.keep_journal else None
            watched.journal = WatchJournal.open(path, report, at)
        journal = watched.journal
        if watched.green is None:
            watched.green = set(journal.data.first_pass)
        events = journal.observe(report, at)
        journal.note_passes(report, at, self._waiting)
        journal.save()
        for task in report.tasks:  # green now, whatever proves it (the tenant, a journal, audit)
            waiting = self._waiting.get(task.id, set())
            if (task.status == "passed" and task.id not in watched.green
                    and all(c.passed for c in task.checks if c.id in waiting)):
                watched.green.add(task.id)
                events.append(WatchEvent("passed", task.id, at, None, task.status))
        if events:
            watched.last_change = at
        elif watched.last_change is None:
            watched.last_change = journal.data.last_change_at
        return events

    def complete(self) -> bool:
        """True when every student's every graded task passed."""
        return all(w.report is not None and not w.report.error and w.report.tasks
                   and all(t.status == "passed" for t in w.report.tasks) for w in self.watched)

    def reports(self) -> list[tuple[Student, LabReport]]:
        """The latest report of each student (after at least one round)."""
        return [(w.student, w.report) for w in self.watched if w.report is not None]


def run_watch(watch: ClassWatch, *, on_round: Callable[[WatchRound], None],
              clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> str:
    """Rounds until complete (``until_complete``), ``max_time`` or Ctrl-C; returns why it stopped.

    ``"complete"`` or ``"max_time"``; a ``KeyboardInterrupt`` propagates (the caller reports).
    """
    options = watch.options
    started = clock()
    while True:
        current = watch.round()
        on_round(current)
        if options.until_complete and watch.complete():
            return "complete"
        elapsed = clock() - started
        if options.max_time is not None and elapsed >= options.max_time:
            return "max_time"
        wait = max(options.interval, current.throttled_for)
        if options.max_time is not None:
            wait = min(wait, options.max_time - elapsed)
        sleep(max(wait, 0.0))
