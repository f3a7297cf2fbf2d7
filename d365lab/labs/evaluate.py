"""Evaluate a task's expectations against a :class:`~d365lab.labs.snapshot.Snapshot`.

Pure functions over fetched rows: no HTTP here, so the engine is tested with plain dicts
and the checker only decides *what* to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from d365lab.labs import timeutil
from d365lab.labs.history import HistorySource
from d365lab.labs.results import CheckResult, CheckStatus
from d365lab.labs.snapshot import Snapshot
from d365lab.labs.spec import Expectation, LabSpec, Language, RelativeDate, TaskSpec, localize
from d365lab.labs.values import (
    exact_text_differs,
    field_label,
    is_date_only,
    lookup_label,
    normalize_text,
    option_label,
    read_value,
    same_value,
    show,
)
from d365lab.labs.wording import say
from d365lab.models.enums import LeadState, LeadStatus


@dataclass
class EvalContext:
    """Everything a check needs besides the expectation itself."""

    lab: LabSpec
    lang: Language
    prefix: str
    tz: str
    snapshot: Snapshot
    #: Local day each task was performed on, from the run journal (task id -> day).
    step_days: dict[str, date] = field(default_factory=dict)
    #: Where states a later task undid are looked for, in order (see d365lab.labs.history).
    history: list[HistorySource] = field(default_factory=list)

    def expected_find_value(self, alias: str) -> Any:
        """The value a record is found by (with the run's prefix when the spec says so)."""
        return self.lab.find_value(alias, self.lang, self.prefix)

    def record_label(self, alias: str) -> str:
        """How a record is named to a person in the lab language."""
        return str(localize(self.lab.records[alias].label, self.lang))


class _Outcome:
    """Mutable scratch for building one CheckResult."""

    def __init__(self, ctx: EvalContext, check: Expectation, task_hint: dict[Language, str]) -> None:
        self.ctx = ctx
        self.check = check
        self.task_hint = task_hint
        self.passed = False
        self.expected: Any = None
        self.actual: Any = None
        self.expected_label: str | None = None
        self.actual_label: str | None = None
        self.message = ""
        self.hint_kind = "equals"
        self.inexact = False

    def result(self, description: str) -> CheckResult:
        check, ctx = self.check, self.ctx
        alias = check.record
        located = ctx.snapshot.records.get(alias) if alias else None
        status: CheckStatus = "pass" if self.passed else ("fail" if check.strict else "warn")
        hint = None if self.passed else self._hint()
        return CheckResult(
            id=check.id, description=description, status=status, passed=self.passed,
            strict=check.strict, record=alias, record_id=located.id if located else None,
            entity=located.entity if located else None, field=check.field,
            expected=self.expected, expected_label=self.expected_label,
            actual=self.actual, actual_label=self.actual_label, message=self.message, hint=hint,
            inexact=self.inexact,
        )

    def _hint(self) -> str:
        ctx, check = self.ctx, self.check
        if check.field in ("statecode", "statuscode") and self.hint_kind == "equals":
            if self._wrongly_qualified():
                # a qualified lead has no Disqualify button, and its qualification made records
                return say(ctx.lang, "wrongly_qualified", record=ctx.record_label(check.record or ""))
            # a state is changed by the task's action (Qualify, Close as won...), not by typing a value
            return str(localize(self.task_hint, ctx.lang))
        template = ctx.lab.hint_templates.get(self.hint_kind) or ctx.lab.hint_templates["equals"]
        record = (ctx.record_label(check.record) if check.record
                  else ctx.record_label(check.none_exists.to) if check.none_exists else "")
        return str(localize(template, ctx.lang)).format(
            record=record,
            field=field_label(ctx.lab, ctx.lang, check.field or ""),
            expected=self.expected_label or show(self.expected, ctx.lang),
            actual=self.actual_label or show(self.actual, ctx.lang),
        )


    def _wrongly_qualified(self) -> bool:
        """A lead the task wants in another state was qualified (e.g. the wrong one)."""
        check = self.check
        located = self.ctx.snapshot.records.get(check.record or "")
        if located is None or located.entity != "lead" or located.row is None:
            return False
        qualified = located.row.get("statecode") == int(LeadState.QUALIFIED)
        wanted = int(LeadState.QUALIFIED) if check.field == "statecode" else int(LeadStatus.QUALIFIED)
        return qualified and self.expected != wanted


def evaluate_task(ctx: EvalContext, task: TaskSpec) -> list[CheckResult]:
    """Evaluate every expectation of a task (never stopping at the first failure)."""
    return [evaluate_check(ctx, task, check) for check in task.expect]


def evaluate_check(ctx: EvalContext, task: TaskSpec, check: Expectation) -> CheckResult:
    """Evaluate one expectation and return its evidence."""
    out = _Outcome(ctx, check, task.hint)
    operator = check.operator
    if operator == "none_exists":
        return _none_exists(out)
    assert check.record is not None
    located = ctx.snapshot.records[check.record]
    entity = located.entity
    if operator == "task_done":
        # settled by the checker once every task is graded (see checker.settle_task_done)
        out.expected, out.passed = check.task_done, True
        return out.result(f"{check.task_done} known done")
    if operator == "exists":
        out.expected, out.actual = True, located.row is not None
        out.passed = out.actual is bool(check.exists)
        out.hint_kind = "missing"
        out.message = (f"found ({located.how}), id {located.id}" if located.row is not None else located.how)
        return out.result(f"{check.record} exists")
    description = f"{check.record}.{check.field} {operator.replace('_', ' ')}"
    if located.row is None:
        out.hint_kind = "missing"
        out.message = say(ctx.lang, "not_found", alias=check.record, entity=entity, how=located.how)
        out.actual_label = say(ctx.lang, "record_missing")  # never "(empty)", which reads like a value
        _expected_of_missing(out, task, operator)
        return out.result(description)
    assert check.field is not None
    row = located.row
    out.actual = read_value(row, entity, check.field)
    out.actual_label = option_label(ctx.lab, ctx.lang, entity, check.field, out.actual, row)
    if operator in ("equals", "equals_find", "equals_field"):
        _equals(out, task, operator)
    elif operator == "is_null":
        _is_null(out)
    elif operator == "ref":
        _ref(out, row, entity)
    elif operator in ("equals_relative_date", "equals_relative_datetime"):
        _relative(out, task, entity)
    elif operator in ("contains_stages", "equals_stage"):
        _stages(out, operator)
    return out.result(description)


def _equals(out: _Outcome, task: TaskSpec, operator: str) -> None:
    ctx, check = out.ctx, out.check
    if operator == "equals_find":
        assert check.record is not None
        out.expected = ctx.expected_find_value(check.record)
    elif operator == "equals_field":
        assert check.equals_field is not None
        alias, column = check.equals_field.split(".", 1)
        other = ctx.snapshot.row(alias)
        if other is None:
            out.message = say(ctx.lang, "cannot_compare", alias=alias)
            return
        out.expected = read_value(other, ctx.snapshot.records[alias].entity, column)
    else:
        out.expected = localize(check.equals, ctx.lang)
    entity = ctx.snapshot.records[check.record or ""].entity
    out.expected_label = option_label(ctx.lab, ctx.lang, entity, check.field or "", out.expected)
    out.passed = same_value(out.expected, out.actual)
    prefix = localize(check.accept_prefix, ctx.lang) if check.accept_prefix else None
    if not out.passed and isinstance(prefix, str) and isinstance(out.actual, str):
        if normalize_text(out.actual).startswith(normalize_text(prefix)):
            out.passed = True
            out.message = f"accepted: starts with the shorter text of the lab ({prefix!r})"
            return
    if out.passed and exact_text_differs(out.expected, out.actual):
        out.inexact = True
        out.message = say(ctx.lang, "inexact", actual=repr(out.actual), expected=repr(out.expected))


def _is_null(out: _Outcome) -> None:
    want_null = bool(out.check.is_null)
    out.expected = None if want_null else "(any value)"
    out.passed = (out.actual is None) == want_null
    out.hint_kind = "is_null" if want_null else "not_null"
    if not out.passed:
        out.message = (f"should be empty, found {_both(out.actual, out.actual_label)}" if want_null
                       else "is empty")


def _ref(out: _Outcome, row: dict[str, Any], entity: str) -> None:
    ctx, check = out.ctx, out.check
    assert check.ref is not None and check.field is not None
    target = ctx.snapshot.records[check.ref]
    out.hint_kind = "ref"
    out.expected = target.id
    out.expected_label = ctx.record_label(check.ref)
    out.actual_label = lookup_label(row, entity, check.field)
    if target.id is None:
        out.message = say(ctx.lang, "ref_target_missing", alias=check.ref)
        return
    out.passed = out.actual is not None and str(out.actual).lower() == target.id.lower()
    if not out.passed:
        out.message = f"points to {out.actual or '(nothing)'}, expected {check.ref} {target.id}"


def _anchor_day(out: _Outcome, task: TaskSpec, spec: RelativeDate) -> tuple[date | None, str]:
    """The day of the step: journal first, then the anchor timestamps; never the grader's clock."""
    ctx = out.ctx
    if task.id in ctx.step_days:
        day = ctx.step_days[task.id]
        return day, say(ctx.lang, "day_from_journal", task=task.id, day=day.isoformat())
    for anchor in spec.anchors:
        alias, column = anchor.split(".", 1)
        row = ctx.snapshot.row(alias)
        stamp = row.get(column) if row else None
        if isinstance(stamp, str):
            day = timeutil.local_date(stamp, ctx.tz)
            return day, say(ctx.lang, "day_from_anchor", anchor=anchor, day=day.isoformat())
    return None, say(ctx.lang, "no_day")


def _relative(out: _Outcome, task: TaskSpec, entity: str) -> None:
    ctx, check = out.ctx, out.check
    spec = check.equals_relative_date or check.equals_relative_datetime
    assert spec is not None and check.field is not None
    day, source = _anchor_day(out, task, spec)
    if day is None:
        out.message = source
        return
    target_day = timeutil.relative_date(day, spec.days)
    if check.equals_relative_date is not None:
        out.expected = target_day.isoformat()
        actual_day = _as_day(out.actual, entity, check.field, ctx.tz)
        out.actual_label = actual_day
        out.passed = actual_day == out.expected
    else:
        moment = timeutil.local_moment(target_day, spec.local_time or "00:00", ctx.tz)
        out.expected = timeutil.to_wire(moment)
        out.expected_label = f"{target_day.isoformat()} {spec.local_time} {ctx.tz}"
        if isinstance(out.actual, str):
            actual = timeutil.parse_timestamp(out.actual)
            out.actual_label = timeutil.describe_local(out.actual, ctx.tz)
            out.passed = actual.replace(second=0, microsecond=0) == moment.replace(second=0, microsecond=0)
    # the evidence names the step's day (where "today" / "tomorrow" count from), then the target
    expected = out.expected_label or target_day.isoformat()
    sep = say(ctx.lang, "sep")
    out.message = f"{source}{sep}{say(ctx.lang, 'expected_day', expected=expected)}" + (
        "" if out.passed else f"{sep}{say(ctx.lang, 'found', actual=out.actual_label or say(ctx.lang, 'empty'))}")


def _expected_of_missing(out: _Outcome, task: TaskSpec, operator: str) -> None:
    """What a missing record should have held, so the evidence still says what was expected."""
    ctx, check = out.ctx, out.check
    if operator == "equals_field" and check.equals_field:
        alias, column = check.equals_field.split(".", 1)
        other = ctx.snapshot.row(alias)
        out.expected = read_value(other, ctx.snapshot.records[alias].entity, column) if other else None
        out.expected_label = None if other else say(ctx.lang, "value_of", alias=alias, field=column)
    elif operator in ("equals_relative_date", "equals_relative_datetime"):
        spec = check.equals_relative_date or check.equals_relative_datetime
        assert spec is not None
        day, _source = _anchor_day(out, task, spec)
        when = timeutil.relative_date(day, spec.days).isoformat() if day else say(ctx.lang, "step_day",
                                                                                  days=spec.days)
        out.expected_label = f"{when} {spec.local_time} {ctx.tz}" if spec.local_time else when
    elif operator == "is_null" and not check.is_null:
        out.expected_label = say(ctx.lang, "any_value")
    elif operator == "equals_find" and check.record:
        out.expected = ctx.expected_find_value(check.record)
    elif operator == "equals":
        out.expected = localize(check.equals, ctx.lang)
        entity = ctx.snapshot.records[check.record or ""].entity
        out.expected_label = option_label(ctx.lab, ctx.lang, entity, check.field or "", out.expected)
    elif operator == "is_null":
        out.expected = None if check.is_null else "(any value)"
    elif operator == "ref" and check.ref:
        out.expected = ctx.snapshot.id_of(check.ref)
        out.expected_label = ctx.record_label(check.ref)
    elif operator in ("contains_stages", "equals_stage"):
        names = check.contains_stages or [check.equals_stage or ""]
        out.expected_label = ", ".join(_stage_label(ctx, n) for n in names)


def _as_day(value: Any, entity: str, column: str, tz: str) -> str | None:
    if not isinstance(value, str):
        return None
    if is_date_only(entity, column) or len(value) == 10:
        return value[:10]
    return timeutil.local_date(value, tz).isoformat()


def _stages(out: _Outcome, operator: str) -> None:
    ctx, check = out.ctx, out.check
    snap = ctx.snapshot
    # the hint names what the check read: every stage visited, or the active stage only
    out.hint_kind = "stage" if operator == "contains_stages" else "active_stage"
    names = check.contains_stages if operator == "contains_stages" else [check.equals_stage or ""]
    assert names is not None
    wanted = [snap.stage_ids.get(name, name).lower() for name in names]
    out.expected = ",".join(wanted)
    out.expected_label = ", ".join(_stage_label(ctx, n) for n in names)
    if operator == "contains_stages":
        visited = [s.strip().lower() for s in str(out.actual or "").split(",") if s.strip()]
        out.actual_label = ", ".join(_stage_label(ctx, snap.stage_name(s)) for s in visited) or "(none)"
        out.passed = all(w in visited for w in wanted)
        missing = [n for n, w in zip(names, wanted, strict=True) if w not in visited]
        if missing:
            out.message = say(ctx.lang, "stages_not_visited", stages=", ".join(_stage_label(ctx, n) for n in missing))
    else:
        actual = str(out.actual or "").lower()
        out.actual_label = _stage_label(ctx, snap.stage_name(actual)) if actual else "(none)"
        out.passed = actual == wanted[0]
        if not out.passed:
            out.message = say(ctx.lang, "active_stage", stage=out.actual_label)


def _stage_label(ctx: EvalContext, name: str) -> str:
    labels = ctx.lab.stage_labels.get(name)
    return str(localize(labels, ctx.lang)) if labels else name


def _none_exists(out: _Outcome) -> CheckResult:
    ctx, check = out.ctx, out.check
    spec = check.none_exists
    assert spec is not None
    target_id = ctx.snapshot.id_of(spec.to)
    rows = ctx.snapshot.linked.get((spec.entity, spec.link, target_id or ""), []) if target_id else []
    out.hint_kind = "none_exists"
    out.expected = 0
    out.actual = len(rows)
    # "nothing links to a record that does not exist" is vacuous: no credit for it
    out.passed = target_id is not None and not rows
    description = f"no {spec.entity} with {spec.link} = {spec.to}"
    if target_id is None:
        out.hint_kind = "missing"
        out.actual, out.actual_label = None, say(ctx.lang, "not_checked")  # not "0": nothing was counted
        out.message = say(ctx.lang, "link_target_missing", alias=spec.to)
    elif rows:
        out.message = f"found {len(rows)} {spec.entity} linked to {spec.to}"
    result = out.result(description)
    result.entity = spec.entity
    return result


def _both(value: Any, label: str | None) -> str:
    if label and label != show(value) and label != str(value):
        return f"{show(value)} ({label})"
    return show(value)
