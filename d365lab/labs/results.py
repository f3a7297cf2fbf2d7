"""The result of a lab check: per check, per task, and the whole report (the JSON document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

REPORT_SCHEMA = "d365lab.lab-report/1"

CheckStatus = Literal["pass", "fail", "warn", "superseded", "not_observable"]
TaskStatus = Literal["passed", "failed", "not_observable"]


class CheckResult(BaseModel):
    """One evaluated expectation, with its evidence."""

    id: str
    description: str
    status: CheckStatus
    #: ``None`` when the check could not be observed (``status`` ``not_observable``).
    passed: bool | None
    strict: bool
    record: str | None = None
    record_id: str | None = None
    entity: str | None = None
    field: str | None = None
    expected: Any = None
    expected_label: str | None = None
    actual: Any = None
    actual_label: str | None = None
    message: str = ""
    hint: str | None = None
    #: Passed leniently but the exact text differs (accents, case, spacing): reported as a warning.
    inexact: bool = False


class TaskResult(BaseModel):
    """A graded task: all-or-nothing ``passed`` plus partial-credit ``points``.

    A task no source can see (``status`` ``not_observable``) has ``passed`` ``None``: it is
    neither a pass nor a failure, and the report leaves it out of the maximum score.
    """

    id: str
    exercise: str
    title: str
    status: TaskStatus
    passed: bool | None
    points: float
    max_points: float
    hint: str | None = None
    #: How a state the tenant no longer shows was proven (audit rows, run journal...) or why it cannot be.
    how_known: str | None = None
    #: For a task not observable: what would make it observable (auditing, ``lab prepare``, ``--watch``).
    how_to_observe: str | None = None
    #: Which history source proved the task (``audit``, ``run journal``, ``watch journal``), if one did.
    proven_by: str | None = None
    #: The source's own references (audit row ids...), for evidence.
    evidence_refs: list[str] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)

    @property
    def failed_checks(self) -> list[CheckResult]:
        """The strict checks that failed."""
        return [c for c in self.checks if c.status == "fail"]


class RecordEvidence(BaseModel):
    """How a lab record was found in the tenant."""

    entity: str
    id: str | None
    how: str
    candidates: int = 0


class LabReport(BaseModel):
    """The whole check, as printed by ``d365lab lab check --format json``."""

    report_schema: str = Field(default=REPORT_SCHEMA, alias="schema")
    lab_id: str
    lab_title: str
    student: str | None = None
    tenant: str
    organization_id: str | None = None
    language: str
    prefix: str = ""
    time_zone: str
    #: Where the time zone came from: ``--timezone``, ``D365LAB_TIMEZONE``, ``tenant`` (the lab user's
    #: personal settings), ``run journal`` or ``lab default``.
    time_zone_source: str | None = None
    upto: str
    checked_at: str
    run_started_at: str | None = None
    journal: str | None = None
    score: float = 0
    max_score: float = 0
    passed: bool = False
    exit_code: int = 2
    #: Tasks no source could observe (left out of ``max_score`` unless ``require_observable``).
    not_observable: list[str] = Field(default_factory=list)
    #: ``--require-observable``: a task not observable counts as failed.
    require_observable: bool = False
    error: str | None = None
    http_requests: int | None = None
    #: ``--audit-settle``: seconds late audit rows could be waited for (0: never).
    audit_settle_seconds: float = 0
    #: Times the audit was read again after a wait, and the seconds waited in all (0 when no
    #: task needed it: every task passed, or auditing is off).
    audit_rereads: int = 0
    audit_waited_seconds: float = 0
    tasks: list[TaskResult] = Field(default_factory=list)
    records: dict[str, RecordEvidence] = Field(default_factory=dict)

    model_config = {"populate_by_name": True}

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON document (``schema`` key first)."""
        return self.model_dump(mode="json", by_alias=True)
