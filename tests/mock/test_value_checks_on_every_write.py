"""Every way of writing a row checks its values the same way (the tenant checks, not each handler)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
LEAD_TYPE = "Microsoft.Dynamics.CRM.lead"

BAD_VALUES = [
    ({"leadsourcecode": "Web"}, "Cannot convert the literal 'Web' to the expected type 'Edm.Int32'"),
    ({"leadsourcecode": 2.5}, "Edm.Int32"),
    ({"decisionmaker": "yes"}, "Edm.Boolean"),
    ({"estimatedclosedate": "2026-02-30"}, "Edm.Date"),
    ({"subject": 12}, "Edm.String"),
    ({"budgetamount": "twelve"}, "Edm.Decimal"),
    ({"leadsourcecode": 99}, "outside the valid range"),
]


def lead_count(api: ServiceRootSession) -> int:
    return int(api.get("leads/$count").text.lstrip("\ufeff"))


def refused(response: Any, fragment: str) -> None:
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(("bad", "fragment"), BAD_VALUES)
def test_create_multiple_checks_each_value(api: ServiceRootSession, bad: dict[str, Any], fragment: str) -> None:
    before = lead_count(api)
    targets = [{"@odata.type": LEAD_TYPE, "subject": "fine", "lastname": "A"},
               {"@odata.type": LEAD_TYPE, "subject": "bad", "lastname": "B", **bad}]
    refused(api.post("leads/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets}), fragment)
    assert lead_count(api) == before  # all or nothing


@pytest.mark.parametrize(("bad", "fragment"), BAD_VALUES)
def test_update_paths_check_each_value(api: ServiceRootSession, create: Create, bad: dict[str, Any],
                                       fragment: str) -> None:
    lead = create("leads", {"subject": "kept", "lastname": "K"})
    refused(api.patch(f"leads({lead})", json=bad), fragment)
    refused(api.post("leads/Microsoft.Dynamics.CRM.UpdateMultiple",
                     json={"Targets": [{"@odata.type": LEAD_TYPE, "leadid": lead, **bad}]}), fragment)
    refused(api.post("leads/Microsoft.Dynamics.CRM.UpsertMultiple",
                     json={"Targets": [{"@odata.type": LEAD_TYPE, "leadid": lead, **bad}]}), fragment)
    ((name, value),) = bad.items()
    refused(api.put(f"leads({lead})/{name}", json={"value": value}), fragment)
    assert api.get(f"leads({lead})?$select=subject").json()["subject"] == "kept"


def test_client_keys_are_normalised_and_a_case_variant_is_a_duplicate(api: ServiceRootSession) -> None:
    key = "5B7D3A40-1C2D-4E5F-8A9B-0C1D2E3F4A5B"
    first = api.post("leads/Microsoft.Dynamics.CRM.CreateMultiple",
                     json={"Targets": [{"@odata.type": LEAD_TYPE, "subject": "s", "lastname": "l",
                                        "leadid": "{" + key + "}"}]})
    assert first.status_code == 200, first.text
    assert first.json()["Ids"] == [key.lower()]
    again = api.post("leads/Microsoft.Dynamics.CRM.CreateMultiple",
                     json={"Targets": [{"@odata.type": LEAD_TYPE, "subject": "s", "lastname": "l",
                                        "leadid": key.lower()}]})
    assert again.status_code == 412, again.text
