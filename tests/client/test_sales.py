"""Sales verbs: the exact requests each one sends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import responses
from responses import matchers

from d365lab.client import DataverseClient
from d365lab.errors import ClientValidationError, InvalidStateTransitionError
from d365lab.models.enums import LeadStatus, OpportunityStatus, ParticipationType
from d365lab.models.schema import LEAD_TO_OPPORTUNITY_PROCESS_ID, STAGE_IDS
from d365lab.sales import Party

from .conftest import API, assert_odata_headers, body_of

LEAD = "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c"
OPP = "3d4e5f60-1b7d-ef11-a671-000d3a1a2b3c"
ACC = "1b2c3d4e-1b7d-ef11-a671-000d3a1a2b3c"
CON = "2c3d4e5f-1b7d-ef11-a671-000d3a1a2b3c"
USER = "d96e9f55-f06d-e511-80d0-00155db07cb1"
FLOW = "5e6f7a8b-1b7d-ef11-a671-000d3a1a2b3c"
QUALIFY_URL = API + f"leads({LEAD})/Microsoft.Dynamics.CRM.QualifyLead"
CREATED = {"value": [
    {"@odata.type": "#Microsoft.Dynamics.CRM.opportunity", "opportunityid": OPP},
    {"@odata.type": "#Microsoft.Dynamics.CRM.contact", "contactid": CON},
    {"@odata.type": "#Microsoft.Dynamics.CRM.account", "accountid": ACC},
]}


def test_qualify_creates_an_account_only_when_the_lead_has_a_company(client: DataverseClient,
                                                                     rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leads({LEAD})", json={"leadid": LEAD, "companyname": "Fabrikam"},
             match=[matchers.query_string_matcher("$select=companyname")])
    rsps.post(QUALIFY_URL, json=CREATED)
    result = client.leads.qualify(LEAD)
    assert (result.account_id, result.contact_id, result.opportunity_id) == (ACC, CON, OPP)
    call = rsps.calls[1]
    assert_odata_headers(call)
    assert body_of(call) == {"CreateAccount": True, "CreateContact": True, "CreateOpportunity": True, "Status": 3}


def test_qualify_without_company_creates_no_account(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leads({LEAD})", json={"leadid": LEAD, "companyname": None})
    rsps.post(QUALIFY_URL, json={"value": [CREATED["value"][0]]})
    result = client.leads.qualify(LEAD, create_contact=False)
    assert result.account_id is None and result.opportunity_id == OPP
    assert body_of(rsps.calls[1])["CreateAccount"] is False


def test_qualify_with_explicit_options(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(QUALIFY_URL, json={"value": []})
    result = client.leads.qualify(LEAD, create_account=False, create_contact=False, create_opportunity=False,
                                  currency_id=ACC, customer=("contact", CON))
    assert result.opportunity_id is None
    assert body_of(rsps.calls[0]) == {
        "CreateAccount": False, "CreateContact": False, "CreateOpportunity": False, "Status": 3,
        "OpportunityCurrencyId": {"@odata.type": "Microsoft.Dynamics.CRM.transactioncurrency",
                                  "transactioncurrencyid": ACC},
        "OpportunityCustomerId": {"@odata.type": "Microsoft.Dynamics.CRM.contact", "contactid": CON},
    }


def test_qualify_of_a_closed_lead_is_an_invalid_state(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(QUALIFY_URL, status=400, json={"error": {"code": "0x80040203", "message":
              "The lead is closed. You cannot convert or qualify a lead that is already closed."}})
    with pytest.raises(InvalidStateTransitionError, match="reactivate"):
        client.leads.qualify(LEAD, create_account=False)


@pytest.mark.parametrize(("reason", "status"), [
    ("lost", 4), ("Cannot Contact", 5), ("no_longer_interested", 6), (LeadStatus.CANCELED, 7)])
def test_disqualify(client: DataverseClient, rsps: responses.RequestsMock, reason: object, status: int) -> None:
    rsps.patch(API + f"leads({LEAD})", status=204)
    client.leads.disqualify(LEAD, reason=reason)  # type: ignore[arg-type]
    assert body_of(rsps.calls[0]) == {"statecode": 2, "statuscode": status}
    assert rsps.calls[0].request.headers["If-Match"] == "*"


@pytest.mark.parametrize("reason", ["busy", LeadStatus.QUALIFIED, 1, "qualified"])
def test_disqualify_refuses_other_reasons_before_sending(client: DataverseClient, reason: object) -> None:
    with pytest.raises(ClientValidationError, match="not a disqualification reason"):
        client.leads.disqualify(LEAD, reason=reason)  # type: ignore[arg-type]


def test_reactivate(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + f"leads({LEAD})", status=204)
    client.leads.reactivate(LEAD)
    assert body_of(rsps.calls[0]) == {"statecode": 0, "statuscode": 1}


def test_opportunity_update(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + f"opportunities({OPP})", status=204)
    client.opportunities.update(OPP, {"budgetamount": Decimal("17000"), "purchasetimeframe": 1,
                                      "estimatedclosedate": date(2026, 6, 30)})
    assert body_of(rsps.calls[0]) == {"budgetamount": 17000, "purchasetimeframe": 1,
                                      "estimatedclosedate": "2026-06-30"}
    assert rsps.calls[0].request.headers["If-Match"] == "*"


def test_win(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "WinOpportunity", status=204)
    client.opportunities.win(OPP, actual_revenue=Decimal("25000"), close_date=date(2026, 3, 31),
                             subject="Won: Coffee machines")
    assert body_of(rsps.calls[0]) == {"Status": 3, "OpportunityClose": {
        "subject": "Won: Coffee machines", "opportunityid@odata.bind": f"/opportunities({OPP})",
        "actualrevenue": 25000, "actualend": "2026-03-31"}}


def test_lose_with_competitor(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "LoseOpportunity", status=204)
    client.opportunities.lose(OPP, status=OpportunityStatus.OUT_SOLD, competitor_id=ACC)
    assert body_of(rsps.calls[0]) == {"Status": 5, "OpportunityClose": {
        "subject": "Opportunity lost", "opportunityid@odata.bind": f"/opportunities({OPP})",
        "competitorid@odata.bind": f"/competitors({ACC})"}}


def test_win_refuses_a_lost_status(client: DataverseClient) -> None:
    with pytest.raises(ClientValidationError, match="not a Won status"):
        client.opportunities.win(OPP, status=OpportunityStatus.CANCELED)


def test_phonecall_create_with_regarding_and_parties(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "phonecalls", status=204)
    call_id = client.phonecalls.create(
        subject="Discuss the proposal", due=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
        regarding=("opportunity", OPP),
        parties=[Party(ParticipationType.SENDER, "systemuser", USER),
                 Party(ParticipationType.TO_RECIPIENT, "contact", CON)])
    body = body_of(rsps.calls[0])
    assert body == {
        "subject": "Discuss the proposal", "directioncode": True, "scheduledend": "2026-03-02T09:30:00Z",
        "regardingobjectid_opportunity_phonecall@odata.bind": f"/opportunities({OPP})",
        "phonecall_activity_parties": [
            {"partyid_systemuser@odata.bind": f"/systemusers({USER})", "participationtypemask": 1},
            {"partyid_contact@odata.bind": f"/contacts({CON})", "participationtypemask": 2}],
        "activityid": call_id,
    }


def test_phonecall_complete(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + f"phonecalls({CON})", status=204)
    client.phonecalls.complete(CON)
    assert body_of(rsps.calls[0]) == {"statecode": 1, "statuscode": 2}


def _stages(rsps: responses.RequestsMock) -> None:
    rows = [{"processstageid": STAGE_IDS[n], "stagename": n, "stagecategory": i,
             "primaryentitytypecode": "lead" if i == 0 else "opportunity",
             "_processid_value": LEAD_TO_OPPORTUNITY_PROCESS_ID}
            for i, n in enumerate(["Qualify", "Develop", "Propose", "Close"])]
    rsps.get(API + "processstages", json={"value": rows}, match=[matchers.query_string_matcher(
        "$select=processstageid,stagename,stagecategory,primaryentitytypecode,_processid_value"
        f"&$filter=_processid_value eq {LEAD_TO_OPPORTUNITY_PROCESS_ID}&$orderby=stagecategory asc")])


def _flow(stage: str, path: list[str], state: int = 0, status: int = 1) -> dict[str, object]:
    return {"businessprocessflowinstanceid": FLOW, "_activestageid_value": STAGE_IDS[stage],
            "traversedpath": ",".join(STAGE_IDS[p] for p in path), "statecode": state, "statuscode": status,
            "_opportunityid_value": OPP}


def test_for_opportunity_creates_the_instance_at_develop(client: DataverseClient,
                                                         rsps: responses.RequestsMock) -> None:
    rsps.get(API + "leadtoopportunitysalesprocesses", json={"value": []})
    _stages(rsps)
    rsps.post(API + "leadtoopportunitysalesprocesses", status=204,
              headers={"OData-EntityId": f"{API}leadtoopportunitysalesprocesses({FLOW})"})
    rsps.get(API + f"leadtoopportunitysalesprocesses({FLOW})", json=_flow("Develop", ["Qualify", "Develop"]))
    flow = client.process_flows.for_opportunity(OPP)
    assert flow.id == FLOW
    assert f"_opportunityid_value%20eq%20{OPP}" in rsps.calls[0].request.url
    body = body_of(rsps.calls[2])
    assert body["processid@odata.bind"] == f"/workflows({LEAD_TO_OPPORTUNITY_PROCESS_ID})"
    assert body["opportunityId@odata.bind"] == f"/opportunities({OPP})"
    assert body["activestageid@odata.bind"] == f"/processstages({STAGE_IDS['Develop']})"
    assert body["traversedpath"] == f"{STAGE_IDS['Qualify']},{STAGE_IDS['Develop']}"


def test_move_to_goes_one_stage_at_a_time_keeping_traversedpath(client: DataverseClient,
                                                                 rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leadtoopportunitysalesprocesses({FLOW})", json=_flow("Develop", ["Qualify", "Develop"]))
    _stages(rsps)
    rsps.patch(API + f"leadtoopportunitysalesprocesses({FLOW})", status=204)
    rsps.patch(API + f"leadtoopportunitysalesprocesses({FLOW})", status=204)
    client.process_flows.move_to(FLOW, "close")
    q, d, p, c = (STAGE_IDS[n] for n in ("Qualify", "Develop", "Propose", "Close"))
    patches = [c_ for c_ in rsps.calls if c_.request.method == "PATCH"]
    assert [body_of(x) for x in patches] == [
        {"activestageid@odata.bind": f"/processstages({p})", "traversedpath": f"{q},{d},{p}"},
        {"activestageid@odata.bind": f"/processstages({c})", "traversedpath": f"{q},{d},{p},{c}"},
    ]
    assert all(x.request.headers["If-Match"] == "*" for x in patches)


def test_move_back_trims_traversedpath(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leadtoopportunitysalesprocesses({FLOW})",
             json=_flow("Propose", ["Qualify", "Develop", "Propose"]))
    _stages(rsps)
    rsps.patch(API + f"leadtoopportunitysalesprocesses({FLOW})", status=204)
    client.process_flows.previous_stage(FLOW)
    q, d = STAGE_IDS["Qualify"], STAGE_IDS["Develop"]
    assert body_of(rsps.calls[-1]) == {"activestageid@odata.bind": f"/processstages({d})", "traversedpath": f"{q},{d}"}


def test_unknown_stage_names_list_the_stages(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leadtoopportunitysalesprocesses({FLOW})", json=_flow("Develop", ["Qualify", "Develop"]))
    _stages(rsps)
    with pytest.raises(ClientValidationError, match="Qualify, Develop, Propose, Close"):
        client.process_flows.move_to(FLOW, "Negotiate")


def test_finish_only_at_the_last_stage(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leadtoopportunitysalesprocesses({FLOW})", json=_flow("Propose", ["Qualify", "Develop", "Propose"]))
    _stages(rsps)
    with pytest.raises(InvalidStateTransitionError, match="only be finished at stage Close"):
        client.process_flows.finish(FLOW)
    rsps.get(API + f"leadtoopportunitysalesprocesses({FLOW})",
             json=_flow("Close", ["Qualify", "Develop", "Propose", "Close"]))
    rsps.patch(API + f"leadtoopportunitysalesprocesses({FLOW})", status=204)
    client.process_flows.finish(FLOW)
    assert body_of(rsps.calls[-1]) == {"statecode": 1, "statuscode": 2}


def test_abort(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + f"leadtoopportunitysalesprocesses({FLOW})", status=204)
    client.process_flows.abort(FLOW)
    assert body_of(rsps.calls[0]) == {"statecode": 1, "statuscode": 3}


def test_stages_are_read_once_per_client(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    _stages(rsps)
    assert client.process_flows.stage("Propose").processstageid == STAGE_IDS["Propose"]
    assert client.process_flows.stage("develop").stagename == "Develop"
    assert len(rsps.calls) == 1


def test_opportunity_reopen(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + f"opportunities({OPP})", status=204)
    client.opportunities.reopen(OPP)
    assert body_of(rsps.calls[0]) == {"statecode": 0, "statuscode": 1}


def test_phonecall_cancel_and_received(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    from d365lab.models.enums import PhoneCallStatus

    rsps.patch(API + f"phonecalls({CON})", status=204)
    rsps.patch(API + f"phonecalls({CON})", status=204)
    client.phonecalls.cancel(CON)
    client.phonecalls.complete(CON, status=PhoneCallStatus.RECEIVED)
    assert [body_of(c) for c in rsps.calls] == [{"statecode": 2, "statuscode": 3}, {"statecode": 1, "statuscode": 4}]
    with pytest.raises(ClientValidationError, match="not a Completed status"):
        client.phonecalls.complete(CON, status=PhoneCallStatus.OPEN)


def test_phonecall_regarding_must_be_a_known_target(client: DataverseClient) -> None:
    with pytest.raises(ClientValidationError, match="cannot be regarding a campaign"):
        client.phonecalls.create(subject="x", regarding=("campaign", CON))


def test_for_lead_returns_the_existing_instance(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + "leadtoopportunitysalesprocesses", json={"value": [_flow("Qualify", ["Qualify"])]},
             match=[matchers.query_string_matcher(
                 "$select=" + ",".join(["businessprocessflowinstanceid", "name", "traversedpath", "statecode",
                                        "statuscode", "activestagestartedon", "completedon", "_activestageid_value",
                                        "_leadid_value", "_opportunityid_value", "_processid_value"])
                 + f"&$filter=_leadid_value eq {LEAD} and _processid_value eq {LEAD_TO_OPPORTUNITY_PROCESS_ID}"
                 "&$orderby=modifiedon desc&$top=1")])
    flow = client.process_flows.for_lead(LEAD)
    assert flow.active_stage_id == STAGE_IDS["Qualify"]
    assert len(rsps.calls) == 1  # found: no stage lookup, no create


def test_qualify_recognises_rows_without_type_annotations(client: DataverseClient,
                                                          rsps: responses.RequestsMock) -> None:
    rsps.post(QUALIFY_URL, json={"value": [{"contactid": CON}, {"opportunityid": OPP}]})
    result = client.leads.qualify(LEAD, create_account=False)
    assert (result.account_id, result.contact_id, result.opportunity_id) == (None, CON, OPP)
