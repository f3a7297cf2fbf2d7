"""The lab-completion checker: find the lab's records, evaluate every expectation, score.

Read-only and idempotent. Works with the run journal (tracked ids, day of each step, the
transient disqualify) and without it (a student who did the lab by hand).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from d365lab.labs import timeutil
from d365lab.labs.audit_settle import AuditSettle, settle_from_audit
from d365lab.labs.duplicates import prefer_best_fit
from d365lab.labs.evaluate import EvalContext, evaluate_task
from d365lab.labs.history import HistoryScope, history_sources
from d365lab.labs.lab_time import lab_time_zone, owner_of
from d365lab.labs.locate import Locator, journal_is_stale
from d365lab.labs.proof import prove_from_history
from d365lab.labs.reports.common import status_word
from d365lab.labs.results import LabReport, RecordEvidence, TaskResult
from d365lab.labs.run_journal import Journal, journal_path
from d365lab.labs.snapshot import Snapshot
from d365lab.labs.spec import LabSpec, Language, TaskSpec, clean_prefix, localize
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2

def check_lab(client: DataverseClient, lab: LabSpec, *, lang: Language, prefix: str = "",
              time_zone: str | None = None, upto: str | None = None, use_journal: bool = True,
              require_observable: bool = False, history_extras: dict[str, Any] | None = None,
              audit_settle: AuditSettle | None = None) -> LabReport:
    """Grade the tenant behind ``client`` against ``lab`` (tasks up to ``upto``, default all).

    States a later task undid are proven by the history sources (:mod:`d365lab.labs.history`:
    audit, run journal, then any registered one; ``history_extras`` is handed to their
    factories). A task none of them can see is *not observable*: left out of the maximum
    score, or a failure with ``require_observable``. ``audit_settle``: how long late audit
    rows may be waited for before such a task is left not observable or failed
    (:mod:`d365lab.labs.audit_settle`; default: not at all).
    """
    prefix = clean_prefix(prefix)
    last = lab.resolve_upto(upto)
    me = client.whoami()
    org = str(me.organization_id)
    journal_file = journal_path(lab.lab.key, org, lang, prefix, client.tenant_label)
    journal = Journal.load(journal_file, prefix=prefix) if use_journal else None
    locator = Locator(client, lab, lang, prefix, journal)
    snapshot = locator.snapshot()
    if journal is not None and journal_is_stale(journal, lab, snapshot):
        # the journal describes records this tenant no longer has: grade as if there were none
        journal = None
        locator = Locator(client, lab, lang, prefix, None)
        snapshot = locator.snapshot()
    tz, tz_source = lab_time_zone(client, lab, lang, time_zone, owner_of(snapshot),
                                  journal.data.time_zone if journal else None, caller_id=str(me.user_id),
                                  remembered_explicit=bool(journal and journal.data.time_zone_explicit))
    ctx = EvalContext(lab=lab, lang=lang, prefix=prefix, tz=tz, snapshot=snapshot,
                      step_days=journal.step_days() if journal else {})
    scope = HistoryScope(client=client, lab=lab, lang=lang, prefix=prefix, organization_id=org, journal=journal,
                         extras=dict(history_extras or {}))
    ctx.history = history_sources(scope)
    if snapshot.ambiguous:
        graded = lab.tasks_upto(last)

        def passing_checks(trial: Snapshot) -> int:
            trial_ctx = replace(ctx, snapshot=trial)
            return sum(1 for task in graded for c in evaluate_task(trial_ctx, task) if c.passed)

        snapshot = prefer_best_fit(locator, snapshot, passing_checks)
        ctx.snapshot = snapshot
    report = LabReport(
        lab_id=lab.lab.id, lab_title=str(localize(lab.lab.title, lang)), tenant=client.tenant_label,
        organization_id=org, language=lang, prefix=prefix, time_zone=tz, time_zone_source=tz_source, upto=last,
        require_observable=require_observable,
        checked_at=timeutil.to_wire(timeutil.now_utc()),
        run_started_at=journal.data.run_started_at if journal else None,
        journal=str(journal.path) if journal else None,
        records={a: RecordEvidence(entity=r.entity, id=r.id, how=r.how, candidates=r.candidates)
                 for a, r in snapshot.records.items()},
    )
    for task in lab.tasks_upto(last):
        report.tasks.append(grade_task(ctx, lab, task, last, journal))
    settle = audit_settle or AuditSettle()
    by_id = {t.id: t for t in lab.tasks}
    report.audit_settle_seconds = settle.seconds
    settle_from_audit(ctx, report, settle, lambda task_id: grade_task(ctx, lab, by_id[task_id], last, journal))
    settle_task_done(lab, report, journal)
    finish_report(report)
    report.http_requests = client.request_count
    return report


def grade_task(ctx: EvalContext, lab: LabSpec, task: TaskSpec, last: str, journal: Journal | None) -> TaskResult:
    """Evaluate a task's checks, set aside superseded states, and score it."""
    checks = evaluate_task(ctx, task)
    later_tasks: set[str] = set()
    for outcome, check in zip(checks, task.expect, strict=True):
        later = check.superseded_by
        if later is None or outcome.passed or outcome.record_id is None:
            continue  # a missing record is a failure, whatever later tasks do
        changed_later = lab.order_of(later) <= lab.order_of(last) or (journal is not None and journal.is_done(later))
        if changed_later:
            later_tasks.add(later)
            outcome.status = "superseded"
            outcome.hint = None
            outcome.message = say(ctx.lang, "superseded", later=later, task=task.id)
    title = str(localize(task.title, ctx.lang))
    exercise = lab.exercise_of(task.id).id
    superseded = [c for c in checks if c.strict and c.status == "superseded"]
    result = TaskResult(id=task.id, exercise=exercise, title=title, status="failed", passed=False,
                        points=0, max_points=task.points, checks=checks)
    if superseded and not any(c.strict and c.status in ("pass", "fail") for c in checks):
        prove_from_history(ctx, task, result, superseded, sorted(later_tasks))
        return result
    score_task(result, task, ctx.lang)
    return result


def score_task(result: TaskResult, task: TaskSpec, lang: Language) -> None:
    """Passed when every counted strict check passed; points in proportion (partial credit)."""
    counted = [c for c in result.checks if c.strict and c.status in ("pass", "fail")]
    passed = [c for c in counted if c.passed]
    result.passed = len(passed) == len(counted)
    result.status = "passed" if result.passed else "failed"
    result.points = task.points if result.passed else round(task.points * len(passed) / max(len(counted), 1), 2)
    result.hint = None if result.passed else str(localize(task.hint, lang))


def settle_task_done(lab: LabSpec, report: LabReport, journal: Journal | None = None) -> None:
    """Judge ``task_done`` checks now that every task has a status.

    A reactivated lead looks exactly like a lead never disqualified; when the disqualify
    cannot be shown, the reactivation is only warned about, never silently credited, and
    it fails (strictly) when the run journal shows the earlier task was never done.
    """
    status = {t.id: t for t in report.tasks}
    for task in lab.tasks:
        result = status.get(task.id)
        for check in task.expect if result else []:
            if check.task_done is None:
                continue
            assert result is not None
            outcome = next(c for c in result.checks if c.id == check.id)
            other = status.get(check.task_done)
            outcome.actual = other.status if other else "not checked"
            # the status token stays in `actual` (machines read it); people read it in their language
            outcome.actual_label = status_word(other, report.language) if other else say(report.language,
                                                                                           "not_checked")
            outcome.passed = other is not None and other.passed is True
            if outcome.passed:
                continue
            never_done = journal is not None and not journal.is_done(check.task_done)
            outcome.strict = check.strict or never_done
            outcome.status = "fail" if outcome.strict else "warn"
            outcome.message = (say(report.language, "task_never_done", task=check.task_done) if never_done else
                               say(report.language, "task_done_unknown", task=check.task_done,
                                   status=outcome.actual_label))
            outcome.hint = other.hint if other else None
            if never_done:
                score_task(result, task, result_lang(report))


def result_lang(report: LabReport) -> Language:
    """The report's language as a lab language (English for anything else)."""
    return "fr" if report.language == "fr" else "en"


def finish_report(report: LabReport) -> None:
    """Total the score and set ``passed`` / ``exit_code`` (0 all strict checks passed, 1 some failed).

    A task not observable is neither: it is left out of the maximum score and the exit code,
    unless the report requires every task to be observable (then it is a failure).
    """
    report.not_observable = [t.id for t in report.tasks if t.status == "not_observable"]
    counted = [t for t in report.tasks if t.status != "not_observable" or report.require_observable]
    report.score = round(sum(t.points for t in report.tasks), 2)
    report.max_score = round(sum(t.max_points for t in counted), 2)
    strict_failures = any(c.status == "fail" for t in report.tasks for c in t.checks)
    if report.require_observable and report.not_observable:
        strict_failures = True
    report.passed = not strict_failures
    report.exit_code = EXIT_FAILED if strict_failures else EXIT_PASSED


def error_report(lab: LabSpec, lang: Language, tenant: str, error: str, *, student: str | None = None,
                 prefix: str = "", upto: str | None = None) -> LabReport:
    """A report for a tenant that could not be checked (exit code 2)."""
    return LabReport(lab_id=lab.lab.id, lab_title=str(localize(lab.lab.title, lang)), student=student,
                     tenant=tenant, language=lang, prefix=prefix, time_zone="",
                     upto=lab.resolve_upto(upto), checked_at=timeutil.to_wire(timeutil.now_utc()),
                     error=error, exit_code=EXIT_ERROR,
                     max_score=sum(t.points for t in lab.tasks_upto(upto)))
