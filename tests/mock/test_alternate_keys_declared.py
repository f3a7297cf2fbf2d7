"""Declared alternate keys (``MockSettings.alternate_keys``) over HTTP.

Dataverse only accepts an alternate key an admin declared; an undeclared one is answered
with "The key in the request URI is not valid for resource …" (Microsoft's "Use an
alternate key to reference a record" page). Without the setting the mock stays lenient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

from .conftest import SERVICE_ROOT

Create = Callable[[str, dict[str, Any]], str]
DECLARED = {"account": [["accountnumber"]], "contact": [["firstname", "emailaddress1"]]}


def invalid_key_message(logical_name: str) -> str:
    resource = f"Microsoft.Dynamics.CRM.{logical_name}"
    return (f"The key in the request URI is not valid for resource '{resource}'. Ensure that the names and number "
            f"of key properties match the declared or alternate key properties for the resource '{resource}'.")


def assert_invalid_key(response: Any, logical_name: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": "0x80060888", "message": invalid_key_message(logical_name)}


class TestLenientDefault:
    """No keys declared: any non-lookup column works, as before."""

    def test_any_column_is_a_key(self, api: ServiceRootSession, create: Create) -> None:
        account_id = create("accounts", {"name": "Fabrikam", "telephone1": "555-0100"})
        row = api.get("accounts(telephone1='555-0100')?$select=name").json()
        assert row["accountid"] == account_id

    def test_keys_metadata_is_empty(self, api: ServiceRootSession) -> None:
        body = api.get("EntityDefinitions(LogicalName='account')/Keys").json()
        assert body["value"] == []


class TestDeclaredKeys:
    """Keys declared: only they are accepted."""

    @pytest.fixture
    def mock_settings(self) -> MockSettings:
        return MockSettings.model_validate({"alternate_keys": DECLARED})

    def test_declared_key_reads_updates_and_deletes(self, api: ServiceRootSession, create: Create) -> None:
        account_id = create("accounts", {"name": "Fabrikam", "accountnumber": "A-1"})
        assert api.get("accounts(accountnumber='A-1')?$select=name").json()["accountid"] == account_id
        assert api.patch("accounts(accountnumber='A-1')", json={"telephone1": "555"}).status_code == 204
        assert api.get(f"accounts({account_id})?$select=telephone1").json()["telephone1"] == "555"
        assert api.delete("accounts(accountnumber='A-1')").status_code == 204
        assert api.get(f"accounts({account_id})").status_code == 404

    def test_declared_key_miss_is_still_404(self, api: ServiceRootSession) -> None:
        assert api.get("accounts(accountnumber='nope')").json()["error"]["code"] == "0x80060891"

    def test_primary_key_forms_still_work(self, api: ServiceRootSession, create: Create) -> None:
        account_id = create("accounts", {"name": "Fabrikam"})
        assert api.get(f"accounts({account_id})").status_code == 200
        assert api.get(f"accounts(accountid={account_id})").status_code == 200

    def test_undeclared_column_is_refused(self, api: ServiceRootSession, create: Create) -> None:
        create("accounts", {"name": "Fabrikam", "telephone1": "555-0100"})
        assert_invalid_key(api.get("accounts(telephone1='555-0100')"), "account")

    def test_table_without_declared_keys_refuses_every_alternate_key(self, api: ServiceRootSession,
                                                                      create: Create) -> None:
        create("leads", {"lastname": "Doe", "emailaddress1": "x@y.z"})
        assert_invalid_key(api.get("leads(emailaddress1='x@y.z')"), "lead")

    def test_compound_key_in_either_order(self, api: ServiceRootSession, create: Create) -> None:
        contact_id = create("contacts", {"firstname": "Joe", "lastname": "Doe", "emailaddress1": "abc@example.com"})
        for key in ("firstname='Joe',emailaddress1='abc@example.com'",
                    "emailaddress1='abc@example.com',firstname='Joe'"):
            assert api.get(f"contacts({key})?$select=fullname").json()["contactid"] == contact_id

    def test_part_of_a_compound_key_is_refused(self, api: ServiceRootSession, create: Create) -> None:
        create("contacts", {"firstname": "Joe", "lastname": "Doe", "emailaddress1": "abc@example.com"})
        assert_invalid_key(api.get("contacts(emailaddress1='abc@example.com')"), "contact")
        three = "firstname='Joe',emailaddress1='abc@example.com',lastname='Doe'"
        assert_invalid_key(api.get(f"contacts({three})"), "contact")

    def test_upsert_with_a_declared_key_creates_then_updates(self, api: ServiceRootSession) -> None:
        assert api.patch("accounts(accountnumber='B-2')", json={"name": "New"}).status_code == 204
        assert api.patch("accounts(accountnumber='B-2')", json={"name": "Renamed"}).status_code == 204
        rows = api.get("accounts?$select=name,accountnumber&$filter=accountnumber eq 'B-2'").json()["value"]
        assert [row["name"] for row in rows] == ["Renamed"]

    def test_upsert_with_an_undeclared_key_is_refused_and_creates_nothing(self, api: ServiceRootSession) -> None:
        assert_invalid_key(api.patch("accounts(name='Ghost')", json={"telephone1": "1"}), "account")
        assert api.get("accounts?$filter=name eq 'Ghost'").json()["value"] == []

    def test_bind_with_an_undeclared_key_is_refused(self, api: ServiceRootSession, create: Create) -> None:
        create("accounts", {"name": "Fabrikam", "accountnumber": "A-1"})
        bind = "parentaccountid@odata.bind"
        refused = api.post("leads", json={"lastname": "Doe", bind: "/accounts(name='Fabrikam')"})
        assert_invalid_key(refused, "account")
        bound = api.post("leads", json={"lastname": "Doe", bind: "/accounts(accountnumber='A-1')"})
        assert bound.status_code == 204

    def test_keys_metadata_lists_the_declared_key(self, api: ServiceRootSession) -> None:
        body = api.get("EntityDefinitions(LogicalName='contact')/Keys").json()
        assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#EntityDefinitions('contact')/Keys"
        (key,) = body["value"]
        assert key["KeyAttributes"] == ["firstname", "emailaddress1"]
        assert key["EntityLogicalName"] == "contact"
        assert key["EntityKeyIndexStatus"] == "Active"
        assert key["LogicalName"] and key["SchemaName"] and key["MetadataId"]

    def test_keys_metadata_with_select_and_expand(self, api: ServiceRootSession) -> None:
        listed = api.get("EntityDefinitions(LogicalName='account')/Keys?$select=KeyAttributes").json()["value"]
        assert [{k: v for k, v in key.items() if k != "MetadataId"} for key in listed] == [
            {"KeyAttributes": ["accountnumber"]}]
        expanded = api.get("EntityDefinitions(LogicalName='account')?$select=LogicalName"
                           "&$expand=Keys($select=KeyAttributes,EntityKeyIndexStatus)").json()
        (key,) = expanded["Keys"]
        assert (key["KeyAttributes"], key["EntityKeyIndexStatus"], "LogicalName" in key) == (
            ["accountnumber"], "Active", False)
        assert api.get("EntityDefinitions(LogicalName='lead')/Keys").json()["value"] == []


def test_the_setting_applies_to_the_next_request(api: ServiceRootSession, create: Create,
                                                 mock_settings: MockSettings) -> None:
    create("accounts", {"name": "Fabrikam", "telephone1": "555-0100"})
    assert api.get("accounts(telephone1='555-0100')").status_code == 200
    mock_settings.alternate_keys = {"account": [["accountnumber"]]}
    assert_invalid_key(api.get("accounts(telephone1='555-0100')"), "account")
