"""Request values: what each operation builds, checked without HTTP."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from d365lab.errors import ClientValidationError, DuplicateRecordError, NotFoundError
from d365lab.models.enums import LeadStatus, OpportunityStatus
from d365lab.sales import disqualify_request, lose_request, qualify_request, stage_move_request, win_request
from d365lab.webapi import bulk_writes as bulk
from d365lab.webapi import messages, rows
from d365lab.webapi.request import Answer

LEAD = "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c"
OPP = "3d4e5f60-1b7d-ef11-a671-000d3a1a2b3c"
STAGE = "6b9ce99a-4afb-4d6a-a0c7-a1e7b5e0dd2a"


def test_create_row_keys_the_row_and_is_safe_to_retry() -> None:
    request = rows.create_row("lead", {"subject": "Coffee", "lastname": "Doe"})
    assert (request.method, request.path, request.idempotent) == ("POST", "leads", True)
    assert request.key is not None and request.body["leadid"] == request.key
    assert json.loads(request.encoded_body() or b"") == {"subject": "Coffee", "lastname": "Doe", "leadid": request.key}
    # no OData-EntityId and no body: the id generated up front is the answer
    assert request.decode(Answer(204, {})) == request.key
    # a duplicate after an ambiguous retry means the first attempt landed
    duplicate = DuplicateRecordError("exists", status=412)
    duplicate.ambiguous_retry = True
    assert request.recover is not None and request.recover(duplicate) == request.key
    with pytest.raises(DuplicateRecordError):
        request.recover(DuplicateRecordError("exists", status=412))


def test_a_bad_payload_fails_while_building() -> None:
    with pytest.raises(ClientValidationError):
        rows.update_row("lead", LEAD, {"statecode": 1, "statuscode": 1})


def test_update_and_delete_headers() -> None:
    update = rows.update_row("lead", LEAD, {"jobtitle": "Buyer"})
    assert (update.method, update.path, dict(update.headers)) == ("PATCH", f"leads({LEAD})", {"If-Match": "*"})
    assert rows.update_row("lead", LEAD, {"jobtitle": "x"}, etag='W/"7"').headers["If-Match"] == 'W/"7"'
    delete = rows.delete_row("lead", LEAD)
    assert (delete.method, dict(delete.headers), delete.body) == ("DELETE", {}, None)
    gone = NotFoundError("gone", status=404)
    gone.ambiguous_retry = True
    assert delete.recover is not None and delete.recover(gone) is None


def test_a_content_id_reference_is_a_key() -> None:
    assert rows.update_row("lead", "$3", {"jobtitle": "x"}).path == "$3"


def test_query_page_prefers_a_page_size_unless_top_is_given() -> None:
    page = rows.query_page("lead", select=["subject"], page_size=10)
    assert (page.path, page.query, page.headers["Prefer"]) == ("leads", "$select=subject", "odata.maxpagesize=10")
    assert "Prefer" not in rows.query_page("lead", top=1).headers
    following = rows.next_page(page, "https://x/api/data/v9.2/leads?$skiptoken=abc")
    assert following.path.endswith("$skiptoken=abc") and following.headers == page.headers


def test_count_decodes_the_count() -> None:
    request = rows.count_rows("lead")
    assert request.decode(Answer(200, {}, b'{"@odata.count": 7, "value": []}')) == 7


def test_bulk_create_ids_come_back_even_when_the_chunk_landed_before() -> None:
    request = bulk.create_multiple(bulk.bulk_table("lead"), [{"lastname": "A"}, {"lastname": "B"}])
    assert request.path == "leads/Microsoft.Dynamics.CRM.CreateMultiple"
    ids = [t["leadid"] for t in request.body["Targets"]]
    duplicate = DuplicateRecordError("exists", status=412)
    duplicate.ambiguous_retry = True
    assert request.recover is not None and request.recover(duplicate) == ids
    assert request.decode(Answer(200, {}, b"{}")) == ids


def test_function_parameters_are_aliases() -> None:
    request = messages.function("CalculateRollupField", {"FieldName": "x"})
    assert request.path == "CalculateRollupField(FieldName=@p1)"
    assert request.method == "GET" and request.query and request.query == "@p1='x'"


def test_qualify_request_is_a_bound_action_that_decodes_created_ids() -> None:
    request = qualify_request(LEAD, create_account=False)
    assert (request.method, request.idempotent) == ("POST", False)
    assert request.path == f"leads({LEAD})/Microsoft.Dynamics.CRM.QualifyLead"
    assert request.body == {"CreateAccount": False, "CreateContact": True, "CreateOpportunity": True, "Status": 3}
    answer = Answer(200, {}, json.dumps({"value": [{"opportunityid": OPP}]}).encode())
    assert request.decode(answer).opportunity_id == OPP
    with pytest.raises(ClientValidationError):
        qualify_request(LEAD, create_account=False, status=LeadStatus.NEW)


def test_win_and_lose_requests() -> None:
    win = win_request(OPP, actual_revenue=Decimal("100.5"), close_date=date(2026, 3, 31))
    assert (win.method, win.path) == ("POST", "WinOpportunity")
    assert json.loads(win.encoded_body() or b"") == {"Status": 3, "OpportunityClose": {
        "subject": "Opportunity won", "opportunityid@odata.bind": f"/opportunities({OPP})",
        "actualrevenue": 100.5, "actualend": "2026-03-31"}}
    lose = lose_request(OPP, status=OpportunityStatus.OUT_SOLD)
    assert lose.path == "LoseOpportunity" and lose.body["Status"] == int(OpportunityStatus.OUT_SOLD)
    with pytest.raises(ClientValidationError):
        win_request(OPP, status=OpportunityStatus.CANCELED)


def test_state_and_stage_requests() -> None:
    disqualify = disqualify_request(LEAD, "cannot contact")
    assert disqualify.body == {"statecode": 2, "statuscode": int(LeadStatus.CANNOT_CONTACT)}
    move = stage_move_request("5e6f7a8b-1b7d-ef11-a671-000d3a1a2b3c", STAGE, ["a", STAGE])
    assert move.method == "PATCH" and move.body == {
        "activestageid@odata.bind": f"/processstages({STAGE})", "traversedpath": f"a,{STAGE}"}
