"""Late audit rows: read the audit again before a task proven only by history is failed.

On a real tenant an audit row can show some time after the write (audit logs live in
Dataverse log storage; no delay is documented, ``audit-timezones-grading.md`` 1.6). A student
who checks right after reactivating a lead could then see ex2.t3 "not observable", or failed
because the disqualify row is not there yet while the Create row is.

So, after every task is graded, :func:`settle_from_audit` looks for tasks whose result came
from the history sources and that the audit might still change: *not observable*, or failed
because the audit never showed the state, on a record whose audit rows were read without
error and whose environment and table audit. Only then does it wait and read the audit of
those tasks again, a bounded number of times (pauses of 1, 2, 4... seconds, in all at most
``seconds``), stopping as soon as they pass. A check where every task passed, or where
auditing is off, never waits. The tasks read again say so in their evidence
(``how_known``), and the report gives ``audit_rereads`` and ``audit_waited_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from d365lab.labs.audit_history import AuditHistory
from d365lab.labs.evaluate import EvalContext
from d365lab.labs.results import LabReport, TaskResult
from d365lab.labs.wording import say

#: ``lab check --audit-settle`` default: seconds the audit may be waited for, in all.
DEFAULT_AUDIT_SETTLE = 5.0
#: The environment variable that sets it (as ``--audit-settle``).
AUDIT_SETTLE_ENV = "D365LAB_AUDIT_SETTLE"
FIRST_PAUSE = 1.0

Regrade = Callable[[str], TaskResult]


@dataclass(frozen=True)
class AuditSettle:
    """How long late audit rows may be waited for (``seconds`` 0: never)."""

    seconds: float = 0.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


def pauses(seconds: float) -> list[float]:
    """The waits before each new read: 1, 2, 4... seconds, the last one cut so they add up to ``seconds``."""
    out: list[float] = []
    left, step = max(seconds, 0.0), FIRST_PAUSE
    while left > 1e-9:
        pause = min(step, left)
        out.append(round(pause, 3))
        left -= pause
        step *= 2
    return out


def settle_from_audit(ctx: EvalContext, report: LabReport, settle: AuditSettle, regrade: Regrade) -> None:
    """Read the audit again (after waiting) for the tasks late audit rows could still prove.

    ``regrade(task_id)`` grades one task again from the same snapshot (its history question
    reads the audit afresh); its result replaces the old one in ``report``.
    """
    audit = next((s for s in ctx.history if isinstance(s, AuditHistory)), None)
    if settle.seconds <= 0 or audit is None:
        return
    pending = [t.id for t in report.tasks if _audit_may_change(t, audit)]
    if not pending:
        return
    reread: set[str] = set()
    waited = 0.0
    for pause in pauses(settle.seconds):
        settle.sleep(pause)
        waited += pause
        report.audit_rereads += 1
        for task_id in pending:
            index = next(i for i, t in enumerate(report.tasks) if t.id == task_id)
            report.tasks[index] = regrade(task_id)
            reread.add(task_id)
        pending = [t for t in pending if _result(report, t).status != "passed"]
        if not pending:
            break
    report.audit_waited_seconds = round(waited, 3)
    note = say(ctx.lang, "audit_reread", times=report.audit_rereads, seconds=f"{waited:g}")
    for task_id in reread:
        result = _result(report, task_id)
        result.how_known = f"{result.how_known}{say(ctx.lang, 'sep')}{note}" if result.how_known else note


def _result(report: LabReport, task_id: str) -> TaskResult:
    return next(t for t in report.tasks if t.id == task_id)


def _audit_may_change(result: TaskResult, audit: AuditHistory) -> bool:
    """Decided by history, not passed, on a record whose audit was read and whose table audits."""
    from_history = result.status == "not_observable" or (
        result.status == "failed" and "audit" in (result.proven_by or "").split(", "))
    if not from_history:
        return False
    asked = [c for c in result.checks if c.record_id and c.status in ("not_observable", "fail")]
    return any(audit.read_ok.get(c.record_id or "") and audit.auditing_on(c.entity or "") for c in asked)
