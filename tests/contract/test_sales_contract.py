"""Contract: QualifyLead shapes, disqualify/reactivate, Win/Lose, phone calls, the process flow, $batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from d365lab.errors import DataverseError, InvalidStateTransitionError, NotFoundError
from d365lab.models.enums import LeadState, LeadStatus, OpportunityStatus, ParticipationType
from d365lab.models.row_views import Lead, Opportunity, OpportunityClose, PhoneCall
from d365lab.odata import eq
from d365lab.sales import Party, QualifyResult

from .conftest import Target


def _lead(target: Target, company: str | None = "Fabrikam Coffee") -> str:
    data: dict[str, object] = {"subject": target.tag, "firstname": "Jon", "lastname": "Doe",
                               "emailaddress1": "jon@fabrikam.example", "jobtitle": "Buyer"}
    if company:
        data["companyname"] = f"{company} {target.tag}"
    return target.create("lead", data)


def _qualify(target: Target, lead_id: str, **options: bool) -> QualifyResult:
    result = target.client.leads.qualify(lead_id, **options)  # type: ignore[arg-type]
    for table, record_id in (("opportunity", result.opportunity_id), ("contact", result.contact_id),
                             ("account", result.account_id)):
        if record_id:
            target.track(table, record_id)
    return result


def test_qualify_creates_account_contact_and_opportunity(target: Target) -> None:
    client = target.client
    lead_id = _lead(target)
    result = _qualify(target, lead_id)
    assert result.account_id and result.contact_id and result.opportunity_id
    lead = Lead.from_row(client.records.get("lead", lead_id, select=["statecode", "statuscode",
                                                                    "_qualifyingopportunityid_value"]))
    assert (lead.statecode, lead.statuscode) == (LeadState.QUALIFIED, LeadStatus.QUALIFIED)
    assert lead.qualifying_opportunity_id == result.opportunity_id
    opp = Opportunity.from_row(client.records.get("opportunity", result.opportunity_id,
                                                  select=["name", "_originatingleadid_value", "statecode"]))
    assert opp.name == target.tag and opp.originating_lead_id == lead_id
    account = client.records.get("account", result.account_id, select=["name"])
    assert account["name"] == f"Fabrikam Coffee {target.tag}"


def test_qualify_defaults_to_no_account_without_company(target: Target) -> None:
    result = _qualify(target, _lead(target, company=None))
    assert result.account_id is None and result.contact_id and result.opportunity_id


def test_qualifying_a_closed_lead_is_refused(target: Target) -> None:
    lead_id = _lead(target)
    _qualify(target, lead_id, create_account=False, create_contact=False)
    with pytest.raises(InvalidStateTransitionError) as info:
        target.client.leads.qualify(lead_id, create_account=False, create_contact=False)
    assert "closed" in info.value.message


def test_disqualify_and_reactivate(target: Target) -> None:
    client = target.client
    lead_id = _lead(target)
    client.leads.disqualify(lead_id, reason="no_longer_interested")
    row = client.records.get("lead", lead_id, select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (2, 6)
    client.leads.reactivate(lead_id)
    row = client.records.get("lead", lead_id, select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (0, 1)


def test_win_closes_the_opportunity_with_a_close_activity(target: Target) -> None:
    client = target.client
    result = _qualify(target, _lead(target))
    opp_id = result.opportunity_id
    assert opp_id
    client.opportunities.update(opp_id, {"budgetamount": Decimal("17000"), "purchasetimeframe": 1,
                                         "estimatedvalue": Decimal("15000.50")})
    client.opportunities.win(opp_id, actual_revenue=Decimal("16000"), close_date=date(2026, 3, 31),
                             subject=f"Won {target.tag}")
    opp = Opportunity.from_row(client.records.get("opportunity", opp_id, select=[
        "statecode", "statuscode", "actualvalue", "actualclosedate", "budgetamount"]))
    assert (opp.statecode, opp.statuscode) == (1, OpportunityStatus.WON)
    assert opp.actualvalue == Decimal("16000") and opp.budgetamount == Decimal("17000")
    assert opp.actualclosedate == date(2026, 3, 31)
    closes = [OpportunityClose.from_row(r) for r in client.records.list(
        "opportunityclose", filter=eq("_opportunityid_value", opp_id),
        select=["subject", "statecode", "statuscode", "actualrevenue", "_opportunityid_value"])]
    for close in closes:
        target.track("opportunityclose", close.activityid)
    assert [(c.subject, int(c.statecode or 0)) for c in closes] == [(f"Won {target.tag}", 1)]
    with pytest.raises(DataverseError):
        client.opportunities.win(opp_id)  # already closed


def test_lose_as_out_sold(target: Target) -> None:
    client = target.client
    opp_id = _qualify(target, _lead(target)).opportunity_id
    assert opp_id
    client.opportunities.lose(opp_id, status=OpportunityStatus.OUT_SOLD)
    row = client.records.get("opportunity", opp_id, select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (2, 5)


def test_phonecall_regarding_an_opportunity(target: Target) -> None:
    client = target.client
    result = _qualify(target, _lead(target))
    assert result.opportunity_id and result.contact_id
    me = client.whoami()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    call_id = target.track("phonecall", client.phonecalls.create(
        subject=f"Call {target.tag}", due=due, regarding=("opportunity", result.opportunity_id),
        parties=[Party(ParticipationType.SENDER, "systemuser", me.user_id),
                 Party(ParticipationType.TO_RECIPIENT, "contact", result.contact_id)]))
    call = PhoneCall.from_row(client.records.get("phonecall", call_id, select=[
        "subject", "scheduledend", "statecode", "statuscode", "_regardingobjectid_value"]))
    assert call.regarding_id == result.opportunity_id and call.scheduledend == due
    assert (int(call.statecode or 0), int(call.statuscode or 0)) == (0, 1)
    parties = client.records.get("phonecall", call_id, select=["activityid"],
                                 expand="phonecall_activity_parties($select=participationtypemask,_partyid_value)")
    assert sorted((p["participationtypemask"], p["_partyid_value"]) for p in parties["phonecall_activity_parties"]) \
        == sorted([(1, me.user_id), (2, result.contact_id)])
    client.phonecalls.complete(call_id)
    row = client.records.get("phonecall", call_id, select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (1, 2)


def test_process_flow_of_a_qualified_opportunity(target: Target) -> None:
    client = target.client
    flows = client.process_flows
    assert [s.stagename for s in flows.stages()] == ["Qualify", "Develop", "Propose", "Close"]
    opp_id = _qualify(target, _lead(target)).opportunity_id
    assert opp_id
    flow = flows.for_opportunity(opp_id)
    develop = flows.stage("Develop").processstageid
    assert flow.active_stage_id == develop
    assert flow.path == [flows.stage("Qualify").processstageid, develop]
    flows.move_to(flow.id, "Close")
    moved = flows.get(flow.id)
    assert moved.path == [s.processstageid for s in flows.stages()]
    flows.previous_stage(flow.id)
    assert flows.get(flow.id).active_stage_id == flows.stage("Propose").processstageid
    with pytest.raises(InvalidStateTransitionError):
        flows.finish(flow.id)
    flows.next_stage(flow.id)
    flows.finish(flow.id)
    finished = flows.get(flow.id)
    assert (int(finished.statecode or 0), int(finished.statuscode or 0)) == (1, 2)


def test_batch_changeset_with_content_id_reference(target: Target) -> None:
    client = target.client
    with client.batch() as batch:
        with batch.changeset() as changeset:
            lead = changeset.create("lead", {"subject": target.tag, "lastname": "Batch"})
            changeset.update("lead", lead, {"jobtitle": "from $1"})
        batch.list("lead", filter=str(eq("subject", target.tag)), select=["jobtitle"])
    assert lead.id
    target.track("lead", lead.id)
    assert [r.status for r in batch.results][:2] == [204, 204]
    assert batch.results[0].entity_id == lead.id
    assert client.records.get("lead", lead.id, select=["jobtitle"])["jobtitle"] == "from $1"


def test_failed_changeset_rolls_back(target: Target) -> None:
    client = target.client
    batch = client.batch()
    with batch.changeset() as changeset:
        lead = changeset.create("lead", {"subject": target.tag, "lastname": "Rollback"})
        changeset.update("lead", "00000000-0000-0000-0000-000000000001", {"jobtitle": "missing"})
    with pytest.raises(NotFoundError):
        batch.execute()
    assert lead.id
    with pytest.raises(NotFoundError):
        client.records.get("lead", lead.id)

