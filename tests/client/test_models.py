"""Typed models: enums, Decimal money, date-only dates, aware timestamps, state/status pairs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from d365lab.models.enums import LeadStatus, OpportunityState, PurchaseTimeframe
from d365lab.models.row_views import Lead, Opportunity, ProcessFlowInstance


def test_opportunity_row_is_typed() -> None:
    opp = Opportunity.from_row({
        "@odata.etag": 'W/"42"', "opportunityid": "o1", "budgetamount": 17000.0, "purchasetimeframe": 1,
        "estimatedclosedate": "2026-06-30", "modifiedon": "2026-03-01T10:00:00Z", "statecode": 1, "statuscode": 3,
        "_customerid_value": "a1", "_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account"})
    assert opp.etag == 'W/"42"'
    assert opp.budgetamount == Decimal("17000")
    assert opp.purchasetimeframe is PurchaseTimeframe.THIS_QUARTER
    assert opp.estimatedclosedate == date(2026, 6, 30)
    assert opp.modifiedon is not None and opp.modifiedon.utcoffset() is not None
    assert opp.statecode is OpportunityState.WON
    assert opp.customer_id == "a1"


def test_status_not_belonging_to_state_is_refused() -> None:
    with pytest.raises(ValidationError, match="does not belong"):
        Lead.from_row({"leadid": "l1", "statecode": 0, "statuscode": int(LeadStatus.LOST)})


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        Lead.from_row({"leadid": "l1", "createdon": "2026-03-01T10:00:00"})


def test_process_flow_path() -> None:
    flow = ProcessFlowInstance.from_row({"businessprocessflowinstanceid": "f", "traversedpath": "a,b",
                                         "statecode": 1, "statuscode": 2})
    assert flow.path == ["a", "b"] and not flow.is_active
