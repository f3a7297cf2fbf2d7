"""The triage rules file (YAML): which open leads get which decision.

Rules are tried in order; the first whose conditions all hold decides a lead's fate.
Leads no rule matches are left as they are.

.. code-block:: yaml

    rules:
      - name: hot trade-show leads
        when: {source: [Trade Show, Seminar], has_company: true, has_email: true}
        action: qualify
        create: [account, contact, opportunity]
      - name: stale web leads
        when: {source: Web, older_than_days: 180}
        action: disqualify
        reason: no_longer_interested
      - name: big budgets only
        when: {filter: "budgetamount ge 10000"}
        action: qualify
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from d365lab.backlog.csvio import read_text_file
from d365lab.backlog.mapping import parse_option
from d365lab.models.enums import DISQUALIFY_REASONS

#: Lead columns rules read from each selected lead (plus ``leadid``).
SELECTED_COLUMNS: tuple[str, ...] = (
    "leadid", "subject", "fullname", "companyname", "emailaddress1", "leadsourcecode",
    "leadqualitycode", "budgetamount", "createdon", "statecode",
)


class Action(StrEnum):
    """What triage does to a lead."""

    QUALIFY = "qualify"
    DISQUALIFY = "disqualify"
    LEAVE = "leave"


class RulesError(Exception):
    """The rules file is unreadable or invalid; the message names the rule and field."""


class Conditions(BaseModel):
    """Conditions of one rule; all given conditions must hold (an empty set matches every lead)."""

    model_config = ConfigDict(extra="forbid")

    #: Lead source(s), by label (English or French) or number.
    source: list[int] | None = None
    #: Rating(s): Hot, Warm, Cold (or Chaud, Tiède, Froid).
    rating: list[int] | None = None
    has_company: bool | None = None
    has_email: bool | None = None
    #: Created at least this many days ago.
    older_than_days: float | None = Field(default=None, ge=0)
    #: Created less than this many days ago.
    younger_than_days: float | None = Field(default=None, gt=0)
    min_budget: float | None = None
    #: An OData ``$filter`` evaluated by the tenant (combined with "statecode eq 0").
    filter: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        return _options("leadsourcecode", value)

    @field_validator("rating", mode="before")
    @classmethod
    def _ratings(cls, value: Any) -> Any:
        return _options("leadqualitycode", value)


def _options(column: str, value: Any) -> Any:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [parse_option(column, str(item)) for item in items]


class Rule(BaseModel):
    """One triage rule: a name, conditions and a decision."""

    model_config = ConfigDict(extra="forbid")

    name: str
    when: Conditions = Field(default_factory=lambda: Conditions())
    action: Action
    #: For qualify: records QualifyLead creates.
    create: list[str] = Field(default_factory=lambda: ["account", "contact", "opportunity"])
    #: For disqualify: one of lost, cannot_contact, no_longer_interested, canceled.
    reason: str | None = None

    @field_validator("create")
    @classmethod
    def _known_records(cls, value: list[str]) -> list[str]:
        unknown = set(value) - {"account", "contact", "opportunity"}
        if unknown:
            raise ValueError(f"create may list account, contact, opportunity (not {', '.join(sorted(unknown))})")
        return value

    @model_validator(mode="after")
    def _decision_is_complete(self) -> Rule:
        if self.action is Action.DISQUALIFY:
            reason = (self.reason or "").strip().lower().replace(" ", "_")
            if reason not in DISQUALIFY_REASONS:
                raise ValueError(f"disqualify needs reason: one of {', '.join(DISQUALIFY_REASONS)}")
            self.reason = reason
        return self


class RuleSet(BaseModel):
    """A whole rules file."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique: {', '.join(dupes)}")
        return self


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rules file."""
    try:
        data = yaml.safe_load(read_text_file(path))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise RulesError(f"cannot read rules file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if data is None:
        raise RulesError(f"rules file {path} is empty; expected a mapping with 'rules:' (a list of rules, "
                         "each with name, when and action; see docs/backlog.md)")
    if not isinstance(data, dict):
        raise RulesError(f"rules file {path} holds a {type(data).__name__}; expected a mapping with 'rules:' "
                         "(a list of rules, each with name, when and action; see docs/backlog.md)")
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {where}: {str(err['msg']).removeprefix('Value error, ')}")
        raise RulesError(f"invalid rules file {path}:\n" + "\n".join(lines)) from None


def _created(lead: dict[str, Any]) -> datetime | None:
    raw = lead.get("createdon")
    if not raw:
        return None
    return datetime.fromisoformat(str(raw).replace("Z", "+00:00"))


def matches(conditions: Conditions, lead: dict[str, Any], in_filter: bool, now: datetime | None = None) -> bool:
    """True when every condition holds for the lead.

    ``in_filter`` tells whether the tenant returned the lead for the rule's OData filter
    (ignored when the rule has none).
    """
    if conditions.filter is not None and not in_filter:
        return False
    if conditions.source is not None and lead.get("leadsourcecode") not in conditions.source:
        return False
    if conditions.rating is not None and lead.get("leadqualitycode") not in conditions.rating:
        return False
    if conditions.has_company is not None and bool(lead.get("companyname")) != conditions.has_company:
        return False
    if conditions.has_email is not None and bool(lead.get("emailaddress1")) != conditions.has_email:
        return False
    if conditions.min_budget is not None and (lead.get("budgetamount") or 0) < conditions.min_budget:
        return False
    if conditions.older_than_days is not None or conditions.younger_than_days is not None:
        created = _created(lead)
        if created is None:
            return False
        age = (now or datetime.now(UTC)) - created
        if conditions.older_than_days is not None and age < timedelta(days=conditions.older_than_days):
            return False
        if conditions.younger_than_days is not None and age >= timedelta(days=conditions.younger_than_days):
            return False
    return True
