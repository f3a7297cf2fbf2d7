"""Class grading: one row per student, each on its own tenant or with a prefix on a shared one.

Roster CSV columns (header required): ``student`` (required), ``prefix`` (records named
"<prefix> ..." on a shared tenant), ``language`` (fr|en, default the command's), ``env_file``
(a .env file with that student's tenant settings) and any setting of
:class:`d365lab.config.Settings` by name (``dataverse_url``, ``auth``, ``tenant_id``,
``client_id``...). Keep secrets in the env file, not in the CSV. Rows without a tenant URL
share the default tenant (the embedded mock when ``DATAVERSE_URL`` is unset).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from d365lab.errors import DataverseError, describe_error
from d365lab.labs.audit_settle import AuditSettle
from d365lab.labs.checker import check_lab, error_report
from d365lab.labs.reports.common import points
from d365lab.labs.results import LabReport
from d365lab.labs.run_journal import RunJournalError
from d365lab.labs.spec import LANGUAGES, LabSpec, Language, clean_prefix
from d365lab.labs.values import normalize_text

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

Connector = Callable[[dict[str, Any]], "DataverseClient"]
T = TypeVar("T")
#: Students sharing the default tenant are one application user: at most this many of them
#: work at once, whatever ``--parallel`` says (Dataverse refuses a user's 53rd concurrent request).
SHARED_USER_MAX_CONCURRENT = 52
_RESERVED = {"student", "prefix", "language", "env_file"}


@dataclass(frozen=True)
class Student:
    """One roster row."""

    name: str
    prefix: str = ""
    language: Language | None = None
    env_file: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    #: why this row cannot be graded (missing env file, unknown column): an error entry, exit 2
    error: str | None = None
    #: the row's line in the roster file (the header is line 1)
    line: int = 0

    @property
    def shares_default_tenant(self) -> bool:
        """True when the row names no tenant of its own."""
        return not self.env_file and not self.settings.get("dataverse_url")


class RosterError(ValueError):
    """The roster file is unusable; the message names the row and column."""


def settings_columns() -> set[str]:
    """Roster columns naming a tenant setting: the field names and variable names of ``Settings``."""
    from d365lab.config import Settings

    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        names.add(name)
        alias = info.validation_alias
        choices = getattr(alias, "choices", [alias] if isinstance(alias, str) else [])
        names.update(c for c in choices if isinstance(c, str))
    return names


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise RosterError(f"{path} is not UTF-8 text; in Excel use Save As > 'CSV UTF-8 (comma delimited)'") from None


def _delimiter(header: str) -> str:
    """``,`` unless the header is clearly separated otherwise (French Excel writes ``;``)."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


def read_roster(path: Path) -> list[Student]:
    """Parse a roster CSV (UTF-8, with or without BOM; ``,``, ``;`` or tab separated).

    Raises :class:`RosterError` for an unusable file (encoding, header, no rows, duplicate
    or empty names, bad language). A row whose ``env_file`` is missing or that fills an
    unknown column comes back with :attr:`Student.error` set (graded as an error entry).
    """
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    if not reader.fieldnames or "student" not in reader.fieldnames:
        raise RosterError(f"{path}: the header must have a 'student' column (found: "
                          f"{', '.join(reader.fieldnames or []) or 'nothing'})")
    known = _RESERVED | settings_columns()
    unknown = [c for c in reader.fieldnames if c and c not in known]
    students = [_student(path, line, row, unknown) for line, row in enumerate(reader, start=2)]
    if not students:
        raise RosterError(f"{path}: no student rows under the header")
    names = [s.name for s in students]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RosterError(f"{path}: duplicate student names: {', '.join(sorted(duplicates))}")
    _refuse_shared_work(path, students)
    return students


def _tenant_key(student: Student) -> str:
    """Which tenant a row grades: its URL (from the columns or its env file), else the default one."""
    url = student.settings.get("dataverse_url") or student.settings.get("DATAVERSE_URL")
    if not url and student.env_file and Path(student.env_file).is_file():
        from dotenv import dotenv_values

        url = dotenv_values(student.env_file).get("DATAVERSE_URL") or f"env file {student.env_file}"
    return (url or "").strip().rstrip("/").casefold()


def _refuse_shared_work(path: Path, students: list[Student]) -> None:
    """Rows with one tenant and one prefix (as the service compares topics) would share one grade."""
    rows_by_scope: dict[tuple[str, str], list[Student]] = {}
    for student in (s for s in students if s.error is None):  # rows in error are reported as such
        scope = (_tenant_key(student), normalize_text(student.prefix))
        rows_by_scope.setdefault(scope, []).append(student)
    clashes = ["; ".join(f"line {s.line} ({s.name}, prefix {s.prefix!r})" for s in same)
               for same in rows_by_scope.values() if len(same) > 1]
    if clashes:
        raise RosterError(f"{path}: these rows would all be graded on the same work (same tenant, and prefixes "
                          f"the service does not tell apart): {' | '.join(clashes)}; give each student their "
                          f"own prefix or tenant")


def _student(path: Path, line: int, row: dict[str, str | None], unknown: list[str]) -> Student:
    name = (row.get("student") or "").strip()
    if not name:
        raise RosterError(f"{path}:{line}: empty student name")
    if None in row:  # csv puts extra fields under the key None
        raise RosterError(f"{path}:{line}: more fields than header columns")
    lang_text = (row.get("language") or "").strip()
    lang: Language | None = None
    for known in LANGUAGES:
        if lang_text == known:
            lang = known
    if lang_text and lang is None:
        raise RosterError(f"{path}:{line}: language must be one of {', '.join(LANGUAGES)}")
    problems = [f"unknown column {c!r} (known: student, prefix, language, env_file or a setting such as "
                f"dataverse_url)" for c in unknown if (row.get(c) or "").strip()]
    env_file = (row.get("env_file") or "").strip() or None
    if env_file:
        resolved = Path(env_file) if Path(env_file).is_absolute() else path.parent / env_file
        if not resolved.is_file():
            problems.append(f"env_file {env_file} not found (looked for {resolved})")
        env_file = str(resolved)
    settings = {k: v.strip() for k, v in row.items()
                if k and k not in _RESERVED and k not in unknown and v and v.strip()}
    return Student(name=name, prefix=clean_prefix(row.get("prefix") or ""), language=lang, env_file=env_file,
                   settings=settings, error=f"{path}:{line}: " + "; ".join(problems) if problems else None,
                   line=line)


def default_connector(options: dict[str, Any]) -> DataverseClient:
    """Connect with the row's settings (``{}`` = the default tenant from the environment).

    A row's tenant is built from its env file and columns only, never from the grader's
    own environment, so one student's settings cannot leak into another's.
    """
    from dotenv import dotenv_values

    from d365lab.config import Settings
    from d365lab.connect import connect
    from d365lab.transport import RetryPolicy

    if not options:
        return connect()
    env_file = options.pop("env_file", None)
    values: dict[str, Any] = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file else {}
    values.update(options)
    # a student's tenant that is down should be reported in seconds, not after minutes of backoff
    return connect(Settings.model_validate(values), retry=RetryPolicy(max_attempts=3, max_total_wait=30))


def for_each_student(students: list[Student], work: Callable[[Student, DataverseClient], T],
                     on_error: Callable[[Student, str], T], *, parallel: int = 4,
                     connector: Connector = default_connector,
                     on_done: Callable[[Student, T], None] | None = None) -> list[tuple[Student, T]]:
    """Do ``work`` for every student on their tenant, ``parallel`` students at a time.

    Students sharing the default tenant share one client (thread-safe: a 429 pauses all of
    them, as one application user should), at most :data:`SHARED_USER_MAX_CONCURRENT` of
    them at once (the service's concurrency limit per user); each works on a thread of its own, so
    :func:`requests_on_this_thread` counts one student's requests. A row in error, or a
    tenant that cannot be reached, gets ``on_error(student, reason)``. One failure never
    stops the others. Results come back in roster order.
    """
    results: dict[str, T] = {}
    lock = threading.Lock()

    def done(student: Student, outcome: T) -> None:
        with lock:
            results[student.name] = outcome
            if on_done is not None:
                on_done(student, outcome)

    def serve(student: Student, client: DataverseClient | None) -> None:
        if student.error is not None:  # never fall back to another tenant than the row names
            done(student, on_error(student, student.error))
            return
        slot = shared_slots if client is not None else nullcontext()
        try:
            with slot, _client_for(student, client, connector) as live:
                outcome = work(student, live)
        except (DataverseError, RunJournalError, requests.RequestException, OSError, ValueError) as exc:
            outcome = on_error(student, describe_error(exc))
        done(student, outcome)

    sharing = {s.name for s in students if s.shares_default_tenant and s.error is None}
    shared_slots = threading.BoundedSemaphore(max(1, min(parallel, SHARED_USER_MAX_CONCURRENT)))
    shared_client: DataverseClient | None = None
    if sharing:
        try:
            shared_client = connector({})
        except (DataverseError, requests.RequestException, OSError, ValueError) as exc:
            for student in (s for s in students if s.name in sharing):
                done(student, on_error(student, describe_error(exc)))
            sharing = set()
    try:
        with ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="d365lab-student") as pool:
            futures = [pool.submit(serve, s, shared_client if s.name in sharing else None)
                       for s in students if s.name in sharing or not s.shares_default_tenant or s.error is not None]
            for future in futures:
                future.result()
    finally:
        if shared_client is not None:
            shared_client.close()
    return [(s, results[s.name]) for s in students]


class _ThreadRequests:
    """A ``requests`` response hook counting the answers each thread received."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.count = self.count() + 1

    def count(self) -> int:
        """Answers received on the calling thread so far."""
        return int(getattr(self._local, "count", 0))


_HOOK_LOCK = threading.Lock()


def requests_on_this_thread(client: DataverseClient) -> int:
    """HTTP answers ``client`` has received on the calling thread (retries included).

    A client shared by students working in parallel counts everyone's requests in
    ``request_count``; a difference of this figure before and after a student's work is
    that student's own. The counting hook is added to the client's session on first use.
    """
    hooks = client.transport.session.hooks["response"]
    with _HOOK_LOCK:
        counter = next((h for h in hooks if isinstance(h, _ThreadRequests)), None)
        if counter is None:
            counter = _ThreadRequests()
            hooks.append(counter)
    return counter.count()


def grade_class(lab: LabSpec, students: list[Student], *, lang: Language, upto: str | None = None,
                time_zone: str | None = None, parallel: int = 4, connector: Connector = default_connector,
                on_report: Callable[[Student, LabReport], None] | None = None,
                require_observable: bool = False,
                audit_settle: AuditSettle | None = None) -> list[tuple[Student, LabReport]]:
    """Grade every student, ``parallel`` students at a time; one failure never stops the others.

    ``audit_settle``: how long each student's late audit rows may be waited for (as ``lab check``).

    Students sharing the default tenant are graded over one client, in parallel like the others;
    each report's ``http_requests`` is that student's own.
    """

    def grade(student: Student, client: DataverseClient) -> LabReport:
        before = requests_on_this_thread(client)
        report = check_lab(client, lab, lang=student.language or lang, prefix=student.prefix,
                           time_zone=time_zone, upto=upto, require_observable=require_observable,
                           audit_settle=audit_settle)
        report.student = student.name
        report.http_requests = requests_on_this_thread(client) - before  # this student's, not the client's total
        return report

    def failed(student: Student, reason: str) -> LabReport:
        return error_report(lab, student.language or lang, tenant_of(student), reason, student=student.name,
                            prefix=student.prefix, upto=upto)

    return for_each_student(students, grade, failed, parallel=parallel, connector=connector, on_done=on_report)


@contextmanager
def _client_for(student: Student, shared: DataverseClient | None, connector: Connector) -> Iterator[DataverseClient]:
    if shared is not None:
        yield shared
        return
    options: dict[str, Any] = dict(student.settings)
    if student.env_file:
        options["env_file"] = student.env_file
    with connector(options) as client:
        yield client


def tenant_of(student: Student) -> str:
    """How a row's tenant is named to a person (its URL, its env file, or the default tenant)."""
    return student.settings.get("dataverse_url") or student.env_file or "default tenant"




# ------------------------------------------------------------------ class summary
SUMMARY_COLUMNS = ("student", "tenant", "prefix", "language", "score", "max_score", "passed", "failed_tasks",
                   "not_observable", "error")


def summary_rows(graded: list[tuple[Student, LabReport]]) -> list[dict[str, Any]]:
    """One summary row per student, typed: numbers, booleans (``passed`` is None when not checked)."""
    rows: list[dict[str, Any]] = []
    for student, report in graded:
        rows.append({
            "student": student.name, "tenant": report.tenant, "prefix": report.prefix,
            "language": report.language, "score": report.score, "max_score": report.max_score,
            "passed": None if report.error else report.passed,
            "failed_tasks": [t.id for t in report.tasks if t.status == "failed"],
            "not_observable": list(report.not_observable), "error": report.error,
        })
    return rows


def summary_text_rows(graded: list[tuple[Student, LabReport]]) -> list[dict[str, str]]:
    """The summary rows as text, for CSV, Markdown and the terminal (``yes`` / ``no`` / ``error``)."""
    return [{
        "student": row["student"], "tenant": row["tenant"], "prefix": row["prefix"], "language": row["language"],
        "score": points(row["score"]), "max_score": points(row["max_score"]),
        "passed": "error" if row["passed"] is None else ("yes" if row["passed"] else "no"),
        "failed_tasks": " ".join(row["failed_tasks"]), "not_observable": " ".join(row["not_observable"]),
        "error": row["error"] or "",
    } for row in summary_rows(graded)]


def summary_csv(graded: list[tuple[Student, LabReport]]) -> str:
    """The class summary as CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(SUMMARY_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(summary_text_rows(graded))
    return buffer.getvalue()


def summary_markdown(lab: LabSpec, graded: list[tuple[Student, LabReport]]) -> str:
    """The class summary as a Markdown table."""
    lines = [f"# {lab.lab.id} — class summary", "", "| " + " | ".join(SUMMARY_COLUMNS) + " |",
             "|" + "---|" * len(SUMMARY_COLUMNS)]
    for row in summary_text_rows(graded):
        lines.append("| " + " | ".join(row[c].replace("|", "\\|") for c in SUMMARY_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def class_exit_code(graded: list[tuple[Student, LabReport]]) -> int:
    """2 if any tenant could not be checked, else 1 if any student failed, else 0."""
    codes = [r.exit_code for _, r in graded]
    return 2 if 2 in codes else max(codes, default=0)
