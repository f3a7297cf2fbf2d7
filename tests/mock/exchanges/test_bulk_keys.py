"""UpsertMultiple with alternate-key ``@odata.id`` and DeleteMultiple on a standard table."""

from __future__ import annotations

from d365lab.mock.inprocess import ServiceRootSession

UPSERT = "accounts/Microsoft.Dynamics.CRM.UpsertMultiple"


def _target(number: str, name: str) -> dict[str, str]:
    return {"@odata.type": "Microsoft.Dynamics.CRM.account", "@odata.id": f"accounts(accountnumber='{number}')",
            "name": name}


def test_upsert_multiple_by_alternate_key_creates_then_updates(api: ServiceRootSession) -> None:
    created = api.post(UPSERT, json={"Targets": [_target("ACC-001", "First"), _target("ACC-002", "Second")]})
    assert created.status_code == 204, created.text
    updated = api.post(UPSERT, json={"Targets": [_target("ACC-001", "First renamed")]})
    assert updated.status_code == 204, updated.text
    rows = api.get("accounts?$select=name,accountnumber&$orderby=accountnumber").json()["value"]
    assert [(r["accountnumber"], r["name"]) for r in rows] == [("ACC-001", "First renamed"), ("ACC-002", "Second")]


def test_update_multiple_by_an_unknown_alternate_key_fails_and_rolls_back(api: ServiceRootSession) -> None:
    response = api.post("accounts/Microsoft.Dynamics.CRM.UpdateMultiple",
                        json={"Targets": [_target("NOPE", "Ghost")]})
    assert response.status_code == 400
    assert api.get("accounts?$filter=name eq 'Ghost'").json()["value"] == []


def test_delete_multiple_on_a_standard_table_answers_the_documented_error(api: ServiceRootSession) -> None:
    response = api.post("leads/Microsoft.Dynamics.CRM.DeleteMultiple",
                        json={"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.lead",
                                           "leadid": "00000000-0000-0000-0000-000000000001"}]})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "DeleteMultiple has not yet been implemented."
