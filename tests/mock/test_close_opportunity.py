"""WinOpportunity / LoseOpportunity through the Web API of the mock: effects, errors, reopening."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings
from d365lab.models.schema import STAGE_IDS

Create = Callable[[str, dict[str, Any]], str]
FLOWS = "leadtoopportunitysalesprocesses"
OPPORTUNITY_SELECT = "$select=statecode,statuscode,actualvalue,actualclosedate,msdyn_forecastcategory"
CLOSE_SELECT = ("$select=subject,statecode,statuscode,opportunitystatecode,opportunitystatuscode,"
                "actualrevenue,actualend,_opportunityid_value")


def get(api: ServiceRootSession, path: str) -> dict[str, Any]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def closes(api: ServiceRootSession, opportunity: str) -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = get(
        api, f"opportunitycloses?$filter=_opportunityid_value eq {opportunity}&{CLOSE_SELECT}")["value"]
    return value


@pytest.fixture
def opportunity(create: Create) -> str:
    return create("opportunities", {"name": "Coffee machines", "estimatedvalue": 25000})


def test_win_closes_the_opportunity(api: ServiceRootSession, opportunity: str) -> None:
    response = api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "subject": "Won: coffee", "opportunityid@odata.bind": f"/opportunities({opportunity})",
        "actualrevenue": 24000, "actualend": "2026-03-31", "description": "Signed"}})
    assert response.status_code == 204, response.text
    assert response.content == b""
    row = get(api, f"opportunities({opportunity})?{OPPORTUNITY_SELECT}")
    assert (row["statecode"], row["statuscode"]) == (1, 3)
    assert (row["actualvalue"], row["actualclosedate"]) == (24000, "2026-03-31")
    assert row["msdyn_forecastcategory"] == 100000005
    (close,) = closes(api, opportunity)
    assert close["subject"] == "Won: coffee"
    assert (close["statecode"], close["statuscode"]) == (1, 2)
    assert (close["opportunitystatecode"], close["opportunitystatuscode"]) == (1, 3)
    assert (close["actualrevenue"], close["actualend"]) == (24000, "2026-03-31")


def test_win_defaults_revenue_to_estimate_and_date_to_today(api: ServiceRootSession, opportunity: str) -> None:
    response = api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "opportunityid@odata.bind": f"{api.service_root}opportunities({opportunity})"}})
    assert response.status_code == 204, response.text
    row = get(api, f"opportunities({opportunity})?{OPPORTUNITY_SELECT}")
    assert row["actualvalue"] == 25000
    assert row["actualclosedate"] == datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.mark.parametrize("status", [4, 5])
def test_lose_with_either_lost_status(api: ServiceRootSession, opportunity: str, status: int) -> None:
    response = api.post("LoseOpportunity", json={"Status": status, "OpportunityClose": {
        "subject": "Lost", "opportunityid@odata.bind": f"opportunities({opportunity})"}})
    assert response.status_code == 204, response.text
    row = get(api, f"opportunities({opportunity})?{OPPORTUNITY_SELECT}")
    assert (row["statecode"], row["statuscode"]) == (2, status)
    assert row["msdyn_forecastcategory"] == 100000006
    (close,) = closes(api, opportunity)
    assert (close["opportunitystatecode"], close["opportunitystatuscode"]) == (2, status)


def test_closing_a_closed_opportunity_is_refused(api: ServiceRootSession, opportunity: str) -> None:
    body = {"Status": 3, "OpportunityClose": {"opportunityid@odata.bind": f"/opportunities({opportunity})"}}
    assert api.post("WinOpportunity", json=body).status_code == 204
    response = api.post("LoseOpportunity", json={**body, "Status": 4})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The opportunity is already closed."
    assert len(closes(api, opportunity)) == 1


@pytest.mark.parametrize(("message", "status"), [("WinOpportunity", 4), ("LoseOpportunity", 3),
                                                  ("LoseOpportunity", 1)])
def test_status_must_belong_to_the_target_state(api: ServiceRootSession, opportunity: str,
                                                message: str, status: int) -> None:
    response = api.post(message, json={"Status": status, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})"}})
    assert response.status_code == 400
    assert "is not a valid status code" in response.json()["error"]["message"]
    assert get(api, f"opportunities({opportunity})?$select=statecode")["statecode"] == 0
    assert closes(api, opportunity) == []


def test_missing_opportunity_is_404(api: ServiceRootSession) -> None:
    missing = "00000000-0000-0000-0000-0000000000cc"
    response = api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({missing})"}})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"opportunity With Id = {missing} Does Not Exist"


@pytest.mark.parametrize("body", [
    {"Status": 3},
    {"OpportunityClose": {"subject": "x"}},
    {"Status": 3, "OpportunityClose": {"subject": "no bind"}},
    {"Status": 3, "OpportunityClose": {"opportunityid@odata.bind": "/accounts(00000000-0000-0000-0000-000000000001)"}},
])
def test_malformed_parameters_are_400(api: ServiceRootSession, body: dict[str, Any]) -> None:
    assert api.post("WinOpportunity", json=body).status_code == 400


def test_win_is_an_unbound_action_only(api: ServiceRootSession, opportunity: str) -> None:
    assert api.get("WinOpportunity").status_code == 404


def test_reopening_cancels_the_close_activities(api: ServiceRootSession, opportunity: str) -> None:
    api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})"}})
    assert api.patch(f"opportunities({opportunity})", json={"statecode": 0, "statuscode": 1}).status_code == 204
    (close,) = closes(api, opportunity)
    assert (close["statecode"], close["statuscode"]) == (2, 3)
    # and it can be closed again
    response = api.post("LoseOpportunity", json={"Status": 5, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})"}})
    assert response.status_code == 204
    assert sorted((c["statecode"], c["statuscode"]) for c in closes(api, opportunity)) == [(1, 2), (2, 3)]


def _developed_opportunity(api: ServiceRootSession, create: Create) -> tuple[str, str]:
    lead = create("leads", {"subject": "s", "lastname": "Doe"})
    response = api.post(f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json={
        "CreateAccount": False, "CreateContact": True, "CreateOpportunity": True, "Status": 3})
    opportunity = [i for i in response.json()["value"] if "opportunityid" in i][0]["opportunityid"]
    (instance,) = api.get(f"{FLOWS}?$filter=_opportunityid_value eq {opportunity}").json()["value"]
    return opportunity, instance["businessprocessflowinstanceid"]


def test_closing_leaves_the_process_alone_by_default(api: ServiceRootSession, create: Create) -> None:
    opportunity, flow_id = _developed_opportunity(api, create)
    api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
        "opportunityid@odata.bind": f"/opportunities({opportunity})"}})
    row = get(api, f"{FLOWS}({flow_id})?$select=statecode,_activestageid_value")
    assert (row["statecode"], row["_activestageid_value"]) == (0, STAGE_IDS["Develop"])


class TestCloseFinishesProcess:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"close_finishes_process_flow": True})

    def test_win_finishes_and_lose_aborts(self, api: ServiceRootSession, create: Create) -> None:
        won, won_flow = _developed_opportunity(api, create)
        lost, lost_flow = _developed_opportunity(api, create)
        api.post("WinOpportunity", json={"Status": 3, "OpportunityClose": {
            "opportunityid@odata.bind": f"/opportunities({won})"}})
        api.post("LoseOpportunity", json={"Status": 4, "OpportunityClose": {
            "opportunityid@odata.bind": f"/opportunities({lost})"}})
        assert get(api, f"{FLOWS}({won_flow})?$select=statuscode")["statuscode"] == 2
        assert get(api, f"{FLOWS}({lost_flow})?$select=statuscode")["statuscode"] == 3
