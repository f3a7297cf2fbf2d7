"""Every write path is audited the same way, in the write's transaction (bulk, ``$batch``, Sales messages).

Source: Microsoft Learn, "Auditing overview" / "Retrieve and delete the history of audited data
changes" (facts sheet §1.1-§1.5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings
from tests.mock.test_audit import audits_of, enable_auditing
from tests.mock.test_batch import change_set, part, send

Create = Callable[[str, dict[str, Any]], str]
LEAD_TYPE = "Microsoft.Dynamics.CRM.lead"


@pytest.fixture
def audited(api: ServiceRootSession) -> ServiceRootSession:
    enable_auditing(api)
    return api


def actions(api: ServiceRootSession, record_id: str) -> list[tuple[int, int]]:
    return [(r["operation"], r["action"]) for r in audits_of(api, record_id)]


def test_bulk_messages_audit_each_row(audited: ServiceRootSession) -> None:
    targets = [{"@odata.type": LEAD_TYPE, "subject": f"s{i}", "lastname": f"L{i}"} for i in range(3)]
    ids = audited.post("leads/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}).json()["Ids"]
    updates = [{"@odata.type": LEAD_TYPE, "leadid": i, "statecode": 2, "statuscode": 6} for i in ids]
    assert audited.post("leads/Microsoft.Dynamics.CRM.UpdateMultiple", json={"Targets": updates}).status_code == 204
    upserts = [{"@odata.type": LEAD_TYPE, "leadid": ids[0], "jobtitle": "Buyer"}]
    upserted = audited.post("leads/Microsoft.Dynamics.CRM.UpsertMultiple", json={"Targets": upserts})
    assert upserted.status_code in (200, 204), upserted.text
    assert actions(audited, ids[0]) == [(1, 1), (2, 41), (2, 2)]
    assert all(actions(audited, i) == [(1, 1), (2, 41)] for i in ids[1:])
    transactions = {r["transactionid"] for i in ids for r in audits_of(audited, i, " and operation eq 1")}
    assert len(transactions) == 1  # one CreateMultiple, one transaction


def test_batch_change_set_is_audited_and_a_failed_change_set_leaves_no_row(audited: ServiceRootSession,
                                                                          create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    ok = change_set("changeset_1", [part("PATCH", f"leads({lead})", {"statecode": 2, "statuscode": 6}, "1")])
    assert send(audited, [ok]).status_code == 200
    failing = change_set("changeset_2", [
        part("PATCH", f"leads({lead})", {"statecode": 0, "statuscode": 1}, "1"),
        part("PATCH", "leads(00000000-0000-0000-0000-000000000009)", {"jobtitle": "x"}, "2", {"If-Match": "*"}),
    ])
    send(audited, [failing])
    assert actions(audited, lead) == [(1, 1), (2, 41)]
    assert audited.get(f"leads({lead})?$select=statecode").json()["statecode"] == 2


def test_qualify_lead_records_the_qualify_action_and_the_created_records(audited: ServiceRootSession,
                                                                         create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe", "companyname": "Fabrikam"})
    response = audited.post(f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json={
        "CreateAccount": True, "CreateContact": True, "CreateOpportunity": True, "Status": 3})
    assert response.status_code == 200, response.text
    assert (2, 24) in actions(audited, lead)
    for item in response.json()["value"]:
        logical = item["@odata.type"].rsplit(".", 1)[1]
        assert actions(audited, item[f"{logical}id"])[0] == (1, 1)


def test_win_and_lose_opportunity_record_their_actions(audited: ServiceRootSession, create: Create) -> None:
    won = create("opportunities", {"name": "Won"})
    lost = create("opportunities", {"name": "Lost"})
    for message, status, opportunity in (("WinOpportunity", 3, won), ("LoseOpportunity", 4, lost)):
        response = audited.post(message, json={"Status": status, "OpportunityClose": {
            "subject": message, "opportunityid@odata.bind": f"/opportunities({opportunity})"}})
        assert response.status_code == 204, response.text
    assert (2, 44) in actions(audited, won)
    assert (2, 45) in actions(audited, lost)


@pytest.mark.parametrize(("variant", "expected"), [
    ("update", [2, 2]), ("activate_deactivate", [5, 4]), ("named", [25, 4]), ("set_state", [41, 41])])
def test_the_action_of_a_lead_state_change_is_a_setting(mock_settings: MockSettings, audited: ServiceRootSession,
                                                        create: Create, variant: str, expected: list[int]) -> None:
    mock_settings.audit.state_change_action = variant  # type: ignore[assignment]
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    audited.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    audited.patch(f"leads({lead})", json={"statecode": 0, "statuscode": 1})
    assert [a for op, a in actions(audited, lead) if op == 2] == expected


def test_assigning_an_owner_is_the_assign_action(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    user = audited.get("WhoAmI").json()["UserId"]
    other = create("systemusers", {"firstname": "Other", "lastname": "User"})  # fullname is computed
    audited.patch(f"leads({lead})", json={"ownerid@odata.bind": f"/systemusers({other})"})
    rows = audits_of(audited, lead)
    assert rows[-1]["action"] == 13
    assert rows[-1]["_userid_value"] == user


@pytest.mark.parametrize("mock_settings", [MockSettings.model_validate({"audit": {"enabled_on_new_tenant": True}})])
def test_the_embedded_default_is_a_setting(api: ServiceRootSession, create: Create) -> None:
    assert api.get("organizations?$select=isauditenabled").json()["value"][0]["isauditenabled"] is True
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    assert actions(api, lead) == [(1, 1)]
