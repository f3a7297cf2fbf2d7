"""The pipeline report: leads by status, open opportunities by process stage, won/lost this period.

Figures are computed from plain paged reads (``$select`` only), so the report works on
any tenant without aggregation support and costs a handful of requests.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from d365lab.errors import DataverseError
from d365lab.models.enums import (
    LEAD_STATES,
    OPPORTUNITY_STATES,
    OpportunityState,
    StageCategory,
    label_of,
)
from d365lab.models.schema import STAGE_IDS

if TYPE_CHECKING:
    from d365lab.client import DataverseClient

Period = Literal["month", "quarter", "year"]
STAGE_ORDER = ["Qualify", "Develop", "Propose", "Close"]
NO_STAGE = "(no process)"


@dataclass(frozen=True)
class LeadStatusRow:
    """Leads in one status (``reason`` is the status reason)."""

    state: str
    reason: str
    count: int


@dataclass(frozen=True)
class StageRow:
    """Open opportunities in one process stage."""

    stage: str
    count: int
    estimated_revenue: float
    budget: float


@dataclass(frozen=True)
class ClosedRow:
    """Opportunities won or lost in the period."""

    outcome: str
    count: int
    revenue: float


@dataclass
class PipelineReport:
    """Everything the pipeline report shows."""

    generated_at: datetime
    period: Period
    period_start: date
    period_end: date
    organization: str
    leads: list[LeadStatusRow] = field(default_factory=list)
    stages: list[StageRow] = field(default_factory=list)
    closed: list[ClosedRow] = field(default_factory=list)

    @property
    def total_leads(self) -> int:
        """All leads counted."""
        return sum(r.count for r in self.leads)

    @property
    def open_pipeline(self) -> StageRow:
        """Totals over every stage."""
        return StageRow("Total", sum(r.count for r in self.stages),
                        sum(r.estimated_revenue for r in self.stages), sum(r.budget for r in self.stages))


def period_bounds(period: Period, today: date) -> tuple[date, date]:
    """First and last day of the calendar month, quarter or year containing ``today``."""
    if period == "year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    first_month = today.month if period == "month" else 3 * ((today.month - 1) // 3) + 1
    last_month = first_month if period == "month" else first_month + 2
    start = date(today.year, first_month, 1)
    end_next = date(today.year + (last_month == 12), last_month % 12 + 1, 1)
    return start, date.fromordinal(end_next.toordinal() - 1)


def _day(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def _organization_name(client: DataverseClient) -> str:
    """The organization's display name, or the client's tenant label when it cannot be read."""
    try:
        for row in client.records.list("organization", select=["name"], top=1):
            if row.get("name"):
                return str(row["name"])
    except DataverseError:
        pass
    return client.tenant_label


def build_report(client: DataverseClient, period: Period = "quarter", today: date | None = None,
                 organization: str = "") -> PipelineReport:
    """Read the tenant and compute the report."""
    now = datetime.now(UTC)
    start, end = period_bounds(period, today or now.date())
    report = PipelineReport(now, period, start, end, organization or _organization_name(client))

    lead_counts: dict[tuple[int, int], int] = defaultdict(int)
    for row in client.records.list("lead", select=["statecode", "statuscode"], page_size=5000):
        lead_counts[(int(row["statecode"]), int(row["statuscode"]))] += 1
    for (state, status), n in sorted(lead_counts.items()):
        report.leads.append(LeadStatusRow(LEAD_STATES.state_label(state), LEAD_STATES.status_label(status), n))

    stage_names = {sid: name for name, sid in STAGE_IDS.items()}
    stage_of: dict[str, str] = {}
    for flow in client.records.list("leadtoopportunitysalesprocess",
                                    select=["_opportunityid_value", "_activestageid_value", "statecode"],
                                    page_size=5000):
        opp = flow.get("_opportunityid_value")
        if opp:
            stage_of[str(opp)] = stage_names.get(str(flow.get("_activestageid_value")), "Other")
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    closed: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for opp in client.records.list("opportunity", select=[
            "opportunityid", "statecode", "statuscode", "estimatedvalue", "budgetamount", "actualvalue",
            "actualclosedate", "salesstage", "modifiedon"], page_size=5000):
        state = int(opp["statecode"])
        if state == OpportunityState.OPEN:
            stage = stage_of.get(str(opp["opportunityid"]))
            if stage is None and opp.get("salesstage") is not None:
                stage = label_of(StageCategory(int(opp["salesstage"])))
            bucket = totals[stage or NO_STAGE]
            bucket[0] += 1
            bucket[1] += float(opp.get("estimatedvalue") or 0)
            bucket[2] += float(opp.get("budgetamount") or 0)
            continue
        closed_on = _day(opp.get("actualclosedate")) or _day(opp.get("modifiedon"))
        if closed_on is not None and start <= closed_on <= end:
            outcome = "Won" if state == OpportunityState.WON else (
                f"Lost ({OPPORTUNITY_STATES.status_label(int(opp['statuscode']))})")
            closed[outcome][0] += 1
            closed[outcome][1] += float(opp.get("actualvalue") or 0)
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    for stage in sorted(totals, key=lambda s: (order.get(s, len(order)), s)):
        count, revenue, budget = totals[stage]
        report.stages.append(StageRow(stage, int(count), revenue, budget))
    for outcome in sorted(closed, key=lambda o: (o != "Won", o)):
        count, revenue = closed[outcome]
        report.closed.append(ClosedRow(outcome, int(count), revenue))
    return report
