"""The UNVERIFIED audit behaviours a real tenant may show, as settings: unaudited columns, split rows, delay.

Source: shared/reference/audit-timezones-grading.md §1.3-§1.5 (what it marks UNVERIFIED).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings
from tests.mock.test_audit import audits_of, enable_auditing, history

Create = Callable[[str, dict[str, Any]], str]


def settings(**audit: Any) -> MockSettings:
    return MockSettings.model_validate({"audit": audit})


@pytest.mark.parametrize("mock_settings", [settings(unaudited_columns={"lead": ["statecode", "statuscode"]})])
def test_unaudited_columns_leave_no_value_and_no_row(api: ServiceRootSession, create: Create) -> None:
    enable_auditing(api)
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    api.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    api.patch(f"leads({lead})", json={"statecode": 0, "statuscode": 1, "jobtitle": "Buyer"})
    assert [(r["operation"], r["action"]) for r in audits_of(api, lead)] == [(1, 1), (2, 2)]
    newest = history(api, "leads", lead).json()["AuditDetailCollection"]["AuditDetails"][0]
    assert newest["NewValue"] == {"@odata.type": "#Microsoft.Dynamics.CRM.lead", "jobtitle": "Buyer"}
    flags = api.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName,IsAuditEnabled").json()
    audited = {item["LogicalName"]: item["IsAuditEnabled"]["Value"] for item in flags["value"]}
    assert (audited["statecode"], audited["statuscode"], audited["jobtitle"]) == (False, False, True)


@pytest.mark.parametrize("mock_settings", [settings(split_state_and_status=True)])
def test_a_state_change_can_be_two_rows(api: ServiceRootSession, create: Create) -> None:
    enable_auditing(api)
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    api.patch(f"leads({lead})", json={"statecode": 2, "statuscode": 6})
    rows = audits_of(api, lead)
    assert [(r["operation"], r["action"]) for r in rows] == [(1, 1), (2, 41), (2, 2)]
    details = history(api, "leads", lead).json()["AuditDetailCollection"]["AuditDetails"]
    status, state = details[0], details[1]
    assert (state["OldValue"], state["NewValue"]) == ({"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statecode": 0},
                                                      {"@odata.type": "#Microsoft.Dynamics.CRM.lead", "statecode": 2})
    assert (status["OldValue"]["statuscode"], status["NewValue"]["statuscode"]) == (1, 6)


@pytest.mark.parametrize("mock_settings", [settings(visibility_delay_seconds=3)])
def test_audit_rows_can_show_late(api: ServiceRootSession, create: Create) -> None:
    enable_auditing(api)
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    assert audits_of(api, lead) == []
    assert history(api, "leads", lead).json()["AuditDetailCollection"]["AuditDetails"] == []
    time.sleep(4.1)  # createdon has whole seconds: the delay plus the rounding
    rows = audits_of(api, lead, " and operation eq 1")
    assert len(rows) == 1
    assert len(history(api, "leads", lead).json()["AuditDetailCollection"]["AuditDetails"]) == 1
    detail = api.get(f"audits({rows[0]['auditid']})/Microsoft.Dynamics.CRM.RetrieveAuditDetails")
    assert detail.status_code == 200
