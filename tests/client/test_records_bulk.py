"""CreateMultiple bodies: values encoded as for single creates, fresh version-4 keys, optional client-side checks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import responses

from d365lab.client import DataverseClient
from d365lab.errors import ClientValidationError
from d365lab.models.enums import LeadSource

from .conftest import API, body_of

EXISTING = "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c"


def test_bulk_body_encodes_decimal_dates_enums_and_keeps_given_keys(client: DataverseClient,
                                                                    rsps: responses.RequestsMock) -> None:
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.CreateMultiple", status=200, json={})
    rows = [{"subject": "a", "lastname": "A", "budgetamount": Decimal("12500.50"), "estimatedamount": Decimal("7"),
             "estimatedclosedate": date(2026, 3, 31), "leadsourcecode": LeadSource.WEB,
             "description": "Café ☕"},
            {"subject": "b", "lastname": "B", "leadid": EXISTING.upper(),
             "lastusedincampaign": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)}]
    ids = client.records.create_multiple("lead", rows)
    first, second = body_of(rsps.calls[0])["Targets"]
    assert first == {"@odata.type": "Microsoft.Dynamics.CRM.lead", "subject": "a", "lastname": "A",
                     "budgetamount": 12500.5, "estimatedamount": 7, "estimatedclosedate": "2026-03-31",
                     "leadsourcecode": int(LeadSource.WEB), "description": "Café ☕", "leadid": ids[0]}
    assert second["leadid"] == EXISTING and second["lastusedincampaign"] == "2026-01-02T03:04:00Z"
    assert ids[1] == EXISTING


def test_generated_keys_are_distinct_version_4_guids(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.CreateMultiple", status=200, json={})
    ids = client.records.create_multiple("lead", [{"subject": str(n), "lastname": "L"} for n in range(500)])
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == 500
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == i for u, i in zip(parsed, ids, strict=True))
    assert [t["leadid"] for t in body_of(rsps.calls[0])["Targets"]] == ids


def test_client_side_checks_can_be_left_to_the_service(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    too_long = [{"subject": "x" * 301, "lastname": "L"}]
    with pytest.raises(ClientValidationError, match="lead.subject: is 301 characters"):
        client.records.create_multiple("lead", too_long)
    assert not rsps.calls
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.CreateMultiple", status=200, json={})
    client.records.create_multiple("lead", too_long, validate=False)   # rows already validated by the caller
    assert body_of(rsps.calls[0])["Targets"][0]["subject"] == "x" * 301


def test_naive_datetimes_are_still_refused_in_bulk_bodies(client: DataverseClient) -> None:
    with pytest.raises(ClientValidationError, match="no time zone"):
        client.records.create_multiple("lead", [{"subject": "s", "lastname": "L",
                                                 "lastusedincampaign": datetime(2026, 1, 2)}])


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_amounts_are_refused_naming_the_field(client: DataverseClient, amount: float) -> None:
    row = {"subject": "s", "lastname": "L", "budgetamount": amount}
    with pytest.raises(ClientValidationError, match="lead.budgetamount: .* is not a number the service accepts"):
        client.records.create_multiple("lead", [row])
    with pytest.raises(ClientValidationError, match="lead.budgetamount"):
        client.records.create("lead", row)


def test_bulk_bodies_encode_like_single_creates(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.CreateMultiple", status=200, json={})
    rsps.post(API + "leads", status=204, headers={"OData-EntityId": API + f"leads({EXISTING})"})
    row = {"subject": "Ünïcode \u2028 \"quoted\" \\ back", "lastname": "L", "budgetamount": 1e-7,
           "estimatedamount": Decimal("1e20"), "numberofemployees": 2**40, "decisionmaker": False,
           "description": None, "leadid": EXISTING}
    client.records.create_multiple("lead", [row])
    client.records.create("lead", row)
    bulk_target = body_of(rsps.calls[0])["Targets"][0]
    single = body_of(rsps.calls[1])
    assert bulk_target.pop("@odata.type") == "Microsoft.Dynamics.CRM.lead"
    assert bulk_target == single


def test_values_no_json_can_hold_are_refused_in_bulk_bodies(client: DataverseClient) -> None:
    with pytest.raises(ClientValidationError, match="cannot send bytes"):
        client.records.create_multiple("lead", [{"subject": "s", "lastname": "L", "description": b"raw"}],
                                       validate=False)
