"""The Lead to Opportunity business process flow, through the Web API of the mock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS

Create = Callable[[str, dict[str, Any]], str]
FLOWS = "leadtoopportunitysalesprocesses"
QUALIFY, DEVELOP, PROPOSE, CLOSE = (STAGE_IDS[n] for n in ("Qualify", "Develop", "Propose", "Close"))
SELECT = "$select=_activestageid_value,traversedpath,statecode,statuscode,completedon,_opportunityid_value"


def flows_of_lead(api: ServiceRootSession, lead: str) -> list[dict[str, Any]]:
    response = api.get(f"{FLOWS}?$filter=_leadid_value eq {lead}&{SELECT},name,_processid_value,activestagestartedon")
    assert response.status_code == 200, response.text
    value: list[dict[str, Any]] = response.json()["value"]
    return value


def flow(api: ServiceRootSession, flow_id: str) -> dict[str, Any]:
    response = api.get(f"{FLOWS}({flow_id})?{SELECT}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def move(api: ServiceRootSession, flow_id: str, stage: str, path: str | None = None,
         extra: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"activestageid@odata.bind": f"/processstages({stage})", **(extra or {})}
    if path is not None:
        body["traversedpath"] = path
    return api.patch(f"{FLOWS}({flow_id})", json=body, headers={"If-Match": "*"})


@pytest.fixture
def lead_flow(api: ServiceRootSession, create: Create) -> tuple[str, str]:
    lead = create("leads", {"subject": "Coffee", "lastname": "Doe"})
    (instance,) = flows_of_lead(api, lead)
    return lead, instance["businessprocessflowinstanceid"]


@pytest.fixture
def developed_flow(api: ServiceRootSession, create: Create, lead_flow: tuple[str, str]) -> str:
    _, flow_id = lead_flow
    opportunity = create("opportunities", {"name": "o"})
    response = move(api, flow_id, DEVELOP, extra={"opportunityId@odata.bind": f"/opportunities({opportunity})"})
    assert response.status_code == 204, response.text
    return flow_id


def test_lead_create_starts_an_instance_at_qualify(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "Coffee", "lastname": "Doe"})
    (instance,) = flows_of_lead(api, lead)
    assert instance["name"] == "Lead to Opportunity Sales Process"
    assert instance["_processid_value"] == LEAD_TO_OPPORTUNITY_PROCESS_ID
    assert instance["_activestageid_value"] == QUALIFY
    assert instance["traversedpath"] == QUALIFY
    assert (instance["statecode"], instance["statuscode"]) == (0, 1)
    assert instance["activestagestartedon"].endswith("Z")


def test_lead_created_with_empty_process_gets_no_instance(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "s", "processid": "00000000-0000-0000-0000-000000000000"})
    assert flows_of_lead(api, lead) == []


class TestNoAutoCreate:
    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"auto_create_process_flow": False})

    def test_no_instance_and_explicit_creation_works(self, api: ServiceRootSession, create: Create) -> None:
        lead = create("leads", {"subject": "s"})
        assert flows_of_lead(api, lead) == []
        flow_id = create(FLOWS, {
            "processid@odata.bind": f"/workflows({LEAD_TO_OPPORTUNITY_PROCESS_ID})",
            "leadId@odata.bind": f"/leads({lead})", "traversedpath": QUALIFY,
            "activestageid@odata.bind": f"/processstages({QUALIFY})"})
        assert flow(api, flow_id)["_activestageid_value"] == QUALIFY


def test_explicit_instance_replaces_the_untouched_automatic_one(api: ServiceRootSession, create: Create,
                                                                lead_flow: tuple[str, str]) -> None:
    lead, automatic = lead_flow
    explicit = create(FLOWS, {
        "processid@odata.bind": f"/workflows({LEAD_TO_OPPORTUNITY_PROCESS_ID})",
        "leadId@odata.bind": f"/leads({lead})", "traversedpath": QUALIFY,
        "activestageid@odata.bind": f"/processstages({QUALIFY})"})
    assert [f["businessprocessflowinstanceid"] for f in flows_of_lead(api, lead)] == [explicit]
    assert api.get(f"{FLOWS}({automatic})").status_code == 404


def test_create_with_inconsistent_path_is_refused(api: ServiceRootSession, create: Create) -> None:
    opportunity = create("opportunities", {"name": "o"})
    response = api.post(FLOWS, json={"opportunityId@odata.bind": f"/opportunities({opportunity})",
                                     "activestageid@odata.bind": f"/processstages({PROPOSE})",
                                     "traversedpath": f"{QUALIFY},{PROPOSE}"})
    assert response.status_code == 400
    assert "traversedpath" in response.json()["error"]["message"]


def test_qualify_to_develop_requires_the_opportunity(api: ServiceRootSession, lead_flow: tuple[str, str]) -> None:
    _, flow_id = lead_flow
    response = move(api, flow_id, DEVELOP)
    assert response.status_code == 400
    assert "requires the opportunity" in response.json()["error"]["message"]
    assert flow(api, flow_id)["_activestageid_value"] == QUALIFY


def test_forward_moves_extend_the_path(api: ServiceRootSession, developed_flow: str) -> None:
    assert flow(api, developed_flow)["traversedpath"] == f"{QUALIFY},{DEVELOP}"
    assert move(api, developed_flow, PROPOSE, f"{QUALIFY},{DEVELOP},{PROPOSE}").status_code == 204
    assert move(api, developed_flow, CLOSE).status_code == 204  # path left out: filled in
    row = flow(api, developed_flow)
    assert row["_activestageid_value"] == CLOSE
    assert row["traversedpath"] == f"{QUALIFY},{DEVELOP},{PROPOSE},{CLOSE}"


def test_skipping_a_stage_is_refused(api: ServiceRootSession, developed_flow: str) -> None:
    response = move(api, developed_flow, CLOSE, f"{QUALIFY},{DEVELOP},{CLOSE}")
    assert response.status_code == 400
    assert "in sequence" in response.json()["error"]["message"]
    assert flow(api, developed_flow)["_activestageid_value"] == DEVELOP


def test_wrong_path_on_a_move_is_refused(api: ServiceRootSession, developed_flow: str) -> None:
    response = move(api, developed_flow, PROPOSE, f"{QUALIFY},{PROPOSE}")
    assert response.status_code == 400
    assert f"{QUALIFY},{DEVELOP},{PROPOSE}" in response.json()["error"]["message"]


def test_moving_back_trims_the_path(api: ServiceRootSession, developed_flow: str) -> None:
    move(api, developed_flow, PROPOSE)
    assert move(api, developed_flow, DEVELOP, f"{QUALIFY},{DEVELOP}").status_code == 204
    assert flow(api, developed_flow)["traversedpath"] == f"{QUALIFY},{DEVELOP}"


def test_finish_only_at_the_last_stage(api: ServiceRootSession, developed_flow: str) -> None:
    response = api.patch(f"{FLOWS}({developed_flow})", json={"statecode": 1, "statuscode": 2})
    assert response.status_code == 400
    assert "last stage" in response.json()["error"]["message"]
    move(api, developed_flow, PROPOSE)
    move(api, developed_flow, CLOSE)
    assert api.patch(f"{FLOWS}({developed_flow})", json={"statecode": 1, "statuscode": 2}).status_code == 204
    row = flow(api, developed_flow)
    assert (row["statecode"], row["statuscode"]) == (1, 2)
    assert row["completedon"].endswith("Z")


def test_abort_anywhere_and_reactivate(api: ServiceRootSession, lead_flow: tuple[str, str]) -> None:
    _, flow_id = lead_flow
    assert api.patch(f"{FLOWS}({flow_id})", json={"statecode": 1, "statuscode": 3}).status_code == 204
    assert (flow(api, flow_id)["statecode"], flow(api, flow_id)["statuscode"]) == (1, 3)
    assert move(api, flow_id, QUALIFY, QUALIFY).status_code == 204  # same stage: not a move
    response = api.patch(f"{FLOWS}({flow_id})", json={"statecode": 0, "statuscode": 1})
    assert response.status_code == 204
    assert (flow(api, flow_id)["statecode"], flow(api, flow_id)["statuscode"]) == (0, 1)


def test_moving_an_inactive_instance_is_refused(api: ServiceRootSession, developed_flow: str) -> None:
    api.patch(f"{FLOWS}({developed_flow})", json={"statecode": 1, "statuscode": 3})
    response = move(api, developed_flow, PROPOSE)
    assert response.status_code == 400
    assert "not active" in response.json()["error"]["message"]


def test_deleting_the_lead_deletes_its_instances(api: ServiceRootSession, lead_flow: tuple[str, str]) -> None:
    lead, flow_id = lead_flow
    assert api.delete(f"leads({lead})").status_code == 204
    assert api.get(f"{FLOWS}({flow_id})").status_code == 404


def test_retrieve_active_path(api: ServiceRootSession, lead_flow: tuple[str, str]) -> None:
    _, flow_id = lead_flow
    response = api.get(f"RetrieveActivePath(ProcessInstanceId=@p)?@p={flow_id}")
    assert response.status_code == 200, response.text
    stages = response.json()["value"]
    assert [s["stagename"] for s in stages] == ["Qualify", "Develop", "Propose", "Close"]
    assert [s["processstageid"] for s in stages] == [QUALIFY, DEVELOP, PROPOSE, CLOSE]


def test_retrieve_process_instances(api: ServiceRootSession, lead_flow: tuple[str, str]) -> None:
    lead, flow_id = lead_flow
    response = api.get(f"RetrieveProcessInstances(EntityLogicalName=@n,EntityId=@i)?@n='lead'&@i={lead}")
    assert response.status_code == 200, response.text
    (process,) = response.json()["Processes"]
    assert process["businessprocessflowinstanceid"] == flow_id
    assert process["processstageid"] == QUALIFY
