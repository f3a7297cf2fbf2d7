"""The watch journal as the third history source: a task a later task undid, seen by a watch round.

The grader proves "did X, then undid it" tasks from audit first, then the run journal
(:mod:`d365lab.labs.history`); this source comes next. It says ``seen`` when a
``lab check --watch`` round saw the task pass on the very record graded now, and
``unknown`` otherwise (polling may miss a change undone between two rounds, so it never
says ``never``). Importing this module registers the source.
"""

from __future__ import annotations

from pathlib import Path

from d365lab.labs.history import HistoryAnswer, HistoryQuestion, HistoryScope, register_history_source
from d365lab.labs.results import LabReport
from d365lab.labs.run_journal import journal_path
from d365lab.labs.spec import LabSpec, Language
from d365lab.labs.watch_journal import WatchJournal, WatchJournalError, watch_journal_path

SOURCE_NAME = "watch journal"
#: ``history_extras`` key: a :class:`WatchJournal` to use instead of the file (a watch in progress).
EXTRAS_KEY = "watch_journal"

_WORDS = {
    "en": {"seen": "seen passing by lab check --watch at {at} (round {round}): {evidence}",
           "unseen": "no lab check --watch round saw {task} pass on this record",
           "unreadable": "watch journal unreadable: {reason}"},
    "fr": {"seen": "vue réussie par lab check --watch à {at} (tour {round}) : {evidence}",
           "unseen": "aucun tour de lab check --watch n'a vu {task} réussie sur cet enregistrement",
           "unreadable": "journal de surveillance illisible : {reason}"},
}


def waiting_checks(lab: LabSpec) -> dict[str, set[str]]:
    """Task id -> ids of its checks that need another task done first (``task_done`` checks)."""
    return {task.id: {c.id for c in task.expect if c.task_done is not None} for task in lab.tasks}


def scope_watch_path(lab: LabSpec, report: LabReport) -> Path:
    """Where the watch journal of the report's scope (lab, tenant, language, prefix) lives."""
    run_journal = journal_path(lab.lab.key, report.organization_id or "", report.language, report.prefix,
                               report.tenant)
    return watch_journal_path(run_journal)


class WatchJournalHistory:
    """A history source over one scope's watch journal."""

    name = SOURCE_NAME

    def __init__(self, journal: WatchJournal | None, problem: str | None = None) -> None:
        self.journal = journal
        self.problem = problem

    def answer(self, question: HistoryQuestion, lang: Language) -> HistoryAnswer:
        """``seen`` with the round's time and evidence, else ``unknown`` (a watch never proves absence)."""
        words = _WORDS[lang]
        if self.journal is None:
            return HistoryAnswer("unknown", self.name, words["unreadable"].format(reason=self.problem))
        seen = self.journal.proven_pass(question.task_id, {question.alias: question.record_id})
        if seen is None or question.alias not in seen.records:
            return HistoryAnswer("unknown", self.name, words["unseen"].format(task=question.task_id))
        evidence = "; ".join(seen.evidence) or question.task_id
        refs = (f"{self.journal.path or 'watch journal'} round {seen.round}",)
        return HistoryAnswer("seen", self.name, words["seen"].format(at=seen.at, round=seen.round,
                                                                     evidence=evidence), refs=refs)


def _watch_factory(scope: HistoryScope) -> WatchJournalHistory | None:
    given = scope.extras.get(EXTRAS_KEY)
    if isinstance(given, WatchJournal):
        return WatchJournalHistory(given)
    run_journal = journal_path(scope.lab.lab.key, scope.organization_id, scope.lang, scope.prefix,
                               scope.client.tenant_label)
    try:
        journal = WatchJournal.load(watch_journal_path(run_journal))
    except WatchJournalError as exc:
        return WatchJournalHistory(None, str(exc))
    return WatchJournalHistory(journal) if journal is not None else None


register_history_source(SOURCE_NAME, _watch_factory, after="run journal")
