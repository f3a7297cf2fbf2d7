"""Step kinds: what the runner can do to a tenant, each with "is it already done?".

A lab's YAML names a ``kind`` per step; adding a lab means adding data and, at most, new
kinds here (register them with :func:`step_kind`). Every kind uses the Sales verbs of the
client, keeps the run's :class:`~d365lab.labs.snapshot.Snapshot` current with what it
wrote (so the runner needs no re-reads), and tracks what it created in the journal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from d365lab.labs import timeutil
from d365lab.labs.journal import Journal
from d365lab.labs.snapshot import LocatedRecord, Row, Snapshot
from d365lab.labs.spec import LabSpec, Language, StepSpec, TaskSpec, localize
from d365lab.labs.values import read_value, same_value
from d365lab.labs.wording import say
from d365lab.models.enums import (
    LeadState,
    LeadStatus,
    OpportunityState,
    OpportunityStatus,
    PhoneCallState,
    PhoneCallStatus,
    ProcessFlowState,
    ProcessFlowStatus,
)
from d365lab.models.schema import STAGE_IDS, table
from d365lab.sales.leads import disqualify_status

if TYPE_CHECKING:
    from d365lab.client import DataverseClient


class LabRunError(Exception):
    """A step cannot run (a prerequisite record is missing); the message says what to do."""


@dataclass
class RunContext:
    """What a step sees: the client, the lab, the run scope, the journal and the snapshot."""

    client: DataverseClient
    lab: LabSpec
    lang: Language
    prefix: str
    tz: str
    journal: Journal
    snapshot: Snapshot
    today: date
    log: Callable[[str], None] = field(default=lambda _msg: None)

    def step_day(self, task: TaskSpec) -> date:
        """The day a task is (or was) performed on: the journal's day if done before, else today."""
        return self.journal.step_days().get(task.id, self.today)

    def require(self, alias: str, task: TaskSpec) -> LocatedRecord:
        """The located record ``alias``, or a :class:`LabRunError` saying which task creates it."""
        located = self.snapshot.records[alias]
        if located.id is None:
            root = alias  # the first missing record of the chain decides what to run first
            while (parent := self.lab.records[root].find.to) and self.snapshot.id_of(parent) is None:
                root = parent
            first = self.creating_exercise(root)
            todo = (say(self.lang, "run_first", first=first) if first else say(self.lang, "run_earlier"))
            raise LabRunError(say(self.lang, "needs_record", task=task.id, alias=alias, entity=located.entity,
                                  how=located.how, todo=todo))
        return located

    def creating_exercise(self, alias: str) -> str | None:
        """The number of the exercise whose steps create ``alias`` (``"1"``), if any."""
        for exercise in self.lab.exercises:
            for task in exercise.tasks:
                for step in task.steps:
                    creates = step.arg("creates") or {}
                    if (step.kind.startswith("create_") and step.record == alias) or alias in creates.values():
                        return exercise.id.removeprefix("ex")
        return None

    def remember(self, alias: str, record_id: str, row: Row, *, task: TaskSpec, how: str = "created by the runner",
                 track: bool = True) -> None:
        """Put a record the runner created into the snapshot (and the journal)."""
        entity = self.lab.records[alias].entity
        located = self.snapshot.records[alias]
        located.id = record_id.lower()
        located.row = {table(entity).primary_id: located.id, **row}
        located.how = how
        if track:
            self.journal.track(entity, located.id, alias=alias, task=task.id)


class StepKind:
    """Base of step kinds: ``is_done`` looks at the snapshot, ``perform`` changes the tenant."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        """True when the tenant already shows this step's effect."""
        raise NotImplementedError

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        """Do the step; return a short description of what was done."""
        raise NotImplementedError


STEP_KINDS: dict[str, StepKind] = {}


def step_kind(name: str) -> Callable[[type[StepKind]], type[StepKind]]:
    """Class decorator registering a step kind under ``name``."""
    def register(cls: type[StepKind]) -> type[StepKind]:
        STEP_KINDS[name] = cls()
        return cls
    return register


def resolve_values(ctx: RunContext, task: TaskSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Localize a step's values and turn ``{relative_date: {days: n}}`` into ``YYYY-MM-DD``."""
    out: dict[str, Any] = {}
    for column, value in values.items():
        if isinstance(value, dict) and "relative_date" in value:
            days = int(value["relative_date"].get("days", 0))
            out[column] = timeutil.relative_date(ctx.step_day(task), days).isoformat()
        else:
            out[column] = localize(value, ctx.lang)
    return out


def _state(row: Row | None) -> int | None:
    value = row.get("statecode") if row else None
    return int(value) if isinstance(value, int) else None


def _set_state(located: LocatedRecord, state: IntEnum, status: IntEnum) -> None:
    """Record in the snapshot the state a verb just gave the record (so no re-read is needed)."""
    assert located.row is not None  # ctx.require located it, with its row
    located.row.update(statecode=int(state), statuscode=int(status))


class _StateStep(StepKind):
    """A step whose effect is a state: done when the record is in ``state`` already."""

    state: IntEnum

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return _state(ctx.snapshot.row(step.record)) == self.state


@step_kind("create_lead")
class CreateLead(StepKind):
    """Create a lead with its find value (subject + prefix) and the given values."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        # only a lead this run scope created counts: one with the same topic from elsewhere
        # (sample data, an old attempt, a student's own) is left alone
        located = ctx.snapshot.records[step.record]
        return located.id is not None and ctx.journal.record_id(step.record) == located.id

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        find = ctx.lab.records[step.record].find
        values = {find.field or "subject": ctx.lab.find_value(step.record, ctx.lang, ctx.prefix)}
        values.update(resolve_values(ctx, task, step.arg("values") or {}))
        # the id is chosen here and journaled before the request: a run killed before hearing
        # back finds the lead by that id next time, and cleanup deletes it either way
        lead_id = ctx.journal.pending_id("create", step.record) or str(uuid.uuid4())
        ctx.journal.start("create", step.record, lead_id, entity="lead", task=task.id)
        lead_id = ctx.client.records.create("lead", {**values, table("lead").primary_id: lead_id})
        ctx.remember(step.record, lead_id, {**values, "statecode": int(LeadState.OPEN),
                                           "statuscode": int(LeadStatus.NEW),
                                           "createdon": timeutil.to_wire(timeutil.now_utc())}, task=task)
        ctx.journal.finish("create", step.record)
        return say(ctx.lang, "did_create_lead", subject=repr(values[find.field or "subject"]), id=lead_id)


@step_kind("qualify_lead")
class QualifyLead(_StateStep):
    """Qualify a lead (QualifyLead action) and remember the records it created."""

    state = LeadState.QUALIFIED

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        lead = ctx.require(step.record, task)
        creates: dict[str, str] = step.arg("creates") or {}
        # journaled before the request: if the run dies before the answer, the next run (or
        # cleanup) looks for what the qualification made (tracking.py) instead of losing it
        ctx.journal.start("qualify", step.record, lead.id or "")
        result = ctx.client.leads.qualify(lead.id or "", create_account=bool(step.arg("create_account", False)),
                                          create_contact=True, create_opportunity=True)
        made = {"account": result.account_id, "contact": result.contact_id, "opportunity": result.opportunity_id}
        for kind, record_id in made.items():
            if not record_id:
                continue
            alias = creates.get(kind)
            if alias is not None:
                ctx.remember(alias, record_id, {"_originatingleadid_value": lead.id}, task=task,
                             how=f"created by qualifying {step.record}")
            else:
                ctx.journal.track(kind, record_id, task=task.id)
        _set_state(lead, LeadState.QUALIFIED, LeadStatus.QUALIFIED)
        ctx.journal.finish("qualify", step.record)
        made_text = ", ".join(f"{k} {v}" for k, v in made.items() if v)
        return say(ctx.lang, "did_qualify", record=step.record, made=made_text)


@step_kind("disqualify_lead")
class DisqualifyLead(StepKind):
    """Disqualify a lead with a reason. The state is transient, so the journal also counts."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return (_state(ctx.snapshot.row(step.record)) == LeadState.DISQUALIFIED
                or ctx.journal.is_done(task.id))

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        lead = ctx.require(step.record, task)
        reason = str(step.arg("reason", "no_longer_interested"))
        ctx.client.leads.disqualify(lead.id or "", reason=reason)
        _set_state(lead, LeadState.DISQUALIFIED, disqualify_status(reason))
        return say(ctx.lang, "did_disqualify", record=step.record, reason=reason)


@step_kind("reactivate_lead")
class ReactivateLead(StepKind):
    """Reactivate a lead that the task named in ``after`` disqualified."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        after = step.arg("after")
        return _state(ctx.snapshot.row(step.record)) == LeadState.OPEN and (
            after is None or ctx.journal.is_done(str(after)))

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        lead = ctx.require(step.record, task)
        ctx.client.leads.reactivate(lead.id or "")
        _set_state(lead, LeadState.OPEN, LeadStatus.NEW)
        return say(ctx.lang, "did_reactivate", record=step.record)


@step_kind("update_record")
class UpdateRecord(StepKind):
    """Set columns on a record (opportunities through the Sales verb)."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        row = ctx.snapshot.row(step.record)
        if row is None:
            return False
        entity = ctx.lab.records[step.record].entity
        wanted = resolve_values(ctx, task, step.arg("values") or {})
        return all(same_value(v, read_value(row, entity, k)) for k, v in wanted.items())

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        located = ctx.require(step.record, task)
        values = resolve_values(ctx, task, step.arg("values") or {})
        if located.entity == "opportunity":
            ctx.client.opportunities.update(located.id or "", values)
        else:
            ctx.client.records.update(located.entity, located.id or "", values)
        assert located.row is not None
        located.row.update(values)
        return say(ctx.lang, "did_update", record=step.record, columns=", ".join(values))


@step_kind("create_phonecall")
class CreatePhoneCall(StepKind):
    """Create a phone call regarding a record, due at a local time on a relative day."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return ctx.snapshot.id_of(step.record) is not None

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        regarding = ctx.require(str(step.arg("regarding")), task)
        due_spec: dict[str, Any] = step.arg("due") or {}
        day = timeutil.relative_date(ctx.step_day(task), int(due_spec.get("days", 0)))
        due = timeutil.local_moment(day, str(due_spec.get("local_time", "09:00")), ctx.tz)
        subject = str(localize(step.arg("subject"), ctx.lang))
        call_id = ctx.client.phonecalls.create(subject=subject, due=due,
                                               regarding=(regarding.entity, regarding.id or ""))
        ctx.remember(step.record, call_id, {
            "subject": subject, "scheduledend": timeutil.to_wire(due), "statecode": int(PhoneCallState.OPEN),
            "statuscode": int(PhoneCallStatus.OPEN),
            "_regardingobjectid_value": regarding.id, "createdon": timeutil.to_wire(timeutil.now_utc())}, task=task)
        return say(ctx.lang, "did_call", subject=repr(subject),
                   due=f"{due.astimezone(timeutil.zone_of(ctx.tz)):%Y-%m-%d %H:%M} {ctx.tz}")


def _flow(ctx: RunContext, task: TaskSpec, step: StepSpec) -> LocatedRecord:
    """The process-flow instance of the step's opportunity, found or created, with its row."""
    located = ctx.snapshot.records[step.record]
    if located.id is None:
        opportunity = ctx.require(str(step.arg("opportunity")), task)
        flow = ctx.client.process_flows.for_opportunity(opportunity.id or "", create=True)
        ctx.remember(step.record, str(flow.id), {}, task=task, how="process flow of the opportunity")
    if located.row is None or "traversedpath" not in located.row:
        row = ctx.client.records.get(located.entity, located.id or "",
                                     select=["traversedpath", "_activestageid_value", "statecode", "statuscode"])
        located.row = {**(located.row or {}), **row}
    return located


def stage_label(lab: LabSpec, lang: Language, stage: str) -> str:
    """A stage's name in the lab language (``Proposer`` for ``Propose``)."""
    labels = lab.stage_labels.get(stage)
    return str(localize(labels, lang)) if labels else stage


def _stage_id(ctx: RunContext, stage: str) -> str:
    """A stage id by name, as the tenant's ``processstages`` say (the OOB id as a fallback)."""
    return (ctx.snapshot.stage_ids.get(stage) or STAGE_IDS.get(stage, "")).lower()


def _visited(row: Row | None) -> list[str]:
    return [s.strip().lower() for s in str((row or {}).get("traversedpath") or "").split(",") if s.strip()]


@step_kind("move_process_flow")
class MoveProcessFlow(StepKind):
    """Move the opportunity's process flow to a named stage (adjacent moves)."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        if ctx.snapshot.id_of(str(step.arg("opportunity"))) is None:
            return False
        row = _flow(ctx, task, step).row
        stage_id = _stage_id(ctx, str(step.arg("stage")))
        return row is not None and (stage_id in _visited(row) or _state(row) == ProcessFlowState.INACTIVE)

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        stage = str(step.arg("stage"))
        flow = _flow(ctx, task, step)
        stage_id = _stage_id(ctx, stage)
        ctx.client.process_flows.move_to(flow.id or "", stage)
        assert flow.row is not None
        flow.row["traversedpath"] = ",".join([*_visited(flow.row), stage_id])
        flow.row["_activestageid_value"] = stage_id
        return say(ctx.lang, "did_move", stage=stage_label(ctx.lab, ctx.lang, stage))


@step_kind("finish_process_flow")
class FinishProcessFlow(_StateStep):
    """Finish the process flow (at its last stage)."""

    state = ProcessFlowState.INACTIVE

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        flow = ctx.require(step.record, task)
        ctx.client.process_flows.finish(flow.id or "")
        _set_state(flow, ProcessFlowState.INACTIVE, ProcessFlowStatus.FINISHED)
        return say(ctx.lang, "did_finish")


@step_kind("complete_phonecall")
class CompletePhoneCall(_StateStep):
    """Mark a phone call complete (Made)."""

    state = PhoneCallState.COMPLETED

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        call = ctx.require(step.record, task)
        ctx.client.phonecalls.complete(call.id or "")
        _set_state(call, PhoneCallState.COMPLETED, PhoneCallStatus.MADE)
        return say(ctx.lang, "did_complete", record=step.record)


@step_kind("win_opportunity")
class WinOpportunity(_StateStep):
    """Close an opportunity as won (WinOpportunity) and track the close activity it creates."""

    state = OpportunityState.WON

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        opportunity = ctx.require(step.record, task)
        ctx.client.opportunities.win(opportunity.id or "")
        _set_state(opportunity, OpportunityState.WON, OpportunityStatus.WON)
        close_alias = step.arg("close_record")
        if close_alias:
            entity = ctx.lab.records[str(close_alias)].entity
            pk = table(entity).primary_id
            for row in ctx.client.records.list(entity, filter=f"_opportunityid_value eq {opportunity.id}",
                                               select=[pk]):
                ctx.remember(str(close_alias), str(row[pk]), {}, task=task, how="close activity of the win")
        return say(ctx.lang, "did_win", record=step.record)
