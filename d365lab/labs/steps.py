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
from d365lab.labs.run_journal import Journal
from d365lab.labs.snapshot import LocatedRecord, Row, Snapshot
from d365lab.labs.spec import LabSpec, Language, TaskSpec, localize
from d365lab.labs.step_specs import StepSpec
from d365lab.labs.values import read_value, same_value
from d365lab.labs.wording import say
from d365lab.models.schema import table

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
                if any(alias in step.created_records() for step in task.steps):
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



def _was_created_here(ctx: RunContext, alias: str) -> bool:
    """True when the record is located and this run scope created it.

    A record found by a field alone (a lead by its topic) might be someone else's (sample data,
    an old attempt): only the journal's own counts. One found by a link to a record of the run
    is the run's.
    """
    located = ctx.snapshot.records[alias]
    if located.id is None:
        return False
    return ctx.lab.records[alias].find.link is not None or ctx.journal.record_id(alias) == located.id


def create_tracked(ctx: RunContext, task: TaskSpec, alias: str, body: dict[str, Any]) -> str:
    """Create record ``alias`` with ``body``; the id is chosen and journaled before the request.

    A run killed before hearing back finds the record by that id next time, and cleanup
    deletes it either way.
    """
    entity = ctx.lab.records[alias].entity
    record_id = ctx.journal.pending_id("create", alias) or str(uuid.uuid4())
    ctx.journal.start("create", alias, record_id, entity=entity, task=task.id)
    return ctx.client.records.create(entity, {**body, table(entity).primary_id: record_id})


@step_kind("create")
@step_kind("create_lead")
class Create(StepKind):
    """Create the record: its find value (with the run's prefix when the find says so) and ``values``;
    ``regarding`` binds an activity to another record, ``due`` sets ``scheduledend``."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return _was_created_here(ctx, step.record)

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        entity = ctx.lab.records[step.record].entity
        find = ctx.lab.records[step.record].find
        values: dict[str, Any] = {}
        if find.field is not None and find.value is not None:
            values[find.field] = ctx.lab.find_value(step.record, ctx.lang, ctx.prefix)
        values.update(resolve_values(ctx, task, step.arg("values") or {}))
        row: dict[str, Any] = {}
        body = dict(values)
        if step.arg("regarding"):
            regarding = ctx.require(str(step.arg("regarding")), task)
            nav = table(entity).bind_name("regardingobjectid", regarding.entity)
            body[f"{nav}@odata.bind"] = ctx.client.bind(regarding.entity, regarding.id or "")
            row["_regardingobjectid_value"] = regarding.id
        due_spec = step.arg("due")
        if due_spec is not None:
            day = timeutil.relative_date(ctx.step_day(task), due_spec.days)
            body["scheduledend"] = row["scheduledend"] = timeutil.to_wire(
                timeutil.local_moment(day, due_spec.local_time, ctx.tz))
        record_id = create_tracked(ctx, task, step.record, body)
        ctx.remember(step.record, record_id, {**values, **row, "statecode": 0, "statuscode": 1,
                                             "createdon": timeutil.to_wire(timeutil.now_utc())}, task=task)
        ctx.journal.finish("create", step.record)
        if entity == "lead":
            return say(ctx.lang, "did_create_lead", subject=repr(values.get(find.field or "subject")), id=record_id)
        return say(ctx.lang, "did_create", entity=entity, record=step.record, id=record_id)


@step_kind("update")
@step_kind("update_record")
class Update(StepKind):
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


@step_kind("set_state")
class SetState(StepKind):
    """Give a record a statecode and statuscode (deactivate an account, cancel a task...)."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        row = ctx.snapshot.row(step.record)
        return _state(row) == step.arg("state") and (row or {}).get("statuscode") in (None, step.arg("status"))

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        located = ctx.require(step.record, task)
        state, status = int(step.arg("state")), int(step.arg("status"))
        ctx.client.records.update(located.entity, located.id or "", {"statecode": state, "statuscode": status})
        assert located.row is not None
        located.row.update(statecode=state, statuscode=status)
        return say(ctx.lang, "did_set_state", record=step.record, state=state, status=status)


@step_kind("call_action")
class CallAction(StepKind):
    """Call an action, bound to the record or not. Its effect is not read back: the journal counts."""

    def is_done(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> bool:
        return ctx.journal.is_done(task.id)

    def perform(self, ctx: RunContext, task: TaskSpec, step: StepSpec) -> str:
        located = ctx.require(step.record, task)
        action = str(step.arg("action"))
        parameters = resolve_values(ctx, task, step.arg("parameters") or {})
        bound = (located.entity, located.id) if step.arg("bound") else None
        ctx.client.actions.call(action, parameters, bound=bound)
        adopt_linked(ctx, task, step.record, how=f"created by {action} on {step.record}")
        return say(ctx.lang, "did_call_action", action=action, record=step.record)


def adopt_linked(ctx: RunContext, task: TaskSpec, alias: str, *, how: str) -> None:
    """Locate (and track, for cleanup) the lab's records found by a link to ``alias`` that a message made.

    An action's results are not read back, but what it created may be what later steps work on
    (an opportunity made by ``QualifyLead``): each record of the lab whose ``find`` links to
    ``alias`` and is not located yet is looked up once.
    """
    parent_id = ctx.snapshot.id_of(alias)
    for name, spec in ctx.lab.records.items():
        if spec.find.to != alias or spec.find.link is None or ctx.snapshot.id_of(name) is not None:
            continue
        pk = table(spec.entity).primary_id
        wanted = ctx.lab.find_value(name, ctx.lang, ctx.prefix) if spec.find.field else None
        columns = [pk, *([spec.find.field] if spec.find.field else [])]
        for row in ctx.client.records.list(spec.entity, filter=f"_{spec.find.link}_value eq {parent_id}",
                                           select=columns):
            if spec.find.field is None or row.get(spec.find.field) == wanted:
                ctx.remember(name, str(row[pk]), {k: v for k, v in row.items() if not k.startswith("@")},
                             task=task, how=how)
                break


# the Sales kinds (qualify, disqualify, process flows, activities, win/lose) register on import
from d365lab.labs import sales_steps  # noqa: E402, F401
