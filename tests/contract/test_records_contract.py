"""Contract: CRUD codes, ETags, paging, filter escaping, alternate paths — as any tenant shows them."""

from __future__ import annotations

import uuid

import pytest

from d365lab.errors import (
    ClientValidationError,
    DuplicateRecordError,
    InvalidStateTransitionError,
    NotFoundError,
    PreconditionFailedError,
)
from d365lab.odata import contains, dumps, eq, guid

from .conftest import Target


def test_whoami(target: Target) -> None:
    me = target.client.whoami()
    assert guid(me.user_id) and guid(me.business_unit_id) and guid(me.organization_id)
    assert target.client.recommended_parallelism >= 1


def test_create_get_update_delete(target: Target) -> None:
    records = target.client.records
    lead_id = target.create("lead", {"subject": target.tag, "firstname": "Pat", "lastname": "Doe"})
    row = records.get("lead", lead_id, select=["subject", "fullname", "statecode", "statuscode"])
    assert row["leadid"] == lead_id
    assert row["fullname"] == "Pat Doe"
    assert (row["statecode"], row["statuscode"]) == (0, 1)
    etag = row["@odata.etag"]
    assert etag.startswith('W/"')

    records.update("lead", lead_id, {"jobtitle": "Buyer"}, etag=etag)
    updated = records.get("lead", lead_id, select=["jobtitle"])
    assert updated["jobtitle"] == "Buyer"
    assert updated["@odata.etag"] != etag

    records.delete("lead", lead_id)
    with pytest.raises(NotFoundError) as info:
        records.get("lead", lead_id)
    assert info.value.status == 404
    assert info.value.code == "0x80040217"
    assert info.value.message == f"lead With Id = {lead_id} Does Not Exist"


def test_stale_etag_is_refused_with_412(target: Target) -> None:
    records = target.client.records
    lead_id = target.create("lead", {"subject": target.tag, "lastname": "Etag"})
    etag = records.get("lead", lead_id, select=["subject"])["@odata.etag"]
    records.update("lead", lead_id, {"jobtitle": "first"})
    with pytest.raises(PreconditionFailedError) as info:
        records.update("lead", lead_id, {"jobtitle": "second"}, etag=etag)
    assert info.value.status == 412
    assert records.get("lead", lead_id, select=["jobtitle"])["jobtitle"] == "first"


def test_update_of_a_missing_row_is_404_not_an_upsert(target: Target) -> None:
    missing = str(uuid.uuid4())
    with pytest.raises(NotFoundError):
        target.client.records.update("lead", missing, {"subject": target.tag})
    with pytest.raises(NotFoundError):
        target.client.records.get("lead", missing)


def test_upsert_creates_then_updates(target: Target) -> None:
    records = target.client.records
    lead_id = str(uuid.uuid4())
    records.upsert("lead", lead_id, {"subject": target.tag, "lastname": "Upsert"})
    target.track("lead", lead_id)
    records.upsert("lead", lead_id, {"jobtitle": "Again"})
    row = records.get("lead", lead_id, select=["lastname", "jobtitle"])
    assert (row["lastname"], row["jobtitle"]) == ("Upsert", "Again")


def test_create_with_an_existing_key_is_a_duplicate(target: Target) -> None:
    # the behaviour the client's create-retry relies on to never create a row twice
    lead_id = target.create("lead", {"subject": target.tag, "lastname": "Once"})
    with pytest.raises(DuplicateRecordError) as info:
        target.client.records.create("lead", {"leadid": lead_id, "subject": target.tag, "lastname": "Twice"})
    assert info.value.status == 412
    assert info.value.code == "0x80040237"
    assert target.client.records.count("lead", filter=eq("subject", target.tag)) == 1


def test_paging_follows_next_links(target: Target) -> None:
    for index in range(5):
        target.create("lead", {"subject": target.tag, "lastname": f"Page{index}"})
    pages = list(target.client.records.pages("lead", filter=eq("subject", target.tag), select=["lastname"],
                                             orderby="lastname asc", page_size=2))
    assert [len(p["value"]) for p in pages] == [2, 2, 1]
    rows = [r["lastname"] for p in pages for r in p["value"]]
    assert rows == [f"Page{i}" for i in range(5)]
    assert target.client.records.count("lead", filter=eq("subject", target.tag)) == 5


def test_filter_escaping_round_trip(target: Target) -> None:
    records = target.client.records
    obrien = target.create("lead", {"subject": target.tag, "firstname": "Siobhan", "lastname": "O'Brien"})
    target.create("lead", {"subject": target.tag, "lastname": "OBrien"})
    found = list(records.list("lead", filter=eq("subject", target.tag) & eq("lastname", "O'Brien"),
                              select=["lastname"]))
    assert [r["leadid"] for r in found] == [obrien]
    assert [r["leadid"] for r in records.list("lead", filter=eq("subject", target.tag) & contains("lastname", "'B"),
                                              select=["lastname"])] == [obrien]
    hostile = "x' or lastname ne 'y"
    assert list(records.list("lead", filter=eq("subject", target.tag) & eq("lastname", hostile))) == []


def _raw_patch(target: Target, lead_id: str, body: dict[str, int]) -> None:
    """PATCH without client-side validation, to see what the service itself says."""
    target.client.transport.request("PATCH", f"leads({lead_id})", data=dumps(body), headers={"If-Match": "*"})


def test_status_outside_its_state_is_a_400(target: Target) -> None:
    lead_id = target.create("lead", {"subject": target.tag, "lastname": "Status"})
    with pytest.raises(ClientValidationError):
        target.client.records.update("lead", lead_id, {"statecode": 2, "statuscode": 3})
    with pytest.raises(InvalidStateTransitionError) as info:
        _raw_patch(target, lead_id, {"statecode": 2, "statuscode": 3})
    assert info.value.status == 400
    assert info.value.message == (f"3 is not a valid status code for state code LeadState.Disqualified "
                                  f"on lead with Id {lead_id}.")
    row = target.client.records.get("lead", lead_id, select=["statecode", "statuscode"])
    assert (row["statecode"], row["statuscode"]) == (0, 1)


def test_status_of_another_state_with_the_current_state_is_a_400(target: Target) -> None:
    lead_id = target.create("lead", {"subject": target.tag, "lastname": "Status"})
    with pytest.raises(InvalidStateTransitionError) as info:
        _raw_patch(target, lead_id, {"statecode": 0, "statuscode": 4})
    assert "is not a valid status code for state code LeadState.Open" in info.value.message


def test_lookup_bind_and_read_back(target: Target) -> None:
    client = target.client
    account_id = target.create("account", {"name": f"{target.tag} Fabrikam"})
    lead_id = target.create("lead", {"subject": target.tag, "lastname": "Bound",
                                     "parentaccountid@odata.bind": client.bind("account", account_id)})
    row = client.records.get("lead", lead_id, select=["_parentaccountid_value"], annotations=True)
    assert row["_parentaccountid_value"] == account_id
    assert row["_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["_parentaccountid_value@OData.Community.Display.V1.FormattedValue"] == f"{target.tag} Fabrikam"


def test_create_multiple_and_update_multiple(target: Target) -> None:
    records = target.client.records
    ids = records.create_multiple("lead", [{"subject": target.tag, "lastname": f"Bulk{i}"} for i in range(5)],
                                  chunk_size=2)
    for lead_id in ids:
        target.track("lead", lead_id)
    assert len(set(ids)) == 5
    records.update_multiple("lead", [{"leadid": i, "jobtitle": "bulk"} for i in ids])
    assert records.count("lead", filter=eq("subject", target.tag) & eq("jobtitle", "bulk")) == 5
