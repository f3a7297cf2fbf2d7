"""CreateMultiple / UpdateMultiple / UpsertMultiple through the Web API of the mock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
LEAD_TYPE = "Microsoft.Dynamics.CRM.lead"


def bulk(api: ServiceRootSession, entity_set: str, message: str, targets: list[dict[str, Any]]) -> Any:
    return api.post(f"{entity_set}/Microsoft.Dynamics.CRM.{message}", json={"Targets": targets})


def count(api: ServiceRootSession, entity_set: str) -> int:
    return int(api.get(f"{entity_set}/$count").text.lstrip("\ufeff"))


def test_create_multiple_returns_ids_in_order(api: ServiceRootSession) -> None:
    targets = [{"@odata.type": LEAD_TYPE, "subject": f"Lead {i}", "lastname": f"L{i}"} for i in range(5)]
    response = bulk(api, "leads", "CreateMultiple", targets)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{api.service_root}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse"
    ids = body["Ids"]
    assert len(ids) == 5
    subjects = [api.get(f"leads({i})?$select=subject").json()["subject"] for i in ids]
    assert subjects == [f"Lead {i}" for i in range(5)]


def test_create_multiple_runs_the_rules(api: ServiceRootSession) -> None:
    targets = [{"@odata.type": f"#{LEAD_TYPE}", "subject": "s", "firstname": "Ann", "lastname": "Lee"}]
    (lead,) = bulk(api, "leads", "CreateMultiple", targets).json()["Ids"]
    row = api.get(f"leads({lead})?$select=fullname,statecode,statuscode").json()
    assert (row["fullname"], row["statecode"], row["statuscode"]) == ("Ann Lee", 0, 1)
    assert count(api, "leadtoopportunitysalesprocesses") == 1


def test_create_multiple_is_all_or_nothing(api: ServiceRootSession) -> None:
    targets = [{"@odata.type": LEAD_TYPE, "subject": f"ok {i}"} for i in range(3)]
    targets.append({"@odata.type": LEAD_TYPE, "subject": "x" * 301})
    response = bulk(api, "leads", "CreateMultiple", targets)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x80044331"
    assert count(api, "leads") == 0
    assert count(api, "leadtoopportunitysalesprocesses") == 0


def test_create_multiple_invalid_state_rolls_back(api: ServiceRootSession) -> None:
    targets = [{"@odata.type": LEAD_TYPE, "subject": "ok"},
               {"@odata.type": LEAD_TYPE, "subject": "bad", "statecode": 1, "statuscode": 4}]
    assert bulk(api, "leads", "CreateMultiple", targets).status_code == 400
    assert count(api, "leads") == 0


@pytest.mark.parametrize("target", [
    {"subject": "no type"},
    {"@odata.type": "Microsoft.Dynamics.CRM.contact", "subject": "wrong type"},
    {"@odata.type": "lead", "subject": "not namespaced"},
])
def test_every_target_needs_the_bound_type(api: ServiceRootSession, target: dict[str, Any]) -> None:
    response = bulk(api, "leads", "CreateMultiple", [{"@odata.type": LEAD_TYPE, "subject": "ok"}, target])
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert message.startswith("Targets[1] ") and "Microsoft.Dynamics.CRM.lead" in message
    assert count(api, "leads") == 0


@pytest.mark.parametrize("body", [{}, {"Targets": []}, {"Targets": "x"}])
def test_targets_are_required(api: ServiceRootSession, body: dict[str, Any]) -> None:
    assert api.post("leads/Microsoft.Dynamics.CRM.CreateMultiple", json=body).status_code == 400


def test_tables_without_bulk_support_are_refused(api: ServiceRootSession) -> None:
    response = bulk(api, "phonecalls", "CreateMultiple",
                    [{"@odata.type": "Microsoft.Dynamics.CRM.phonecall", "subject": "call"}])
    assert response.status_code == 400
    assert "not supported" in response.json()["error"]["message"]
    assert count(api, "phonecalls") == 0


def test_update_multiple(api: ServiceRootSession, create: Create) -> None:
    first, second = create("leads", {"subject": "a"}), create("leads", {"subject": "b"})
    response = bulk(api, "leads", "UpdateMultiple", [
        {"@odata.type": LEAD_TYPE, "leadid": first, "jobtitle": "Buyer"},
        {"@odata.type": LEAD_TYPE, "@odata.id": f"leads({second})", "jobtitle": "Owner"},
    ])
    assert response.status_code == 204, response.text
    assert api.get(f"leads({first})?$select=jobtitle").json()["jobtitle"] == "Buyer"
    assert api.get(f"leads({second})?$select=jobtitle").json()["jobtitle"] == "Owner"


def test_update_multiple_is_all_or_nothing(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "a"})
    response = bulk(api, "leads", "UpdateMultiple", [
        {"@odata.type": LEAD_TYPE, "leadid": lead, "jobtitle": "Buyer"},
        {"@odata.type": LEAD_TYPE, "leadid": "00000000-0000-0000-0000-0000000000dd", "jobtitle": "x"},
    ])
    assert response.status_code == 404
    assert api.get(f"leads({lead})?$select=jobtitle").json()["jobtitle"] is None


def test_update_multiple_needs_the_key(api: ServiceRootSession) -> None:
    response = bulk(api, "leads", "UpdateMultiple", [{"@odata.type": LEAD_TYPE, "jobtitle": "x"}])
    assert response.status_code == 400
    assert "leadid" in response.json()["error"]["message"]


def test_upsert_multiple_updates_and_creates(api: ServiceRootSession, create: Create) -> None:
    existing = create("leads", {"subject": "old"})
    new_id = "3f2b1c4d-0000-4000-8000-00000000abcd"
    response = bulk(api, "leads", "UpsertMultiple", [
        {"@odata.type": LEAD_TYPE, "leadid": existing, "subject": "updated"},
        {"@odata.type": LEAD_TYPE, "leadid": new_id, "subject": "created with key"},
        {"@odata.type": LEAD_TYPE, "subject": "created without key"},
    ])
    assert response.status_code == 204, response.text
    assert api.get(f"leads({existing})?$select=subject").json()["subject"] == "updated"
    assert api.get(f"leads({new_id})?$select=subject").json()["subject"] == "created with key"
    assert count(api, "leads") == 3


def test_upsert_multiple_is_all_or_nothing(api: ServiceRootSession, create: Create) -> None:
    existing = create("leads", {"subject": "old"})
    response = bulk(api, "leads", "UpsertMultiple", [
        {"@odata.type": LEAD_TYPE, "leadid": existing, "subject": "updated"},
        {"@odata.type": LEAD_TYPE, "subject": "y" * 301},
    ])
    assert response.status_code == 400
    assert api.get(f"leads({existing})?$select=subject").json()["subject"] == "old"
    assert count(api, "leads") == 1


def _bulk_delete_body(entity: str, conditions: list[dict[str, Any]], operator: str = "And") -> dict[str, Any]:
    return {"JobName": "cleanup", "SendEmailNotification": False, "ToRecipients": [], "CCRecipients": [],
            "RecurrencePattern": "", "StartDateTime": "2026-01-01T00:00:00Z", "QuerySet": [{
                "@odata.type": "Microsoft.Dynamics.CRM.QueryExpression", "EntityName": entity,
                "ColumnSet": {"AllColumns": False, "Columns": []},
                "Criteria": {"FilterOperator": operator, "Conditions": conditions}}]}


def test_bulk_delete_by_ids_returns_a_job_id(api: ServiceRootSession, create: Create) -> None:
    doomed = [create("leads", {"subject": f"d{i}"}) for i in range(2)]
    kept = create("leads", {"subject": "kept"})
    response = api.post("BulkDelete", json=_bulk_delete_body("lead", [{
        "AttributeName": "leadid", "Operator": "In",
        "Values": [{"Value": i, "Type": "System.Guid"} for i in doomed]}]))
    assert response.status_code == 200, response.text
    assert len(response.json()["JobId"]) == 36
    assert [api.get(f"leads({i})").status_code for i in doomed] == [404, 404]
    assert api.get(f"leads({kept})").status_code == 200
    assert count(api, "leadtoopportunitysalesprocesses") == 1  # the deleted leads' instances went too


def test_bulk_delete_by_column_value(api: ServiceRootSession, create: Create) -> None:
    create("leads", {"subject": "a", "statecode": 2})
    kept = create("leads", {"subject": "b"})
    response = api.post("BulkDelete", json=_bulk_delete_body("lead", [{
        "AttributeName": "statecode", "Operator": "Equal", "Values": [{"Value": "2", "Type": "System.Int32"}]}]))
    assert response.status_code == 200, response.text
    assert [r["leadid"] for r in api.get("leads?$select=subject").json()["value"]] == [kept]


def test_bulk_delete_unsupported_condition_is_400(api: ServiceRootSession, create: Create) -> None:
    create("leads", {"subject": "a"})
    response = api.post("BulkDelete", json=_bulk_delete_body("lead", [{
        "AttributeName": "subject", "Operator": "Like", "Values": [{"Value": "a%", "Type": "System.String"}]}]))
    assert response.status_code == 400
    assert count(api, "leads") == 1


def test_create_multiple_refuses_an_id_repeated_in_the_batch(api: ServiceRootSession) -> None:
    lead_id = "0d365a00-0000-4000-8000-00000000a001"
    targets = [{"@odata.type": LEAD_TYPE, "leadid": lead_id, "subject": s, "lastname": "X"} for s in ("a", "b")]
    before = count(api, "leads")
    response = bulk(api, "leads", "CreateMultiple", targets)
    assert response.status_code == 412, response.text
    assert response.json()["error"]["code"] == "0x80040237"
    assert count(api, "leads") == before


def test_create_multiple_refuses_an_id_that_already_exists(api: ServiceRootSession, create: Create) -> None:
    existing = create("leads", {"subject": "already here", "lastname": "X"})
    targets = [
        {"@odata.type": LEAD_TYPE, "subject": "new one", "lastname": "Y"},
        {"@odata.type": LEAD_TYPE, "leadid": existing, "subject": "clash", "lastname": "Z"},
    ]
    before = count(api, "leads")
    response = bulk(api, "leads", "CreateMultiple", targets)
    assert response.status_code == 412, response.text
    assert count(api, "leads") == before
    assert api.get(f"leads({existing})?$select=subject").json()["subject"] == "already here"


def test_ids_of_a_rolled_back_bulk_are_free_again(api: ServiceRootSession) -> None:
    lead_id = "0d365a00-0000-4000-8000-00000000a002"
    failing = [
        {"@odata.type": LEAD_TYPE, "leadid": lead_id, "subject": "first try", "lastname": "X"},
        {"@odata.type": LEAD_TYPE, "subject": "bad status", "lastname": "Y", "statuscode": 99},
    ]
    assert bulk(api, "leads", "CreateMultiple", failing).status_code == 400
    assert api.get(f"leads({lead_id})").status_code == 404
    retry = [{"@odata.type": LEAD_TYPE, "leadid": lead_id, "subject": "second try", "lastname": "X"}]
    response = bulk(api, "leads", "CreateMultiple", retry)
    assert response.status_code == 200, response.text
    assert response.json()["Ids"] == [lead_id]
    assert api.get(f"leads({lead_id})?$select=subject").json()["subject"] == "second try"


def test_a_bind_to_a_row_of_a_rolled_back_bulk_is_refused(api: ServiceRootSession) -> None:
    account_id = "0d365a00-0000-4000-8000-00000000a003"
    account_type = "Microsoft.Dynamics.CRM.account"
    failing = [
        {"@odata.type": account_type, "accountid": account_id, "name": "Ghost Inc."},
        {"@odata.type": account_type, "name": "x" * 200},
    ]
    assert bulk(api, "accounts", "CreateMultiple", failing).status_code == 400
    response = api.post("leads", json={"subject": "s", "lastname": "L",
                                       "parentaccountid@odata.bind": f"/accounts({account_id})"})
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "0x80040217"
    assert count(api, "leads") == 0
