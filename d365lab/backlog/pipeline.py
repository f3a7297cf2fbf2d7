"""The pipeline report: leads by status, open opportunities by process stage, won/lost this period.

The server groups and sums (:mod:`d365lab.backlog.pipeline_query`): the report costs the
same few requests whatever the number of leads and opportunities, up to Dataverse's
50,000-row aggregate limit per query, past which the rows are split by creation date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal

from d365lab.backlog.pipeline_query import lead_groups, opportunity_groups
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
    """Read the tenant and compute the report (grouped by the server: a handful of requests)."""
    now = datetime.now(UTC)
    start, end = period_bounds(period, today or now.date())
    report = PipelineReport(now, period, start, end, organization or _organization_name(client))

    lead_counts: dict[tuple[int, int], int] = defaultdict(int)
    for group in lead_groups(client):
        lead_counts[(int(group["statecode"]), int(group["statuscode"]))] += int(group["count"])
    for (state, status), n in sorted(lead_counts.items()):
        report.leads.append(LeadStatusRow(LEAD_STATES.state_label(state), LEAD_STATES.status_label(status), n))

    stage_names = {sid: name for name, sid in STAGE_IDS.items()}
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    closed: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for group in opportunity_groups(client, start, end):
        state, rows = int(group["state"]), int(group["count"])
        if state == OpportunityState.OPEN:
            stage: str | None = None
            if group.get("flowstate") is not None:
                stage = stage_names.get(str(group.get("stage")).lower(), "Other")
            elif group.get("salesstage") is not None:
                stage = label_of(StageCategory(int(group["salesstage"])))
            bucket = totals[stage or NO_STAGE]
            bucket[0] += rows
            bucket[1] += float(group.get("estimated") or 0)
            bucket[2] += float(group.get("budget") or 0)
            continue
        outcome = "Won" if state == OpportunityState.WON else (
            f"Lost ({OPPORTUNITY_STATES.status_label(int(group['status']))})")
        closed[outcome][0] += rows
        closed[outcome][1] += float(group.get("actual") or 0)
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    for stage in sorted(totals, key=lambda s: (order.get(s, len(order)), s)):
        count, revenue, budget = totals[stage]
        report.stages.append(StageRow(stage, int(count), revenue, budget))
    for outcome in sorted(closed, key=lambda o: (o != "Won", o)):
        count, revenue = closed[outcome]
        report.closed.append(ClosedRow(outcome, int(count), revenue))
    return report
