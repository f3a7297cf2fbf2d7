"""The pipeline report's figures, grouped by the server: right, and as cheap for many rows as for few."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from d365lab.backlog.pipeline import PipelineReport, build_report
from d365lab.client import DataverseClient
from d365lab.models.enums import OpportunityStatus

TODAY = date.today()


def _seed(client: DataverseClient) -> dict[str, Any]:
    """Leads in four statuses and opportunities in every shape the report distinguishes."""
    leads = [client.records.create("lead", {"subject": f"Lead {i}", "lastname": f"L{i}", "companyname": f"C{i}"})
             for i in range(6)]
    qualified = [client.leads.qualify(lead_id, create_account=False, create_contact=False).opportunity_id
                 for lead_id in leads[:3]]
    client.leads.disqualify(leads[3], reason="no_longer_interested")
    client.leads.disqualify(leads[4], reason="Cannot Contact")
    for opp_id, value in zip(qualified, (1000, 2000, 4000), strict=True):
        assert opp_id is not None
        client.opportunities.update(opp_id, {"estimatedvalue": value, "budgetamount": value * 2})
    propose = client.process_flows.for_opportunity(str(qualified[2]))
    client.process_flows.move_to(propose.id, "Propose")
    plain = [client.records.create("opportunity", {"name": f"Plain {i}", "estimatedvalue": 100 * (i + 1),
                                                   "salesstage": 1 if i < 2 else None}) for i in range(3)]
    won = client.records.create("opportunity", {"name": "Won now", "estimatedvalue": 50})
    client.opportunities.win(won, actual_revenue=17000)
    won_long_ago = client.records.create("opportunity", {"name": "Won long ago"})
    client.opportunities.win(won_long_ago, actual_revenue=99, close_date=TODAY - timedelta(days=800))
    lost = client.records.create("opportunity", {"name": "Lost now"})
    client.opportunities.lose(lost, status=OpportunityStatus.OUT_SOLD, actual_revenue=10)
    return {"qualified": qualified, "plain": plain}


def _figures(report: PipelineReport) -> tuple[Any, ...]:
    stages = [(s.stage, s.count, round(s.estimated_revenue, 2), round(s.budget, 2)) for s in report.stages]
    return report.leads, stages, [(c.outcome, c.count, round(c.revenue, 2)) for c in report.closed]


def test_figures(d365_client: DataverseClient) -> None:
    _seed(d365_client)
    report = build_report(d365_client, "quarter", today=TODAY)
    leads = {(r.state, r.reason): r.count for r in report.leads}
    assert leads == {("Open", "New"): 1, ("Qualified", "Qualified"): 3,
                     ("Disqualified", "No Longer Interested"): 1, ("Disqualified", "Cannot Contact"): 1}
    stages = {s.stage: (s.count, s.estimated_revenue, s.budget) for s in report.stages}
    # Develop: two qualified opportunities at the flow's Develop stage (1000 + 2000, budgets doubled);
    # Propose: the one moved on; "Develop" again for the plain ones whose salesstage is 1 (no flow).
    assert stages["Propose"] == (1, 4000, 8000)
    assert stages["Develop"] == (2 + 2, 1000 + 2000 + 100 + 200, 6000)
    assert stages["(no process)"] == (1, 300, 0)
    assert [s.stage for s in report.stages] == ["Develop", "Propose", "(no process)"]
    closed = {c.outcome: (c.count, c.revenue) for c in report.closed}
    assert closed == {"Won": (1, 17000), "Lost (Out-Sold)": (1, 10)}


def test_requests_do_not_grow_with_the_rows(d365_client: DataverseClient) -> None:
    _seed(d365_client)
    before = d365_client.request_count
    build_report(d365_client, "quarter", today=TODAY)
    few = d365_client.request_count - before
    d365_client.records.create_multiple("opportunity", [{"name": f"More {i}", "estimatedvalue": i}
                                                        for i in range(300)])
    d365_client.records.create_multiple("lead", [{"subject": f"More {i}", "lastname": "M"} for i in range(300)])
    before = d365_client.request_count
    build_report(d365_client, "quarter", today=TODAY)
    assert d365_client.request_count - before == few == 3


@pytest.mark.parametrize("limit", [4, 1])
def test_aggregate_limit_splits_by_creation_date_with_the_same_figures(
        d365_client: DataverseClient, d365_mock_app: Any, limit: int) -> None:
    _seed(d365_client)
    expected = _figures(build_report(d365_client, "quarter", today=TODAY))
    d365_mock_app.settings.aggregate_record_limit = limit  # the service's is 50,000
    before = d365_client.request_count
    assert _figures(build_report(d365_client, "quarter", today=TODAY)) == expected
    assert d365_client.request_count - before > 3
