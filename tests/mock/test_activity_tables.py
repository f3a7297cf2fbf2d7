"""Tasks, emails and appointments over HTTP: create, regarding navigations, deep insert,
state machines, the activitypointer view and the delete cascade.

Source: Microsoft Learn, "Activity tables" and the task / email / appointment table references
(Common Data Model definitions in shared/reference/schema/).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
FORMATTED = "@OData.Community.Display.V1.FormattedValue"


def test_post_and_get_tasks(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Contoso"})
    task = create("tasks", {"subject": "Sign invoice", "description": "Invoice #12321",
                            "scheduledend": "2026-04-19T00:00:00-07:00",
                            "regardingobjectid_account_task@odata.bind": f"/accounts({account})"})
    rows = api.get("tasks?$select=subject,scheduledend,statecode,statuscode,_regardingobjectid_value",
                   headers={"Prefer": 'odata.include-annotations="*"'}).json()["value"]
    assert len(rows) == 1
    row = rows[0]
    assert row["activityid"] == task and row["subject"] == "Sign invoice"
    assert row["scheduledend"] == "2026-04-19T07:00:00Z"
    assert (row["statecode"], row["statuscode"]) == (0, 2)
    assert row[f"statuscode{FORMATTED}"] == "Not Started"
    assert row["_regardingobjectid_value"] == account
    assert row["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["_regardingobjectid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == \
        "regardingobjectid_account_task"


def test_deep_insert_through_account_tasks_and_read_them_back(api: ServiceRootSession) -> None:
    created = api.post("accounts", json={"name": "Fourth Coffee", "Account_Tasks": [
        {"subject": "Task 1", "actualdurationminutes": 10}, {"subject": "Task 2", "prioritycode": 2}]})
    assert created.status_code == 204, created.text
    account = created.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    tasks = api.get(f"accounts({account})/Account_Tasks?$select=subject,prioritycode&$orderby=subject").json()
    assert [(t["subject"], t["prioritycode"]) for t in tasks["value"]] == [("Task 1", None), ("Task 2", 2)]
    expanded = api.get(f"accounts({account})?$select=name&$expand=Account_Tasks($select=subject)").json()
    assert sorted(t["subject"] for t in expanded["Account_Tasks"]) == ["Task 1", "Task 2"]


@pytest.mark.parametrize(("parent", "navigation", "activity", "body"), [
    ("contacts", "Contact_Tasks", "tasks", {"lastname": "Curtis"}),
    ("leads", "Lead_Emails", "emails", {"lastname": "Doe"}),
    ("opportunities", "Opportunity_Appointments", "appointments", {"name": "Coffee"}),
    ("accounts", "Account_Emails", "emails", {"name": "Contoso"}),
])
def test_regarding_navigations_of_each_parent(api: ServiceRootSession, create: Create, parent: str,
                                              navigation: str, activity: str, body: dict[str, Any]) -> None:
    response = api.post(parent, json={**body, navigation: [{"subject": "Follow up"}]})
    assert response.status_code == 204, response.text
    parent_id = response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    children = api.get(f"{parent}({parent_id})/{navigation}?$select=subject,_regardingobjectid_value").json()
    assert [(c["subject"], c["_regardingobjectid_value"]) for c in children["value"]] == [("Follow up", parent_id)]
    assert len(api.get(f"{activity}?$select=subject").json()["value"]) == 1


def test_task_state_machine(api: ServiceRootSession, create: Create) -> None:
    task = create("tasks", {"subject": "Call back"})
    completed = api.patch(f"tasks({task})", json={"statecode": 1, "statuscode": 5}, headers={"If-Match": "*"})
    assert completed.status_code == 204
    row = api.get(f"tasks({task})?$select=statecode,statuscode,actualend").json()
    assert (row["statecode"], row["statuscode"]) == (1, 5) and row["actualend"] is not None
    wrong = api.patch(f"tasks({task})", json={"statecode": 2, "statuscode": 5}, headers={"If-Match": "*"})
    assert wrong.status_code == 400 and "TaskState.Canceled" in wrong.json()["error"]["message"]
    canceled = api.patch(f"tasks({task})", json={"statecode": 2}, headers={"If-Match": "*"})
    assert canceled.status_code == 204
    assert api.get(f"tasks({task})?$select=statuscode").json()["statuscode"] == 6
    reopened = api.patch(f"tasks({task})", json={"statecode": 0, "statuscode": 3}, headers={"If-Match": "*"})
    assert reopened.status_code == 204


@pytest.mark.parametrize(("entity_set", "open_status", "completed", "canceled"), [
    ("emails", 1, (1, 3), (2, 5)),
    ("appointments", 1, (1, 3), (2, 4)),
])
def test_email_and_appointment_states(api: ServiceRootSession, create: Create, entity_set: str,
                                      open_status: int, completed: tuple[int, int],
                                      canceled: tuple[int, int]) -> None:
    first = create(entity_set, {"subject": "a"})
    second = create(entity_set, {"subject": "b"})
    assert api.get(f"{entity_set}({first})?$select=statuscode").json()["statuscode"] == open_status
    for record, (state, status) in ((first, completed), (second, canceled)):
        response = api.patch(f"{entity_set}({record})", json={"statecode": state, "statuscode": status},
                             headers={"If-Match": "*"})
        assert response.status_code == 204, response.text
        row = api.get(f"{entity_set}({record})?$select=statecode,statuscode").json()
        assert (row["statecode"], row["statuscode"]) == (state, status)


def test_statecode_is_not_valid_for_create_on_activities(api: ServiceRootSession, create: Create) -> None:
    task = create("tasks", {"subject": "x", "statecode": 1, "statuscode": 5})
    row = api.get(f"tasks({task})?$select=statecode,statuscode").json()
    assert (row["statecode"], row["statuscode"]) == (0, 2)  # ignored, as the platform ignores it


def test_activitypointers_list_every_activity_and_are_read_only(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"lastname": "Doe"})
    task = create("tasks", {"subject": "t", "regardingobjectid_lead_task@odata.bind": f"/leads({lead})"})
    email = create("emails", {"subject": "e", "regardingobjectid_lead_email@odata.bind": f"/leads({lead})"})
    pointers = api.get(f"leads({lead})/Lead_ActivityPointers?$select=subject,activitytypecode,statecode").json()
    assert {(p["activityid"], p["activitytypecode"]) for p in pointers["value"]} == {(task, "task"),
                                                                                      (email, "email")}
    api.patch(f"tasks({task})", json={"statecode": 1, "statuscode": 5}, headers={"If-Match": "*"})
    pointer = api.get(f"activitypointers({task})?$select=statecode,statuscode").json()
    assert (pointer["statecode"], pointer["statuscode"]) == (1, 2)
    refused = api.post("activitypointers", json={"subject": "x"})
    assert refused.status_code == 400 and "activitypointer" in refused.json()["error"]["message"]
    assert api.delete(f"tasks({task})").status_code == 204
    assert api.get(f"activitypointers({task})").status_code == 404


def test_deleting_the_regarding_record_deletes_its_activities(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Contoso"})
    task = create("tasks", {"subject": "t", "regardingobjectid_account_task@odata.bind": f"/accounts({account})"})
    appointment = create("appointments", {"subject": "a", "regardingobjectid_account_appointment@odata.bind":
                                          f"/accounts({account})"})
    assert api.delete(f"accounts({account})").status_code == 204
    assert api.get(f"tasks({task})").status_code == 404
    assert api.get(f"appointments({appointment})").status_code == 404
    assert api.get("activitypointers").json()["value"] == []


def test_email_parties_are_deep_inserted(api: ServiceRootSession, create: Create) -> None:
    contact = create("contacts", {"lastname": "Curtis"})
    me = api.get("WhoAmI").json()["UserId"]
    response = api.post("emails", json={"subject": "Hello", "email_activity_parties": [
        {"partyid_systemuser@odata.bind": f"/systemusers({me})", "participationtypemask": 1},
        {"partyid_contact@odata.bind": f"/contacts({contact})", "participationtypemask": 2}]})
    assert response.status_code == 204, response.text
    email = response.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    parties = api.get(f"emails({email})/email_activity_parties?$select=participationtypemask,_partyid_value").json()
    assert {(p["participationtypemask"], p["_partyid_value"]) for p in parties["value"]} == {(1, me), (2, contact)}


def test_bulk_messages_are_not_offered_on_activities(api: ServiceRootSession) -> None:
    response = api.post("tasks/Microsoft.Dynamics.CRM.CreateMultiple",
                        json={"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.task", "subject": "x"}]})
    assert response.status_code in (400, 404) and "error" in response.json()
    assert api.get("tasks").json()["value"] == []
