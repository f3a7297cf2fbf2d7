"""Auditing through the Web API of the mock: the switches, the ``audits`` table and the history functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

Create = Callable[[str, dict[str, Any]], str]
PAGING = '{"PageNumber":1,"Count":50,"ReturnTotalRecordCount":true}'
ANNOTATIONS = {"Prefer": 'odata.include-annotations="*"'}


def organization_id(api: ServiceRootSession) -> str:
    return str(api.get("WhoAmI").json()["OrganizationId"])


def enable_auditing(api: ServiceRootSession) -> None:
    response = api.patch(f"organizations({organization_id(api)})", json={"isauditenabled": True})
    assert response.status_code == 204, response.text


def audits_of(api: ServiceRootSession, record_id: str, extra: str = "") -> list[dict[str, Any]]:
    response = api.get(f"audits?$filter=_objectid_value eq {record_id}{extra}&$orderby=createdon asc")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["value"]
    return rows


def history(api: ServiceRootSession, entity_set: str, record_id: str, paging: str | None = PAGING,
            headers: dict[str, str] | None = None) -> Any:
    url = f"RetrieveRecordChangeHistory(Target=@t{',PagingInfo=@p' if paging else ''})" \
          f"?@t={{'@odata.id':'{entity_set}({record_id})'}}" + (f"&@p={paging}" if paging else "")
    return api.get(url, headers=headers or {})


@pytest.fixture
def audited(api: ServiceRootSession) -> ServiceRootSession:
    enable_auditing(api)
    return api


def test_organization_auditing_is_off_on_a_new_tenant_and_nothing_is_recorded(
        api: ServiceRootSession, create: Create) -> None:
    org = api.get("organizations?$select=isauditenabled,auditretentionperiodv2").json()["value"][0]
    assert org["isauditenabled"] is False
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    assert audits_of(api, lead) == []
    body = history(api, "leads", lead).json()["AuditDetailCollection"]
    assert body["AuditDetails"] == [] and body["MoreRecords"] is False


def test_a_lead_disqualified_then_reactivated_leaves_both_changes(audited: ServiceRootSession,
                                                                   create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    assert audited.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6}).status_code == 204
    assert audited.patch(f"leads({lead})", json={"statecode": 0, "statuscode": 1}).status_code == 204
    rows = audits_of(audited, lead)
    assert [(r["operation"], r["action"]) for r in rows] == [(1, 1), (2, 41), (2, 41)]
    assert all(r["objecttypecode"] == "lead" and r["_objectid_value"] == lead for r in rows)
    assert all(r["_userid_value"] == audited.get("WhoAmI").json()["UserId"] for r in rows)
    assert "changedata" not in rows[0]
    listing = audited.get(f"audits?$filter=_objectid_value eq {lead}").json()
    assert listing["@odata.context"] == f"{audited.service_root}$metadata#audits"
    single = audited.get(f"audits({rows[0]['auditid']})").json()
    assert single["@odata.context"] == f"{audited.service_root}$metadata#audits/$entity"
    assert single["operation"] == 1 and "changedata" not in single
    details = history(audited, "leads", lead).json()["AuditDetailCollection"]
    assert details["TotalRecordCount"] == 3
    newest, middle, oldest = details["AuditDetails"]
    assert newest["@odata.type"] == "#Microsoft.Dynamics.CRM.AttributeAuditDetail"
    assert newest["OldValue"] == {"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statecode": 2, "statuscode": 6}
    assert newest["NewValue"] == {"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statecode": 0, "statuscode": 1}
    assert (middle["OldValue"]["statuscode"], middle["NewValue"]["statuscode"]) == (1, 6)
    assert oldest["OldValue"] == {"@odata.type": "#Microsoft.Dynamics.CRM.lead"}
    assert oldest["NewValue"]["lastname"] == "Doe"


def test_an_update_that_changes_nothing_writes_no_audit_row(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    audited.patch(f"leads({lead})", json={"lastname": "Doe"})
    assert len(audits_of(audited, lead)) == 1
    audited.patch(f"leads({lead})", json={"jobtitle": "Buyer"})
    rows = audits_of(audited, lead)
    assert [r["action"] for r in rows] == [1, 2]


def test_delete_is_audited_with_the_old_values(audited: ServiceRootSession, create: Create) -> None:
    contact = create("contacts", {"lastname": "Lee", "jobtitle": "CFO"})
    assert audited.delete(f"contacts({contact})").status_code == 204
    rows = audits_of(audited, contact)
    assert [(r["operation"], r["action"]) for r in rows] == [(1, 1), (3, 3)]
    detail = audited.get(f"audits({rows[1]['auditid']})/Microsoft.Dynamics.CRM.RetrieveAuditDetails").json()
    assert detail["AuditDetail"]["OldValue"]["jobtitle"] == "CFO"
    assert detail["AuditDetail"]["NewValue"] == {"@odata.type": "#Microsoft.Dynamics.CRM.contact"}


def test_lookups_in_history_are_value_properties_with_annotations(audited: ServiceRootSession,
                                                                  create: Create) -> None:
    account = create("accounts", {"name": "Fabrikam"})
    contact = create("contacts", {"lastname": "Lee"})
    audited.patch(f"contacts({contact})", json={"parentcustomerid_account@odata.bind": f"/accounts({account})"})
    newest = history(audited, "contacts", contact, headers=ANNOTATIONS).json()["AuditDetailCollection"][
        "AuditDetails"][0]
    value = newest["NewValue"]
    assert value["_parentcustomerid_value"] == account
    assert value["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert value["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"] == "Fabrikam"
    assert newest["OldValue"]["_parentcustomerid_value"] is None


def test_tables_not_audited_leave_no_rows_until_switched_on(audited: ServiceRootSession, create: Create) -> None:
    flag = audited.get("EntityDefinitions(LogicalName='phonecall')?$select=IsAuditEnabled").json()
    assert flag["IsAuditEnabled"] == {"Value": False, "CanBeChanged": True,
                                      "ManagedPropertyLogicalName": "canmodifyauditsettings"}
    first = create("phonecalls", {"subject": "Call"})
    assert audits_of(audited, first) == []
    response = audited.put("EntityDefinitions(LogicalName='phonecall')",
                           json={"LogicalName": "phonecall", "IsAuditEnabled": {"Value": True}})
    assert response.status_code == 204, response.text
    second = create("phonecalls", {"subject": "Call"})
    assert [r["operation"] for r in audits_of(audited, second)] == [1]
    listed = audited.get("EntityDefinitions?$select=LogicalName,IsAuditEnabled"
                         "&$filter=IsAuditEnabled/Value eq true and IsPrivate eq false").json()["value"]
    assert "phonecall" in {item["LogicalName"] for item in listed}
    assert "audit" not in {item["LogicalName"] for item in listed}


def test_switching_organization_auditing_off_stops_recording_but_keeps_history(
        audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    audited.patch(f"organizations({organization_id(audited)})", json={"isauditenabled": False})
    audited.patch(f"leads({lead})", json={"jobtitle": "Buyer"})
    assert [r["operation"] for r in audits_of(audited, lead)] == [1]


def test_column_level_audit_flags_are_readable(api: ServiceRootSession) -> None:
    response = api.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName,IsAuditEnabled"
                       "&$filter=IsAuditEnabled/Value eq true")
    names = {item["LogicalName"] for item in response.json()["value"]}
    assert {"statecode", "statuscode", "subject"} <= names
    assert "modifiedon" not in names


def test_audits_is_read_only(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    (row,) = audits_of(audited, lead)
    for response in (audited.post("audits", json={"action": 1}),
                     audited.patch(f"audits({row['auditid']})", json={"action": 2}),
                     audited.delete(f"audits({row['auditid']})")):
        assert response.status_code == 400
        assert "does not support entities of type 'audit'" in response.json()["error"]["message"]
    assert len(audits_of(audited, lead)) == 1


def test_audits_filter_order_top_and_paging(audited: ServiceRootSession, create: Create) -> None:
    leads = [create("leads", {"subject": f"s{i}", "lastname": f"L{i}"}) for i in range(3)]
    contact = create("contacts", {"lastname": "Lee"})
    for lead in leads:
        audited.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    query = "audits?$select=_objectid_value,objecttypecode,createdon,action&$filter=objecttypecode eq 'lead' " \
            "and operation eq 2&$orderby=createdon desc"
    rows = audited.get(query).json()["value"]
    assert [r["_objectid_value"] for r in rows] == list(reversed(leads))
    assert audited.get(query + "&$top=1").json()["value"][0]["_objectid_value"] == leads[-1]
    first = audited.get(query, headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert len(first["value"]) == 2
    rest = audited.get(first["@odata.nextLink"]).json()
    assert [r["_objectid_value"] for r in first["value"] + rest["value"]] == list(reversed(leads))
    since = rows[-1]["createdon"]
    recent = audited.get(f"audits?$filter=createdon ge {since} and objecttypecode eq 'contact'").json()["value"]
    assert [r["_objectid_value"] for r in recent] == [contact]


def test_changedata_is_returned_only_when_selected(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    audited.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    rows = audits_of(audited, lead, "&$select=changedata,action")
    changes = json.loads(rows[1]["changedata"])["changedAttributes"]
    assert {"logicalName": "statuscode", "oldValue": "1", "newValue": "6"} in changes


@pytest.mark.parametrize("mock_settings", [MockSettings.model_validate({"audit": {"changedata_selectable": False}})])
def test_changedata_can_be_an_unknown_property(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    response = audited.get(f"audits?$filter=_objectid_value eq {lead}&$select=changedata")
    assert response.status_code == 400
    assert "changedata" in response.json()["error"]["message"]


def test_history_paging(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    for title in ("A", "B", "C"):
        audited.patch(f"leads({lead})", json={"jobtitle": title})
    first = history(audited, "leads", lead, '{"PageNumber":1,"Count":2,"ReturnTotalRecordCount":true}').json()
    second = history(audited, "leads", lead, '{"PageNumber":2,"Count":2}').json()
    one, two = first["AuditDetailCollection"], second["AuditDetailCollection"]
    assert (one["MoreRecords"], one["TotalRecordCount"], len(one["AuditDetails"])) == (True, 4, 2)
    assert (two["MoreRecords"], two["TotalRecordCount"], len(two["AuditDetails"])) == (False, -1, 2)
    assert one["PagingCookie"].startswith("<cookie page=\"1\">")
    assert [d["NewValue"].get("jobtitle") for d in one["AuditDetails"]] == ["C", "B"]


def test_history_without_paging_info_and_attribute_history(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    audited.patch(f"leads({lead})", json={"jobtitle": "A"})
    audited.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    body = history(audited, "leads", lead, paging=None).json()
    assert len(body["AuditDetailCollection"]["AuditDetails"]) == 3
    url = (f"RetrieveAttributeChangeHistory(Target=@t,AttributeLogicalName=@a,PagingInfo=@p)"
           f"?@t={{'@odata.id':'leads({lead})'}}&@a='statuscode'&@p={PAGING}")
    details = audited.get(url).json()["AuditDetailCollection"]["AuditDetails"]
    assert [(d["OldValue"], d["NewValue"]) for d in details] == [
        ({"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statuscode": 1},
         {"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statuscode": 6}),
        ({"@odata.type": "#Microsoft.Dynamics.CRM.lead"},
         {"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statuscode": 1})]


@pytest.mark.parametrize("mock_settings", [MockSettings.model_validate(
    {"audit": {"history_requires_paging_info": True, "history_order": "oldest_first",
               "history_includes_audit_record": True}})])
def test_history_variants(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    audited.patch(f"leads({lead})", json={"jobtitle": "A"})
    missing = history(audited, "leads", lead, paging=None)
    assert missing.status_code == 400
    assert "PagingInfo" in missing.json()["error"]["message"]
    details = history(audited, "leads", lead).json()["AuditDetailCollection"]["AuditDetails"]
    assert [d["AuditRecord"]["action"] for d in details] == [1, 2]
    assert details[0]["AuditRecord"]["_objectid_value"] == lead


def test_history_errors_are_4xx(audited: ServiceRootSession) -> None:
    assert audited.get("RetrieveRecordChangeHistory(Target=@t)?@t=42").status_code == 400
    assert audited.get("RetrieveRecordChangeHistory(Target=@t)?@t={'@odata.id':'nothings(1)'}").status_code == 404
    missing = "audits(00000000-0000-0000-0000-000000000001)/Microsoft.Dynamics.CRM.RetrieveAuditDetails"
    assert audited.get(missing).status_code == 404
    assert audited.post(missing.replace("01)", "02)"), json={}).status_code == 404


def test_a_users_audit_rows_through_lk_audit_userid(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    user = audited.get("WhoAmI").json()["UserId"]
    response = audited.get(f"systemusers({user})/lk_audit_userid?$select=_objectid_value,operation"
                           f"&$filter=objecttypecode eq 'lead'")
    assert response.status_code == 200, response.text
    assert [(r["_objectid_value"], r["operation"]) for r in response.json()["value"]] == [(lead, 1)]
    assert audited.get(f"systemusers({user})/lk_audit_callinguserid").json()["value"] == []


def test_expanding_the_user_of_an_audit_row_yields_null(audited: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    response = audited.get(f"audits?$filter=_objectid_value eq {lead}&$select=_userid_value,action"
                           f"&$expand=userid($select=fullname),objectid_lead($select=subject)")
    assert response.status_code == 200, response.text
    (row,) = response.json()["value"]
    assert row["userid"] is None
    assert row["_userid_value"] == audited.get("WhoAmI").json()["UserId"]
    assert row["objectid_lead"]["subject"] == "s"
