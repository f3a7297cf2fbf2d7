"""Generic record operations: the wire format of every call, paging, bulk, create-retry without duplicates."""

from __future__ import annotations

import uuid

import pytest
import requests
import responses
from responses import matchers

from d365lab.client import DataverseClient
from d365lab.errors import ClientValidationError, DuplicateRecordError, NotFoundError

from .conftest import API, assert_odata_headers, body_of

LEAD_ID = "0a9f5e2c-1b7d-ef11-a671-000d3a1a2b3c"
ACCOUNT_ID = "1b2c3d4e-1b7d-ef11-a671-000d3a1a2b3c"
DUPLICATE = {"error": {"code": "0x80040237", "message": "Cannot insert duplicate key."}}


def test_create_sends_a_client_generated_key(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "leads", status=204, headers={"OData-EntityId": f"{API}leads(%s)" % LEAD_ID})
    new_id = client.records.create("lead", {"subject": "Coffee", "lastname": "Doe",
                                            "parentaccountid@odata.bind": client.bind("account", ACCOUNT_ID)})
    call = rsps.calls[0]
    assert_odata_headers(call)
    assert call.request.headers["Content-Type"] == "application/json; charset=utf-8"
    body = body_of(call)
    assert body["subject"] == "Coffee"
    assert body["parentaccountid@odata.bind"] == f"/accounts({ACCOUNT_ID})"
    uuid.UUID(body["leadid"])  # a key generated before sending
    assert new_id == LEAD_ID


def test_create_retry_after_ambiguous_failure_does_not_duplicate(client: DataverseClient,
                                                                 rsps: responses.RequestsMock) -> None:
    # the first POST reaches the service and the answer is lost; the retry hits the duplicate key
    rsps.post(API + "leads", body=requests.ConnectionError("Connection aborted: RemoteDisconnected"))
    rsps.post(API + "leads", status=412, json=DUPLICATE)
    new_id = client.records.create("lead", {"subject": "Once", "lastname": "Only"})
    first, second = (body_of(c) for c in rsps.calls)
    assert first == second  # same key on the retry
    assert new_id == first["leadid"]


def test_duplicate_key_without_retry_is_an_error(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "leads", status=412, json=DUPLICATE)
    with pytest.raises(DuplicateRecordError):
        client.records.create("lead", {"leadid": LEAD_ID, "subject": "x"})


def test_create_refuses_invalid_values_before_sending(client: DataverseClient) -> None:
    with pytest.raises(ClientValidationError, match="lead.subject: is 301 characters"):
        client.records.create("lead", {"subject": "x" * 301})
    with pytest.raises(ClientValidationError, match="lead.statuscode"):
        client.records.create("lead", {"statecode": 0, "statuscode": 4})
    with pytest.raises(ClientValidationError, match="customerid_account@odata.bind"):
        client.records.create("opportunity", {"customerid@odata.bind": f"/accounts({ACCOUNT_ID})"})
    with pytest.raises(ClientValidationError, match="purchasetimeframe"):
        client.records.create("lead", {"purchasetimeframe": 9})
    with pytest.raises(ClientValidationError, match="read-only"):
        client.records.create("lead", {"fullname": "x"})
    with pytest.raises(ClientValidationError, match="statecode cannot be set on create"):
        client.records.create("phonecall", {"subject": "x", "statecode": 0})


def test_get_with_select_and_annotations(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leads({LEAD_ID})", json={"@odata.etag": 'W/"1"', "leadid": LEAD_ID, "subject": "x"},
             match=[matchers.query_string_matcher("$select=subject,statecode")])
    row = client.records.get("lead", LEAD_ID.upper(), select=["subject", "statecode"], annotations=True)
    assert row["@odata.etag"] == 'W/"1"'
    assert rsps.calls[0].request.headers["Prefer"] == 'odata.include-annotations="*"'


def test_get_by_alternate_key(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + "accounts(accountnumber='A''1')", json={"accountid": ACCOUNT_ID})
    assert client.records.get("accounts", {"accountnumber": "A'1"})["accountid"] == ACCOUNT_ID


def test_not_found_maps_to_not_found_error(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + f"leads({LEAD_ID})", status=404, headers={"REQ_ID": "req-9"},
             json={"error": {"code": "0x80040217", "message": f"lead With Id = {LEAD_ID} Does Not Exist"}})
    with pytest.raises(NotFoundError) as info:
        client.records.get("lead", LEAD_ID)
    assert info.value.code == "0x80040217"
    assert info.value.request_id == "req-9"
    assert "Does Not Exist" in str(info.value) and "req-9" in str(info.value)


def test_list_follows_next_links_with_the_same_prefer(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    next_link = f"{API}leads?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E"
    rsps.get(API + "leads", json={"value": [{"leadid": "1"}, {"leadid": "2"}], "@odata.nextLink": next_link},
             match=[matchers.query_string_matcher("$select=fullname&$filter=statecode eq 0")])
    rsps.get(next_link, json={"value": [{"leadid": "3"}]},
             match=[matchers.query_string_matcher("$select=fullname&$skiptoken=<cookie pagenumber=\"2\" />")])
    rows = list(client.records.list("lead", select=["fullname"], filter="statecode eq 0", page_size=2))
    assert [r["leadid"] for r in rows] == ["1", "2", "3"]
    assert [c.request.headers["Prefer"] for c in rsps.calls] == ["odata.maxpagesize=2"] * 2
    assert rsps.calls[0].request.url.endswith("$filter=statecode%20eq%200")


def test_top_is_sent_without_a_page_size(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + "leads", json={"value": [{"leadid": "1"}]},
             match=[matchers.query_string_matcher("$top=1")])
    assert client.records.first("lead") == {"leadid": "1"}
    assert "Prefer" not in rsps.calls[0].request.headers


def test_count(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.get(API + "leads", json={"@odata.count": 42, "value": [{"leadid": "1"}]},
             match=[matchers.query_string_matcher("$select=leadid&$filter=lastname eq 'O''Brien'&$count=true")])
    assert client.records.count("lead", filter="lastname eq 'O''Brien'") == 42


def test_update_uses_if_match_star_or_the_etag(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + f"leads({LEAD_ID})", status=204)
    rsps.patch(API + f"leads({LEAD_ID})", status=204)
    client.records.update("lead", LEAD_ID, {"jobtitle": "Buyer"})
    client.records.update("lead", LEAD_ID, {"jobtitle": "Chef"}, etag='W/"7"')
    assert [c.request.headers["If-Match"] for c in rsps.calls] == ["*", 'W/"7"']
    assert body_of(rsps.calls[0]) == {"jobtitle": "Buyer"}


def test_stale_etag_is_a_precondition_failure(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    from d365lab.errors import PreconditionFailedError

    rsps.patch(API + f"leads({LEAD_ID})", status=412, json={"error": {
        "code": "0x80060882", "message": "The version of the existing record doesn't match the RowVersion "
                                         "property provided."}})
    with pytest.raises(PreconditionFailedError, match="read it again"):
        client.records.update("lead", LEAD_ID, {"jobtitle": "x"}, etag='W/"1"')


def test_upsert_omits_if_match(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.patch(API + "accounts(accountnumber='A1')", status=204,
               headers={"OData-EntityId": f"{API}accounts({ACCOUNT_ID})"})
    assert client.records.upsert("account", {"accountnumber": "A1"}, {"name": "Fabrikam"}) == ACCOUNT_ID
    assert "If-Match" not in rsps.calls[0].request.headers


def test_delete(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.delete(API + f"leads({LEAD_ID})", status=204)
    client.records.delete("lead", LEAD_ID)
    assert rsps.calls[0].request.method == "DELETE"


def test_delete_retried_after_ambiguous_failure_accepts_404(client: DataverseClient,
                                                           rsps: responses.RequestsMock) -> None:
    rsps.delete(API + f"leads({LEAD_ID})", body=requests.ConnectionError("reset"))
    rsps.delete(API + f"leads({LEAD_ID})", status=404, json={"error": {"code": "0x80040217", "message": "gone"}})
    client.records.delete("lead", LEAD_ID)


def test_create_multiple_chunks_and_types_targets(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    url = API + "leads/Microsoft.Dynamics.CRM.CreateMultiple"
    rsps.post(url, json={"Ids": ["a", "b"]})
    rsps.post(url, json={"Ids": ["c"]})
    ids = client.records.create_multiple("lead", [{"subject": s, "lastname": s} for s in "xyz"], chunk_size=2)
    assert ids == ["a", "b", "c"]
    first = body_of(rsps.calls[0])["Targets"]
    assert [t["@odata.type"] for t in first] == ["Microsoft.Dynamics.CRM.lead"] * 2
    assert all(uuid.UUID(t["leadid"]) for t in first)
    assert len(body_of(rsps.calls[1])["Targets"]) == 1


def test_update_and_upsert_multiple(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.UpdateMultiple", status=204)
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.UpsertMultiple", status=204)
    client.records.update_multiple("lead", [{"leadid": LEAD_ID, "jobtitle": "x"}])
    client.records.upsert_multiple("lead", [{"leadid": LEAD_ID, "subject": "y"}])
    assert body_of(rsps.calls[0]) == {"Targets": [{"@odata.type": "Microsoft.Dynamics.CRM.lead", "leadid": LEAD_ID,
                                                   "jobtitle": "x"}]}
    with pytest.raises(ClientValidationError, match="primary key"):
        client.records.update_multiple("lead", [{"jobtitle": "x"}])


def test_unknown_tables_are_addressed_by_entity_set(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "quotes", status=204, headers={"OData-EntityId": f"{API}quotes({LEAD_ID})"})
    assert client.records.create("quotes", {"subject": "x"}) == LEAD_ID
    assert body_of(rsps.calls[0]) == {"subject": "x"}


def test_bound_and_unbound_functions_with_parameter_aliases(client: DataverseClient,
                                                            rsps: responses.RequestsMock) -> None:
    from d365lab.odata import Guid

    flow = "5e6f7a8b-1b7d-ef11-a671-000d3a1a2b3c"
    rsps.get(API + "RetrieveActivePath(ProcessInstanceId=@p1)", json={"value": []},
             match=[matchers.query_string_matcher(f"@p1={flow}")])
    rsps.get(API + f"systemusers({LEAD_ID})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges", json={"x": 1})
    assert client.functions.call("RetrieveActivePath", {"ProcessInstanceId": Guid(flow)}) == {"value": []}
    assert client.functions.call("RetrieveUserPrivileges", bound=("systemuser", LEAD_ID)) == {"x": 1}


def test_unbound_action_and_collection_bound_action(client: DataverseClient, rsps: responses.RequestsMock) -> None:
    rsps.post(API + "LoseOpportunity", status=204)
    rsps.post(API + "leads/Microsoft.Dynamics.CRM.MyAction", json={"ok": True})
    assert client.actions.call("LoseOpportunity", {"Status": 4}) is None
    assert client.actions.call("MyAction", {"A": "O'Brien"}, bound=("lead", None)) == {"ok": True}
    assert body_of(rsps.calls[1]) == {"A": "O'Brien"}
