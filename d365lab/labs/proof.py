"""Grade a task whose state a later task undid, from the history sources.

The superseded checks of the task are grouped by record; each record's wanted values (the
checks' expected values) are a :class:`~d365lab.labs.history.HistoryQuestion` for the
sources in the context. All seen: the task passes, the evidence naming what proved it. A
source that watched the record and never saw the state: the task fails. Otherwise the task
is not observable, with the reason each source gave and what would make it observable.
"""

from __future__ import annotations

from d365lab.labs.evaluate import EvalContext
from d365lab.labs.history import HistoryQuestion, HistoryVerdict, ask_history
from d365lab.labs.results import CheckResult, TaskResult
from d365lab.labs.spec import TaskSpec, localize
from d365lab.labs.wording import say


def prove_from_history(ctx: EvalContext, task: TaskSpec, result: TaskResult, superseded: list[CheckResult],
                       later: list[str]) -> None:
    """Settle ``result`` (its strict checks all superseded) from the history sources."""
    by_record: dict[str, list[CheckResult]] = {}
    for check in superseded:
        by_record.setdefault(check.record or "", []).append(check)
    verdicts: list[tuple[list[CheckResult], HistoryVerdict]] = []
    for alias, checks in by_record.items():
        question = HistoryQuestion(task_id=task.id, alias=alias, entity=checks[0].entity or "",
                                   record_id=checks[0].record_id or "",
                                   wanted={c.field or "": c.expected for c in checks}, later=tuple(later))
        verdicts.append((checks, ask_history(ctx.history, question, ctx.lang)))
    if all(v.verdict == "seen" for _c, v in verdicts):
        _proven(result, task, verdicts)
    elif any(v.verdict == "never" for _c, v in verdicts):
        _disproven(ctx, result, task, verdicts)
    else:
        _not_observable(ctx, result, task, verdicts, later)


def _proven(result: TaskResult, task: TaskSpec, verdicts: list[tuple[list[CheckResult], HistoryVerdict]]) -> None:
    details: list[str] = []
    for checks, verdict in verdicts:
        assert verdict.deciding is not None
        details.append(verdict.deciding.detail)
        result.evidence_refs.extend(verdict.deciding.refs)
        for check in checks:
            check.status, check.passed, check.hint = "pass", True, None
            check.actual, check.actual_label = check.expected, check.expected_label
            check.message = verdict.deciding.detail
    result.status, result.passed, result.points = "passed", True, task.points
    result.how_known = "; ".join(dict.fromkeys(details))
    result.proven_by = ", ".join(dict.fromkeys(v.deciding.source for _c, v in verdicts if v.deciding))


def _disproven(ctx: EvalContext, result: TaskResult, task: TaskSpec,
               verdicts: list[tuple[list[CheckResult], HistoryVerdict]]) -> None:
    hint = str(localize(task.hint, ctx.lang))
    details: list[str] = []
    for checks, verdict in verdicts:
        answer = verdict.deciding
        for check in checks:
            if answer is not None and verdict.verdict == "never":
                check.status, check.passed, check.hint = "fail", False, hint
                check.message = answer.detail
                result.evidence_refs.extend(answer.refs)
            else:
                check.status, check.passed = "not_observable", None
        if answer is not None:
            details.append(answer.detail)
    counted = [c for c in result.checks if c.strict and c.status in ("pass", "fail")]
    passing = [c for c in counted if c.passed]
    result.status, result.passed = "failed", False
    result.points = round(task.points * len(passing) / max(len(counted), 1), 2)
    result.hint = hint
    result.how_known = "; ".join(details)
    result.proven_by = ", ".join(dict.fromkeys(v.deciding.source for _c, v in verdicts if v.deciding))


def _not_observable(ctx: EvalContext, result: TaskResult, task: TaskSpec,
                    verdicts: list[tuple[list[CheckResult], HistoryVerdict]], later: list[str]) -> None:
    reasons: list[str] = []
    remedies: list[str] = []
    for checks, verdict in verdicts:
        for check in checks:
            check.status, check.passed = "not_observable", None
        reasons.extend(a.detail for a in verdict.answers if a.verdict == "unknown")
        remedies.extend(verdict.remedies)
    if not reasons:
        reasons.append(say(ctx.lang, "journal_has_no_task", task=task.id))
    remedies += [say(ctx.lang, "remedy_watch"), say(ctx.lang, "remedy_upto", task=task.id)]
    result.status, result.passed, result.points = "not_observable", None, 0
    result.how_known = say(ctx.lang, "not_observable", later=", ".join(later),
                           reasons=say(ctx.lang, "sep").join(dict.fromkeys(reasons)))
    result.how_to_observe = say(ctx.lang, "observable_by", remedies=say(ctx.lang, "sep").join(dict.fromkeys(remedies)))
    result.hint = result.how_to_observe
