"""Run a lab's exercises against a tenant: do exactly what the lab asks a student to do.

Re-running is idempotent: every step first asks the tenant (through one snapshot read at
the start) whether its effect is already there, and skips itself if so. State lives in the
tenant plus the run journal, so each exercise can run in its own process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from d365lab.labs import timeutil
from d365lab.labs.lab_time import is_explicit, is_lab_default, lab_time_zone
from d365lab.labs.locate import Locator, journal_is_stale
from d365lab.labs.run_journal import Journal, journal_path, scope_lock
from d365lab.labs.sales_steps import stage_label
from d365lab.labs.spec import LabSpec, Language, TaskSpec, clean_prefix
from d365lab.labs.step_specs import StepSpec
from d365lab.labs.steps import STEP_KINDS, LabRunError, RunContext
from d365lab.labs.tracking import track_discovered
from d365lab.labs.wording import say

if TYPE_CHECKING:
    from d365lab.client import DataverseClient


@dataclass
class StepOutcome:
    """What happened to one step."""

    task: str
    kind: str
    record: str
    performed: bool
    detail: str


@dataclass
class RunSummary:
    """The outcome of a run: steps performed or skipped, and where the journal is."""

    journal_path: str
    time_zone: str
    #: where the time zone came from (see :func:`d365lab.labs.lab_time.lab_time_zone`)
    time_zone_source: str = ""
    steps: list[StepOutcome] = field(default_factory=list)
    #: Tasks after ``upto`` the journal shows done: the tenant is past the state asked for.
    done_beyond: list[str] = field(default_factory=list)

    @property
    def performed(self) -> int:
        """How many steps changed the tenant."""
        return sum(1 for s in self.steps if s.performed)

    @property
    def skipped(self) -> int:
        """How many steps were already done."""
        return sum(1 for s in self.steps if not s.performed)


def tasks_to_run(lab: LabSpec, exercise: str | None = None, upto: str | None = None) -> list[TaskSpec]:
    """The tasks of ``--exercise`` (or all), cut after ``--upto`` when given."""
    chosen = [t for ex in lab.select_exercises(exercise) for t in ex.tasks]
    if upto is None:
        return chosen
    allowed = {t.id for t in lab.tasks_upto(upto)}
    return [t for t in chosen if t.id in allowed]


def run_lab(client: DataverseClient, lab: LabSpec, *, lang: Language, prefix: str = "", time_zone: str | None = None,
            exercise: str | None = None, upto: str | None = None,
            log: Callable[[str], None] = lambda _msg: None) -> RunSummary:
    """Perform the selected tasks in order, skipping what is already done.

    ``time_zone`` is ``--timezone``; without it ``$D365LAB_TIMEZONE``, then the signed-in
    user's personal time zone in the tenant (usersettings, what the app converts "16:30"
    with), then the journal's, then the lab default for ``lang`` is used.

    Only records this run's journal tracks (and those linked to them) are used: leads with
    the same topic from elsewhere are left alone, and a later exercise without the earlier
    one's records stops with a message saying what to run first.

    Raises :class:`~d365lab.labs.steps.LabRunError` when a task needs a record an earlier
    exercise creates and it is not there, and :class:`~d365lab.labs.run_journal.RunJournalError`
    when the journal is unreadable or another run of the scope holds it.
    """
    prefix = clean_prefix(prefix)
    timeutil.resolve_time_zone(lab, lang, time_zone)  # a bad name fails before any request
    me = client.whoami()
    org = str(me.organization_id)
    path = journal_path(lab.lab.key, org, lang, prefix, client.tenant_label)
    tz, tz_source = lab_time_zone(client, lab, lang, time_zone, caller_id=str(me.user_id))

    def open_journal() -> Journal:
        return Journal.open_or_start(path, lab_id=lab.lab.id, organization_id=org, tenant=client.tenant_label,
                                     language=lang, prefix=prefix, time_zone=tz,
                                     time_zone_explicit=is_explicit(tz_source))

    with scope_lock(path):
        summary = _run_locked(client, lab, lang, prefix, (tz, tz_source), tasks_to_run(lab, exercise, upto), log,
                              open_journal)
    if upto is not None:
        journal = Journal.load(path, prefix=prefix)
        after = lab.task_ids()[lab.order_of(lab.resolve_upto(upto)) + 1:]
        summary.done_beyond = [t for t in after if journal is not None and journal.is_done(t)]
    return summary


def _run_locked(client: DataverseClient, lab: LabSpec, lang: Language, prefix: str, zone: tuple[str, str],
                tasks: list[TaskSpec], log: Callable[[str], None], open_journal: Callable[[], Journal]) -> RunSummary:
    tz, tz_source = zone
    journal = open_journal()
    snapshot = Locator(client, lab, lang, prefix, journal, lenient=False, only_tracked=True).snapshot()
    if journal_is_stale(journal, lab, snapshot):
        log(say(lang, "stale_journal"))
        journal.delete()
        journal = open_journal()
        snapshot = Locator(client, lab, lang, prefix, journal, lenient=False, only_tracked=True).snapshot()
    track_discovered(journal, snapshot, log, lang)  # what a run killed mid-step made, so cleanup deletes it
    if journal.data.tasks and is_lab_default(tz_source) and journal.data.time_zone:
        tz, tz_source = journal.data.time_zone, say(lang, "tz_journal")  # keep the zone the earlier steps were done in
    ctx = RunContext(client=client, lab=lab, lang=lang, prefix=prefix, tz=tz, journal=journal,
                     snapshot=snapshot, today=timeutil.local_date(timeutil.now_utc(), tz), log=log)
    summary = RunSummary(journal_path=str(journal.path), time_zone=tz, time_zone_source=tz_source)
    for task in tasks:
        performed_any = False
        for step in task.steps:
            kind = STEP_KINDS.get(step.kind)
            if kind is None:
                known = ", ".join(sorted(STEP_KINDS))
                raise LabRunError(f"{task.id}: unknown step kind {step.kind!r} (known: {known})")
            if kind.is_done(ctx, task, step):
                outcome = StepOutcome(task.id, step.kind, step.record, False, already_done(lab, lang, step))
            else:
                outcome = StepOutcome(task.id, step.kind, step.record, True, kind.perform(ctx, task, step))
                performed_any = True
            summary.steps.append(outcome)
            word = say(lang, "step_done" if outcome.performed else "step_skipped")
            log(f"{task.id} {word} {step.kind} {step.record}{say(lang, 'colon')}{outcome.detail}")
        if performed_any:
            # a task first done today keeps today; one finished again keeps its first day
            journal.mark_done(task.id, ctx.step_day(task))
    return summary


def already_done(lab: LabSpec, lang: Language, step: StepSpec) -> str:
    """Why a step was skipped, in words a student understands."""
    if step.kind == "move_process_flow":
        # the first run on a fresh tenant meets this at ex3.t1.c: QualifyLead moved the flow already
        return say(lang, "skip_stage", stage=stage_label(lab, lang, str(step.arg("stage"))))
    return say(lang, "skip_done")
