"""The watch journal as a history source: a task a later task undid, proven because a watch round saw it.

The grader proves "did X, then undid it" tasks from audit first, then the run journal; this
is the third source. It only turns a task that is *not observable* now into a pass, and only
when a watch round saw it pass on the very records graded now.
"""

from __future__ import annotations

from pathlib import Path

from d365lab.labs.checker import finish_report, result_lang, score_task
from d365lab.labs.journal import journal_path
from d365lab.labs.reports.common import status_word
from d365lab.labs.results import LabReport
from d365lab.labs.spec import LabSpec
from d365lab.labs.watch_journal import TaskPass, WatchJournal, watch_journal_path

_SEEN = {
    "en": "seen passing by lab check --watch at {at} (round {round}); since undone by a later task",
    "fr": "vue réussie par lab check --watch à {at} (tour {round}) ; annulée depuis par une tâche suivante",
}


def waiting_checks(lab: LabSpec) -> dict[str, set[str]]:
    """Task id -> ids of its checks that need another task done first (``task_done`` checks)."""
    return {task.id: {c.id for c in task.expect if c.task_done is not None} for task in lab.tasks}


def proven_by_watch(report: LabReport, journal: WatchJournal) -> dict[str, TaskPass]:
    """The not-observable tasks of ``report`` a watch round saw pass on the records graded now."""
    records = {alias: found.id for alias, found in report.records.items()}
    proven: dict[str, TaskPass] = {}
    for task in report.tasks:
        if task.status != "not_observable":
            continue
        seen = journal.proven_pass(task.id, records)
        if seen is not None:
            proven[task.id] = seen
    return proven


def apply_watch_history(lab: LabSpec, report: LabReport, journal: WatchJournal | None) -> list[str]:
    """Credit the tasks the watch journal proves; re-settle the checks waiting on them; re-total.

    Returns the ids of the tasks credited.
    """
    if journal is None or report.error:
        return []
    proven = proven_by_watch(report, journal)
    lang = result_lang(report)
    for task in report.tasks:
        seen = proven.get(task.id)
        if seen is None:
            continue
        task.status, task.passed, task.points, task.hint = "passed", True, task.max_points, None
        task.how_known = _SEEN[lang].format(at=seen.at, round=seen.round)
    if not proven:
        return []
    results = {t.id: t for t in report.tasks}
    for spec_task in lab.tasks:
        result = results.get(spec_task.id)
        if result is None:
            continue
        waiting = [c for c in spec_task.expect if c.task_done in proven]
        for check in waiting:
            outcome = next(c for c in result.checks if c.id == check.id)
            done = results[check.task_done or ""]
            outcome.passed, outcome.status, outcome.actual = True, "pass", done.status
            outcome.actual_label, outcome.message, outcome.hint = status_word(done, report.language), "", None
        if waiting:
            score_task(result, spec_task, lang)
    finish_report(report)
    return sorted(proven)


def scope_watch_path(lab: LabSpec, report: LabReport) -> Path:
    """Where the watch journal of the report's scope (lab, tenant, language, prefix) lives."""
    run_journal = journal_path(lab.lab.key, report.organization_id or "", report.language, report.prefix,
                               report.tenant)
    return watch_journal_path(run_journal)


def load_watch_journal(lab: LabSpec, report: LabReport) -> WatchJournal | None:
    """The watch journal of the report's scope, if a watch ever ran for it."""
    return WatchJournal.load(scope_watch_path(lab, report))
