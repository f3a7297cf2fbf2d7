"""The Sales step kinds: qualify, disqualify and reactivate leads, phone calls, process flows,
complete activities, win and lose opportunities (registered in :data:`~d365lab.labs.steps.STEP_KINDS`)."""

from __future__ import annotations

from d365lab.labs import timeutil
from d365lab.labs.snapshot import LocatedRecord, Row
from d365lab.labs.spec import LabSpec, Language, TaskSpec, localize
from d365lab.labs.step_specs import DueSpec, StepSpec
from d365lab.labs.steps import (
    RunContext,
    StepKind,
    _set_state,
    _state,
    _StateStep,
    step_kind,
)
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

#: The statecode of a completed activity (every activity table).
COMPLETED = 1


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
        if ctx.journal.is_done(task.id):
            return True  # a later task may qualify the lead again: reopening it then would undo that
        return _state(ctx.snapshot.row(step.record)) == LeadState.OPEN and (
            after is None or ctx.journal.is_done(str(after)))

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        lead = ctx.require(step.record, task)
        ctx.client.leads.reactivate(lead.id or "")
        _set_state(lead, LeadState.OPEN, LeadStatus.NEW)
        return say(ctx.lang, "did_reactivate", record=step.record)


@step_kind("create_phonecall")
class CreatePhoneCall(StepKind):
    """Create a phone call regarding a record, due at a local time on a relative day."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return ctx.snapshot.id_of(step.record) is not None

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        regarding = ctx.require(str(step.arg("regarding")), task)
        due_spec: DueSpec = step.arg("due") or DueSpec()
        day = timeutil.relative_date(ctx.step_day(task), due_spec.days)
        due = timeutil.local_moment(day, due_spec.local_time, ctx.tz)
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


@step_kind("complete_activity")
@step_kind("complete_phonecall")
class CompleteActivity(StepKind):
    """Mark an activity completed (a phone call: Made; others: their table's default Completed status)."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return _state(ctx.snapshot.row(step.record)) == COMPLETED

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        activity = ctx.require(step.record, task)
        if activity.entity == "phonecall":
            ctx.client.phonecalls.complete(activity.id or "")
            status = int(PhoneCallStatus.MADE)
        else:
            states = table(activity.entity).states
            status = (states.default_status(COMPLETED) if states else None) or 1
            ctx.client.records.update(activity.entity, activity.id or "", {"statecode": COMPLETED,
                                                                             "statuscode": status})
        assert activity.row is not None
        activity.row.update(statecode=COMPLETED, statuscode=status)
        return say(ctx.lang, "did_complete", record=step.record)


def _track_close(ctx: RunContext, task: TaskSpec, step: StepSpec, opportunity_id: str, how: str) -> None:
    """Remember the close activity a win or a loss created, under the step's ``close_record``."""
    close_alias = step.arg("close_record")
    if not close_alias:
        return
    entity = ctx.lab.records[str(close_alias)].entity
    pk = table(entity).primary_id
    for row in ctx.client.records.list(entity, filter=f"_opportunityid_value eq {opportunity_id}", select=[pk]):
        ctx.remember(str(close_alias), str(row[pk]), {}, task=task, how=how)


@step_kind("win")
@step_kind("win_opportunity")
class Win(_StateStep):
    """Close an opportunity as won (WinOpportunity) and track the close activity it creates."""

    state = OpportunityState.WON

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        opportunity = ctx.require(step.record, task)
        # The app's close dialog fills Actual Close Date with the user's today (their time zone,
        # not UTC's): a tenant left to pick the day itself may take another one around midnight.
        ctx.client.opportunities.win(opportunity.id or "", close_date=ctx.step_day(task))
        _set_state(opportunity, OpportunityState.WON, OpportunityStatus.WON)
        _track_close(ctx, task, step, opportunity.id or "", "close activity of the win")
        return say(ctx.lang, "did_win", record=step.record)


@step_kind("lose")
class Lose(_StateStep):
    """Close an opportunity as lost (LoseOpportunity, ``status`` 4 canceled or 5 out-sold)."""

    state = OpportunityState.LOST

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        opportunity = ctx.require(step.record, task)
        status = OpportunityStatus(int(step.arg("status", 4)))
        ctx.client.opportunities.lose(opportunity.id or "", status=status, close_date=ctx.step_day(task))
        _set_state(opportunity, OpportunityState.LOST, status)
        _track_close(ctx, task, step, opportunity.id or "", "close activity of the loss")
        return say(ctx.lang, "did_lose", record=step.record)
