"""CRUD over HTTP: status codes, headers, upsert, ETags, single properties, persistence."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from d365lab.mock.app import create_app
from d365lab.mock.inprocess import ServiceRootSession, route_requests

from .conftest import BASE_URL, SERVICE_ROOT, TOKEN

Create = Callable[[str, dict[str, Any]], str]
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_post_answers_204_with_entity_id_and_service_headers(api: ServiceRootSession) -> None:
    response = api.post("leads", json={"subject": "Coffee machines", "lastname": "Doe"})
    assert response.status_code == 204
    assert response.content == b""
    entity_id = response.headers["OData-EntityId"]
    assert entity_id.startswith(SERVICE_ROOT + "leads(")
    assert GUID.match(entity_id[entity_id.rindex("(") + 1:-1])
    assert response.headers["OData-Version"] == "4.0"
    assert response.headers["x-ms-service-request-id"] == response.headers["REQ_ID"]
    assert response.headers["x-ms-dop-hint"] == "4"


def test_post_with_representation_answers_201_with_selected_body(api: ServiceRootSession) -> None:
    response = api.post("leads?$select=subject,fullname,statecode",
                        json={"subject": "S", "firstname": "Jon", "lastname": "Doe"},
                        headers={"Prefer": "return=representation"})
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "return=representation"
    assert response.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    assert "OData-EntityId" not in response.headers
    body = response.json()
    assert body["@odata.context"] == SERVICE_ROOT + "$metadata#leads(subject,fullname,statecode)/$entity"
    assert re.fullmatch(r'W/"\d+"', body["@odata.etag"])
    assert GUID.match(body["leadid"])
    assert (body["subject"], body["fullname"], body["statecode"]) == ("S", "Jon Doe", 0)
    assert "lastname" not in body


def test_stamps_created_modified_owner_and_version(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "S"})
    who = api.get("WhoAmI").json()
    row = api.get(f"leads({lead_id})").json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["createdon"])
    assert row["createdon"] == row["modifiedon"]
    assert row["_createdby_value"] == row["_modifiedby_value"] == row["_ownerid_value"] == who["UserId"]
    assert row["@odata.etag"] == f'W/"{row["versionnumber"]}"'


def test_client_supplied_id_is_kept_and_duplicate_is_412(api: ServiceRootSession) -> None:
    lead_id = str(uuid.uuid4())
    first = api.post("leads", json={"leadid": lead_id, "subject": "A"})
    assert first.status_code == 204
    assert first.headers["OData-EntityId"].endswith(f"leads({lead_id})")
    again = api.post("leads", json={"leadid": lead_id, "subject": "B"})
    assert again.status_code == 412
    assert again.json()["error"]["code"] == "0x80040237"


def test_get_missing_record_is_404_with_service_wording(api: ServiceRootSession) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    response = api.get(f"leads({missing})")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "0x80040217",
                                         "message": f"lead With Id = {missing} Does Not Exist"}}
    assert response.headers["Content-Type"] == "application/json; odata.metadata=minimal"


def test_patch_is_an_upsert(api: ServiceRootSession) -> None:
    lead_id = str(uuid.uuid4())
    created = api.patch(f"leads({lead_id})", json={"subject": "Upserted"})
    assert created.status_code == 204
    assert created.headers["OData-EntityId"] == f"{SERVICE_ROOT}leads({lead_id})"
    updated = api.patch(f"leads({lead_id})", json={"jobtitle": "Buyer"})
    assert updated.status_code == 204
    row = api.get(f"leads({lead_id})?$select=subject,jobtitle").json()
    assert (row["subject"], row["jobtitle"]) == ("Upserted", "Buyer")


def test_patch_with_representation_answers_200_on_update_and_201_on_create(api: ServiceRootSession) -> None:
    lead_id = str(uuid.uuid4())
    prefer = {"Prefer": "return=representation"}
    created = api.patch(f"leads({lead_id})?$select=subject", json={"subject": "A"}, headers=prefer)
    assert created.status_code == 201
    updated = api.patch(f"leads({lead_id})?$select=subject", json={"subject": "B"}, headers=prefer)
    assert updated.status_code == 200
    assert updated.json()["subject"] == "B"


def test_if_match_star_refuses_to_create(api: ServiceRootSession) -> None:
    lead_id = str(uuid.uuid4())
    response = api.patch(f"leads({lead_id})", json={"subject": "x"}, headers={"If-Match": "*"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "0x80040217"
    assert api.get(f"leads({lead_id})").status_code == 404


def test_if_none_match_star_refuses_to_update(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "x"})
    response = api.patch(f"leads({lead_id})", json={"subject": "y"}, headers={"If-None-Match": "*"})
    assert response.status_code == 412
    assert response.json()["error"]["message"] == "A record with matching key values already exists."
    new_id = str(uuid.uuid4())
    assert api.patch(f"leads({new_id})", json={"subject": "z"}, headers={"If-None-Match": "*"}).status_code == 204


def test_etag_concurrency(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "x"})
    etag = api.get(f"leads({lead_id})?$select=subject").json()["@odata.etag"]
    assert api.patch(f"leads({lead_id})", json={"subject": "y"}, headers={"If-Match": etag}).status_code == 204
    stale = api.patch(f"leads({lead_id})", json={"subject": "z"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["error"] == {
        "code": "0x80060882",
        "message": "The version of the existing record doesn't match the RowVersion property provided."}
    newer = api.get(f"leads({lead_id})?$select=subject").json()
    assert newer["subject"] == "y"
    assert int(newer["@odata.etag"][3:-1]) > int(etag[3:-1])
    assert api.delete(f"leads({lead_id})", headers={"If-Match": etag}).status_code == 412


def test_conditional_get_answers_304_for_current_etag(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "x"})
    etag = api.get(f"leads({lead_id})").json()["@odata.etag"]
    not_modified = api.get(f"leads({lead_id})", headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    api.patch(f"leads({lead_id})", json={"subject": "changed"})
    assert api.get(f"leads({lead_id})", headers={"If-None-Match": etag}).status_code == 200
    assert api.get(f"leads({lead_id})", headers={"If-None-Match": "null"}).status_code == 200


def test_versionnumber_is_monotonic_across_tables(api: ServiceRootSession, create: Create) -> None:
    versions = []
    for entity_set in ("leads", "accounts", "contacts", "leads"):
        record_id = create(entity_set, {})
        versions.append(api.get(f"{entity_set}({record_id})").json()["versionnumber"])
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_delete(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Gone"})
    assert api.delete(f"accounts({account_id})").status_code == 204
    assert api.get(f"accounts({account_id})").status_code == 404
    again = api.delete(f"accounts({account_id})")
    assert again.status_code == 404
    assert again.json()["error"]["message"] == f"account With Id = {account_id} Does Not Exist"


def test_deleting_a_record_clears_lookups_to_it(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Parent"})
    lead_id = create("leads", {"subject": "x", "parentaccountid@odata.bind": f"/accounts({account_id})"})
    api.delete(f"accounts({account_id})")
    assert api.get(f"leads({lead_id})?$select=_parentaccountid_value").json()["_parentaccountid_value"] is None


def test_patch_and_delete_on_a_collection_are_405(api: ServiceRootSession) -> None:
    assert api.patch("leads", json={"subject": "x"}).status_code == 405
    assert api.delete("leads").status_code == 405


def test_single_property_get_put_delete(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "Before", "description": "text"})
    got = api.get(f"leads({lead_id})/subject")
    assert got.status_code == 200
    assert got.json() == {"@odata.context": f"{SERVICE_ROOT}$metadata#leads({lead_id})/subject", "value": "Before"}
    assert api.put(f"leads({lead_id})/subject", json={"value": "After"}).status_code == 204
    assert api.delete(f"leads({lead_id})/description").status_code == 204
    row = api.get(f"leads({lead_id})?$select=subject,description").json()
    assert (row["subject"], row["description"]) == ("After", None)


def test_ref_delete_and_put_of_a_lookup(api: ServiceRootSession, create: Create) -> None:
    first = create("accounts", {"name": "First"})
    second = create("accounts", {"name": "Second"})
    lead_id = create("leads", {"subject": "x", "parentaccountid@odata.bind": f"accounts({first})"})
    assert api.delete(f"leads({lead_id})/parentaccountid/$ref").status_code == 204
    assert api.get(f"leads({lead_id})?$select=_parentaccountid_value").json()["_parentaccountid_value"] is None
    put = api.put(f"leads({lead_id})/parentaccountid/$ref", json={"@odata.id": f"{SERVICE_ROOT}accounts({second})"})
    assert put.status_code == 204
    assert api.get(f"leads({lead_id})?$select=_parentaccountid_value").json()["_parentaccountid_value"] == second


def test_alternate_key_read_and_upsert(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Fabrikam", "accountnumber": "A-1"})
    row = api.get("accounts(accountnumber='A-1')?$select=name").json()
    assert (row["accountid"], row["name"]) == (account_id, "Fabrikam")
    assert api.patch("accounts(accountnumber='A-1')", json={"telephone1": "555"}).status_code == 204
    assert api.get(f"accounts({account_id})?$select=telephone1").json()["telephone1"] == "555"
    created = api.patch("accounts(accountnumber='B-2')", json={"name": "New"})
    assert created.status_code == 204
    assert api.get("accounts(accountnumber='B-2')?$select=name").json()["name"] == "New"
    missing = api.get("accounts(accountnumber='nope')")
    assert missing.status_code == 404


def test_persistence_across_apps_on_the_same_file(tmp_path: Path) -> None:
    db = str(tmp_path / "tenant.sqlite")
    first = create_app(db)
    with route_requests(first, BASE_URL), ServiceRootSession(BASE_URL, TOKEN) as api:
        response = api.post("leads", json={"subject": "Persisted"})
        lead_id = response.headers["OData-EntityId"].rsplit("(", 1)[1][:-1]
        version = api.get(f"leads({lead_id})").json()["versionnumber"]
        who = api.get("WhoAmI").json()
    first.close()
    second = create_app(db)
    with route_requests(second, BASE_URL), ServiceRootSession(BASE_URL, TOKEN) as api:
        assert api.get(f"leads({lead_id})?$select=subject").json()["subject"] == "Persisted"
        assert api.get("WhoAmI").json() == who
        assert api.get("processstages/$count").text == "4"
        api.patch(f"leads({lead_id})", json={"subject": "Again"})
        assert api.get(f"leads({lead_id})").json()["versionnumber"] > version
    second.close()


def test_collection_valued_navigation_read_expand_associate_disassociate(api: ServiceRootSession,
                                                                         create: Create) -> None:
    account_id = create("accounts", {"name": "Parent"})
    first = create("leads", {"subject": "first", "parentaccountid@odata.bind": f"/accounts({account_id})"})
    second = create("leads", {"subject": "second"})
    associate = api.post(f"accounts({account_id})/lead_parent_account/$ref",
                         json={"@odata.id": f"{SERVICE_ROOT}leads({second})"})
    assert associate.status_code == 204
    listed = api.get(f"accounts({account_id})/lead_parent_account?$select=subject&$orderby=subject").json()
    assert [r["subject"] for r in listed["value"]] == ["first", "second"]
    expanded = api.get(f"accounts({account_id})?$select=name&$expand=lead_parent_account($select=subject)").json()
    assert sorted(r["subject"] for r in expanded["lead_parent_account"]) == ["first", "second"]
    assert api.delete(f"accounts({account_id})/lead_parent_account({first})/$ref").status_code == 204
    assert api.delete(f"accounts({account_id})/lead_parent_account/$ref",
                      params={"$id": f"{SERVICE_ROOT}leads({second})"}).status_code == 204
    assert api.get(f"accounts({account_id})/lead_parent_account").json()["value"] == []
    assert api.delete(f"accounts({account_id})/lead_parent_account({first})/$ref").status_code == 404
    wrong = api.post(f"accounts({account_id})/lead_parent_account/$ref",
                     json={"@odata.id": f"{SERVICE_ROOT}accounts({account_id})"})
    assert wrong.status_code == 400


def test_single_valued_navigation_returns_the_related_record(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Related"})
    linked = create("leads", {"parentaccountid@odata.bind": f"/accounts({account_id})"})
    alone = create("leads", {})
    body = api.get(f"leads({linked})/parentaccountid?$select=name").json()
    assert (body["accountid"], body["name"]) == (account_id, "Related")
    assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#accounts(name)/$entity"
    assert api.get(f"leads({alone})/parentaccountid").status_code == 204


def test_patch_representation_ignores_expand(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "A"})
    lead_id = create("leads", {"parentaccountid@odata.bind": f"/accounts({account_id})"})
    response = api.patch(f"leads({lead_id})?$select=subject&$expand=parentaccountid($select=name)",
                         json={"subject": "x"}, headers={"Prefer": "return=representation"})
    assert response.status_code == 200
    assert "parentaccountid" not in response.json()
