"""Small helpers shared by the report renderings."""

from __future__ import annotations

from d365lab.labs.results import CheckResult, LabReport, TaskResult
from d365lab.labs.wording import say

STATUS_WORDS = {
    "en": {"passed": "passed", "failed": "FAILED", "not_observable": "not observable"},
    "fr": {"passed": "réussie", "failed": "ÉCHEC", "not_observable": "non observable"},
}


def status_word(task: TaskResult, lang: str) -> str:
    """The task status in the report language."""
    return STATUS_WORDS.get(lang, STATUS_WORDS["en"])[task.status]


def points(value: float) -> str:
    """``3`` rather than ``3.0``; two decimals for partial credit."""
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


CHECK_STATUS_WORDS = {
    "fr": {"pass": "réussi", "fail": "échec", "warn": "avertissement", "superseded": "remplacé",
           "not_observable": "non observable"},
}


def check_line(check: CheckResult, lang: str = "en") -> str:
    """One line of evidence for a check: record, field, expected vs actual, message (in ``lang``)."""
    where = check.record or check.entity or ""
    if check.field:
        where += f".{check.field}"
    if check.record_id:
        where += f" [{check.record_id}]"
    expected = _value(check.expected, check.expected_label, lang)
    actual = _value(check.actual, check.actual_label, lang)
    shown_status = "warn" if check.inexact else check.status  # the spec: exact mismatches are warnings
    status = CHECK_STATUS_WORDS.get(lang, {}).get(shown_status, shown_status)
    line = (f"{check.id} {status}{say(lang, 'colon')}{where} {say(lang, 'expected')} {expected}, "
            f"{say(lang, 'actual')} {actual}")
    if check.message:
        line += f" — {check.message}"
    return line


def _value(value: object, label: str | None, lang: str) -> str:
    if label and (value is None or value in STATUS_WORDS["en"]):
        # "(record not found)", "the contact Jane Doe", a task status in the report language
        return label
    shown = say(lang, "empty") if value is None else repr(value) if isinstance(value, str) else str(value)
    if label and label not in (shown, str(value)):
        return f"{shown} ({label})"
    return shown


def notable_checks(task: TaskResult) -> list[CheckResult]:
    """Checks worth showing: failures, warnings, and states not observable."""
    return [c for c in task.checks if c.status in ("fail", "warn", "not_observable") or c.inexact]


def distinct_hints(task: TaskResult) -> list[str]:
    """What to fix in a failed task: each distinct hint of its failing checks once, in check order.

    Several checks of one task often share a hint (the task's own "close the opportunity as
    won"); a platform showing the message should say it once. Falls back to the task hint.
    """
    hints = [c.hint or c.message for c in task.checks if c.status == "fail" and (c.hint or c.message)]
    unique = list(dict.fromkeys(hints))
    if unique:
        return unique
    fallback = task.hint or task.how_to_observe
    return [fallback] if fallback else []


def counts_as_failed(task: TaskResult, report: LabReport) -> bool:
    """Failed, or not observable under ``--require-observable`` (otherwise not observable is no failure)."""
    return task.status == "failed" or (task.status == "not_observable" and report.require_observable)


def failed_tasks(report: LabReport) -> list[TaskResult]:
    """The tasks that count as failed, in lab order."""
    return [t for t in report.tasks if counts_as_failed(t, report)]


def first_failure_message(report: LabReport) -> str | None:
    """The one line a platform shows a learner who failed: the first failing hint, or why nothing was checked."""
    if report.error:
        return f"{say(report.language, 'could_not_check')}: {report.error}"
    for task in failed_tasks(report):
        hints = distinct_hints(task)
        return f"{task.id}: {hints[0] if hints else task.title}"
    if report.exit_code != 0:  # a failure outside any task's checks (e.g. --require-observable)
        return say(report.language, "failed")
    return None


def graded_points(report: LabReport) -> tuple[float, float]:
    """(score, maximum) over the graded tasks: tasks not observable count in neither (unless required)."""
    graded = [t for t in report.tasks if t.status != "not_observable" or report.require_observable]
    return round(sum(t.points for t in graded), 2), round(sum(t.max_points for t in graded), 2)
