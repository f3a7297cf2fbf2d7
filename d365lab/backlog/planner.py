"""Turning a rule set and the tenant's open leads into a triage plan (no writes)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from d365lab.backlog.rules import SELECTED_COLUMNS, Action, Rule, RulesError, RuleSet, matches
from d365lab.backlog.triage_journal import PlannedItem
from d365lab.errors import DataverseError

#: The rule name recorded for leads no rule matched.
NO_RULE = "(no rule)"


class RecordReader(Protocol):
    """The part of ``client.records`` the planner needs."""

    def list(self, table: str, *, filter: str | None = ..., select: list[str] | None = ...,
             orderby: str | None = ..., page_size: int = ...) -> Any:
        """Iterate rows."""
        ...


@dataclass
class Plan:
    """What a triage would do: one :class:`PlannedItem` per selected open lead, in a stable order."""

    items: list[PlannedItem] = field(default_factory=list)

    def counts_by_action(self) -> Counter[str]:
        """How many leads each action gets."""
        return Counter(item.action for item in self.items)

    def counts_by_rule(self) -> Counter[tuple[str, str]]:
        """How many leads each (rule, action) gets."""
        return Counter((item.rule, item.action) for item in self.items)

    def sample(self, per_action: int = 5) -> list[PlannedItem]:
        """A few items of each action, for the dry-run printout."""
        seen: Counter[str] = Counter()
        out = []
        for item in self.items:
            if seen[item.action] < per_action:
                seen[item.action] += 1
                out.append(item)
        return out


def _params(rule: Rule, lead: dict[str, Any]) -> dict[str, Any]:
    if rule.action is Action.QUALIFY:
        # An account needs a company name; deciding here saves a read per lead at execution.
        create = [r for r in rule.create if r != "account" or (lead.get("companyname") or "").strip()]
        return {"create": create}
    if rule.action is Action.DISQUALIFY:
        return {"reason": rule.reason}
    return {}


def _lead_name(lead: dict[str, Any]) -> str:
    name = lead.get("fullname") or ""
    company = lead.get("companyname")
    return f"{name} ({company})" if company else str(name)


def build_plan(records: RecordReader, rules: RuleSet, page_size: int = 5000) -> Plan:
    """Read every open lead (and the ids each OData-filter rule selects) and decide per lead.

    Each planned action keeps the lead's ETag: the executor acts only on a lead still in the
    state it was planned from.

    Requests: one paged listing of open leads plus one paged listing per rule with a filter.
    A filter the tenant refuses (HTTP 400) is a :class:`RulesError` naming the rule and filter.
    """
    filtered: dict[str, set[str]] = {}
    for rule in rules.rules:
        if rule.when.filter is not None:
            try:
                ids = records.list("lead", filter=f"statecode eq 0 and ({rule.when.filter})",
                                   select=["leadid"], page_size=page_size)
                filtered[rule.name] = {str(row["leadid"]) for row in ids}
            except DataverseError as exc:
                if exc.status != 400:
                    raise
                raise RulesError(f"rule {rule.name!r}: invalid filter {rule.when.filter!r}: {exc.message}") from None
    plan = Plan()
    leads = records.list("lead", filter="statecode eq 0", select=list(SELECTED_COLUMNS),
                         page_size=page_size)
    for lead in leads:
        leadid = str(lead["leadid"])
        chosen: Rule | None = None
        for rule in rules.rules:
            if matches(rule.when, lead, leadid in filtered.get(rule.name, ())):
                chosen = rule
                break
        etag = lead.get("@odata.etag")
        if chosen is None:
            plan.items.append(PlannedItem(leadid, _lead_name(lead), NO_RULE, Action.LEAVE.value, {}))
        else:
            plan.items.append(PlannedItem(leadid, _lead_name(lead), chosen.name, chosen.action.value,
                                          _params(chosen, lead), str(etag) if etag else None))
    return plan
