"""Column-level auditing switched the documented way: the column's whole definition PUT back
with ``IsAuditEnabled.Value`` true, then ``PublishXml`` (Microsoft's "Configure auditing" page:
changes take effect once the table's customizations are published). Plus the caller without
a customizer role (``MockSettings.audit.caller_can_customize``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings
from tests.mock.test_audit import audits_of, enable_auditing, history, organization_id

Create = Callable[[str, dict[str, Any]], str]
OFF = {"lead": ["statecode", "statuscode"]}
STATECODE = "EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='statecode')"
MERGE = {"MSCRM.MergeLabels": "true"}


def settings(**audit: Any) -> MockSettings:
    return MockSettings.model_validate({"audit": audit})


def flag(api: ServiceRootSession, column: str) -> dict[str, Any]:
    response = api.get(f"EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='{column}')"
                       "?$select=LogicalName,IsAuditEnabled")
    assert response.status_code == 200, response.text
    value: dict[str, Any] = response.json()["IsAuditEnabled"]
    return value


def switch_on(api: ServiceRootSession, column: str) -> Any:
    """As the docs show: GET the whole definition, change the one value, PUT it back."""
    path = f"EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='{column}')"
    definition = api.get(path).json()
    body = {k: v for k, v in definition.items() if k != "@odata.context"}
    body["IsAuditEnabled"] = {**body["IsAuditEnabled"], "Value": True}
    return api.put(path, json=body, headers=MERGE)


def publish(api: ServiceRootSession, *tables: str) -> Any:
    entities = "".join(f"<entity>{t}</entity>" for t in tables)
    return api.post("PublishXml", json={"ParameterXml": f"<importexportxml><entities>{entities}</entities>"
                                                        "</importexportxml>"})


def state_values_seen(api: ServiceRootSession, lead: str) -> bool:
    details = history(api, "leads", lead).json()["AuditDetailCollection"]["AuditDetails"]
    return any("statecode" in d["NewValue"] for d in details)


@pytest.mark.parametrize("mock_settings", [settings(unaudited_columns=OFF)])
def test_a_column_switched_on_takes_effect_once_published(api: ServiceRootSession, create: Create) -> None:
    enable_auditing(api)
    assert flag(api, "statecode") == {"Value": False, "CanBeChanged": True,
                                      "ManagedPropertyLogicalName": "canmodifyauditsettings"}
    assert switch_on(api, "statecode").status_code == 204
    assert switch_on(api, "statuscode").status_code == 204
    assert flag(api, "statecode")["Value"] is False  # not published yet
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    api.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    assert not state_values_seen(api, lead)
    assert publish(api, "lead").status_code == 204
    assert flag(api, "statecode")["Value"] is True and flag(api, "statuscode")["Value"] is True
    api.patch(f"leads({lead})", json={"statecode": 0, "statuscode": 1})
    assert state_values_seen(api, lead)
    filtered = api.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName"
                       "&$filter=IsAuditEnabled/Value eq false").json()["value"]
    assert "statecode" not in {item["LogicalName"] for item in filtered}


@pytest.mark.parametrize("mock_settings", [settings(unaudited_columns=OFF)])
def test_publish_all_and_publishing_another_table(api: ServiceRootSession) -> None:
    assert switch_on(api, "statecode").status_code == 204
    assert publish(api, "account").status_code == 204
    assert flag(api, "statecode")["Value"] is False
    assert api.post("PublishAllXml", json={}).status_code == 204
    assert flag(api, "statecode")["Value"] is True


@pytest.mark.parametrize("mock_settings", [settings(unaudited_columns=OFF, column_changes_need_publish=False)])
def test_a_tenant_that_needs_no_publish(api: ServiceRootSession) -> None:
    assert switch_on(api, "statecode").status_code == 204
    assert flag(api, "statecode")["Value"] is True
    assert flag(api, "statuscode")["Value"] is False


def test_the_key_and_the_stamps_cannot_change_and_bad_bodies_are_400(api: ServiceRootSession) -> None:
    assert flag(api, "leadid") == {"Value": False, "CanBeChanged": False,
                                   "ManagedPropertyLogicalName": "canmodifyauditsettings"}
    key = api.put("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='leadid')",
                  json={"IsAuditEnabled": {"Value": True}})
    assert key.status_code == 400 and "cannot be changed" in key.json()["error"]["message"]
    wrong_type = api.put(STATECODE, json={"@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata",
                                          "IsAuditEnabled": {"Value": True}})
    assert wrong_type.status_code == 400 and "StateAttributeMetadata" in wrong_type.json()["error"]["message"]
    assert api.put(STATECODE, json={"LogicalName": "statuscode"}).status_code == 400
    assert api.put(STATECODE, json={"IsAuditEnabled": {"Value": "yes"}}).status_code == 400
    assert api.put(STATECODE, json=[1]).status_code == 400
    missing = api.put("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='nosuch')", json={})
    assert missing.status_code == 404 and missing.json()["error"]["code"]
    for xml in ("<importexportxml><entities><entity>nosuch</entity></entities></importexportxml>",
                "<importexportxml><entities>", "<fetch/>", "", "<!DOCTYPE x []><importexportxml/>"):
        response = api.post("PublishXml", json={"ParameterXml": xml})
        assert response.status_code == 400, xml
        assert response.json()["error"]["message"]
    assert api.post("PublishXml", json={}).status_code == 400


@pytest.mark.parametrize("mock_settings", [settings(unaudited_columns=OFF, caller_can_customize=False)])
def test_a_user_without_a_customizer_role_gets_403(api: ServiceRootSession, create: Create) -> None:
    denied = [switch_on(api, "statecode"), publish(api, "lead"), api.post("PublishAllXml", json={}),
              api.put("EntityDefinitions(LogicalName='lead')", json={"IsAuditEnabled": {"Value": False}}),
              api.patch(f"organizations({organization_id(api)})", json={"isauditenabled": True})]
    for response in denied:
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert "is missing prv" in error["message"] and "System Customizer" in error["message"]
    assert flag(api, "statecode")["Value"] is False
    org = api.get("organizations?$select=isauditenabled").json()["value"][0]
    assert org["isauditenabled"] is False
    lead = create("leads", {"subject": "s", "lastname": "Doe"})  # ordinary writes still work
    assert audits_of(api, lead) == []
