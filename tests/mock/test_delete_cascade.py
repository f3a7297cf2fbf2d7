"""Deleting a record deletes the activities regarding it (setting delete_cascades_to_activities)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

Create = Callable[[str, dict[str, Any]], str]


def opportunity_with_call_and_close(api: ServiceRootSession, create: Create) -> tuple[str, str]:
    opp = create("opportunities", {"name": "Coffee machines", "estimatedvalue": 100})
    call = create("phonecalls", {"subject": "Initial Call to Jon",
                                 "regardingobjectid_opportunity_phonecall@odata.bind": f"/opportunities({opp})"})
    won = api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "subject": "Won", "opportunityid@odata.bind": f"/opportunities({opp})"}})
    assert won.status_code == 204, won.text
    return opp, call


def test_deleting_an_opportunity_deletes_its_calls_and_close_records(api: ServiceRootSession,
                                                                     create: Create) -> None:
    opp, call = opportunity_with_call_and_close(api, create)
    other = create("phonecalls", {"subject": "unrelated call"})

    assert api.delete(f"opportunities({opp})").status_code == 204

    assert api.get(f"phonecalls({call})").status_code == 404
    closes = api.get(f"opportunitycloses?$filter=_opportunityid_value eq {opp}").json()["value"]
    assert closes == []
    assert api.get(f"phonecalls({other})").status_code == 200


def test_deleting_a_lead_deletes_the_calls_regarding_it(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    call = create("phonecalls", {"subject": "call the lead",
                                 "regardingobjectid_lead_phonecall@odata.bind": f"/leads({lead})"})
    assert api.delete(f"leads({lead})").status_code == 204
    assert api.get(f"phonecalls({call})").status_code == 404


def test_without_the_cascade_the_call_stays_and_loses_its_regarding(api: ServiceRootSession, create: Create,
                                                                    mock_settings: MockSettings) -> None:
    mock_settings.delete_cascades_to_activities = False
    opp, call = opportunity_with_call_and_close(api, create)
    assert api.delete(f"opportunities({opp})").status_code == 204
    row = api.get(f"phonecalls({call})?$select=_regardingobjectid_value")
    assert row.status_code == 200
    assert row.json()["_regardingobjectid_value"] is None
