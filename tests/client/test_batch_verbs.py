"""Sales verbs inside a ``$batch`` change set, against the mock tenant over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from d365lab.client import DataverseClient
from d365lab.errors import InvalidStateTransitionError
from d365lab.models.enums import LeadState, OpportunityState, OpportunityStatus
from d365lab.sales import lose_request, qualify_request, win_request


def _lead(client: DataverseClient, name: str) -> str:
    return client.records.create("lead", {"subject": f"Batch {name}", "lastname": name, "companyname": name})


def test_qualify_then_win_and_lose_in_change_sets(d365_server_client: DataverseClient) -> None:
    client = d365_server_client
    first, second = _lead(client, "Alpha"), _lead(client, "Beta")
    with client.batch() as batch, batch.changeset() as cs:
        qualified = [cs.add(qualify_request(lead, create_account=True)) for lead in (first, second)]
    results = [q.result() for q in qualified]
    assert all(r.opportunity_id and r.account_id for r in results)
    assert client.records.get("lead", first, select=["statecode"])["statecode"] == LeadState.QUALIFIED
    won, lost = (r.opportunity_id for r in results)
    assert won and lost
    with client.batch() as batch, batch.changeset() as cs:
        cs.add(win_request(won, actual_revenue=Decimal("1200")))
        cs.add(lose_request(lost, status=OpportunityStatus.OUT_SOLD))
    assert client.records.get("opportunity", won, select=["statecode"])["statecode"] == OpportunityState.WON
    row = client.records.get("opportunity", lost, select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (OpportunityState.LOST, OpportunityStatus.OUT_SOLD)


def test_a_failing_verb_rolls_back_its_change_set(d365_server_client: DataverseClient) -> None:
    client = d365_server_client
    lead = _lead(client, "Gamma")
    opportunity = client.leads.qualify(lead).opportunity_id
    assert opportunity
    client.opportunities.win(opportunity)
    other = _lead(client, "Delta")
    batch = client.batch()
    with batch.changeset() as cs:
        cs.add(qualify_request(other, create_account=False))
        cs.add(win_request(opportunity))  # already won: refused, so the qualify rolls back
    with pytest.raises(InvalidStateTransitionError):
        batch.execute()
    assert client.records.get("lead", other, select=["statecode"])["statecode"] == LeadState.OPEN


def test_process_flow_moves_in_a_change_set(d365_server_client: DataverseClient) -> None:
    client = d365_server_client
    opportunity = client.leads.qualify(_lead(client, "Epsilon")).opportunity_id
    assert opportunity
    flow = client.process_flows.for_opportunity(opportunity)
    moves = client.process_flows.move_requests(flow.id, "Close")
    assert len(moves) == 2  # Develop -> Propose -> Close, one adjacent stage at a time
    with client.batch() as batch, batch.changeset() as cs:
        for move in moves:
            cs.add(move)
    after = client.process_flows.get(flow.id)
    close = client.process_flows.stage("Close")
    assert (after.active_stage_id or "").lower() == close.processstageid.lower()
    assert [p.lower() for p in after.path] == [s.processstageid.lower() for s in client.process_flows.stages()]
    with client.batch() as batch, batch.changeset() as cs:
        cs.add(client.process_flows.finish_request(flow.id))
    assert not client.process_flows.get(flow.id).is_active


def test_batch_reads_decode_their_parts(d365_server_client: DataverseClient) -> None:
    client = d365_server_client
    lead = _lead(client, "Zeta")
    with client.batch() as batch:
        one = batch.get("lead", lead, select=["lastname"])
        page = batch.list("lead", select=["lastname"], filter=f"leadid eq {lead}")
    assert one.result()["lastname"] == "Zeta"
    assert [row["lastname"] for row in page.result()["value"]] == ["Zeta"]
