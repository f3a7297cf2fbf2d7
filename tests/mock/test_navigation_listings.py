"""``GET <record>/<collection nav>/$count`` and ``/$ref`` over HTTP.

Shapes from Microsoft's "Retrieve a table row using the Web API" page: ``/$ref`` answers
``{"@odata.context": "…/$metadata#Collection($ref)", "value": [{"@odata.id": "<absolute URL>"}]}``,
``/$count`` the number of related rows as plain text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

from .conftest import SERVICE_ROOT

Create = Callable[[str, dict[str, Any]], str]


@pytest.fixture
def accounts(create: Create) -> dict[str, str]:
    """Account ``a`` with contacts Ann, Bob and Cal; ``empty`` with none; Kid is Ann's (a contact's) contact."""
    ids = {name: create("accounts", {"name": name}) for name in ("a", "empty")}
    for lastname in ("Ann", "Bob", "Cal"):
        ids[lastname] = create("contacts", {"lastname": lastname,
                                            "parentcustomerid_account@odata.bind": f"/accounts({ids['a']})"})
    ids["Kid"] = create("contacts", {"lastname": "Kid",
                                     "parentcustomerid_contact@odata.bind": f"/contacts({ids['Ann']})"})
    return ids


def contact_url(contact_id: str) -> str:
    return f"{SERVICE_ROOT}contacts({contact_id})"


class TestCount:
    def test_counts_the_related_rows_as_plain_text(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        response = api.get(f"accounts({accounts['a']})/contact_customer_accounts/$count")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        assert response.text == "3"

    def test_none_related_is_zero(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        assert api.get(f"accounts({accounts['empty']})/contact_customer_accounts/$count").text == "0"

    def test_filter_applies(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        url = f"accounts({accounts['a']})/contact_customer_accounts/$count?$filter=lastname ne 'Bob'"
        assert api.get(url).text == "2"

    def test_missing_record_is_404(self, api: ServiceRootSession) -> None:
        response = api.get("accounts(00000000-0000-0000-0000-000000000001)/contact_customer_accounts/$count")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "0x80040217"  # the record, not the path

    def test_unknown_navigation_is_404(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        response = api.get(f"accounts({accounts['a']})/nope/$count")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "0x8006088a"


class TestRefs:
    def test_lists_the_related_rows_as_references(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        response = api.get(f"accounts({accounts['a']})/contact_customer_accounts/$ref")
        assert response.status_code == 200
        body = response.json()
        assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#Collection($ref)"
        assert all(set(item) == {"@odata.id"} for item in body["value"])
        assert sorted(item["@odata.id"] for item in body["value"]) == sorted(
            contact_url(accounts[name]) for name in ("Ann", "Bob", "Cal"))

    def test_none_related_is_an_empty_list(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        assert api.get(f"accounts({accounts['empty']})/contact_customer_accounts/$ref").json()["value"] == []

    def test_a_reference_can_be_read_back(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        (item,) = api.get(f"contacts({accounts['Ann']})/contact_customer_contacts/$ref").json()["value"]
        assert item["@odata.id"] == contact_url(accounts["Kid"])
        assert api.get(item["@odata.id"] + "?$select=lastname").json()["lastname"] == "Kid"

    def test_filter_orderby_and_count(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        body = api.get(f"accounts({accounts['a']})/contact_customer_accounts/$ref",
                       params={"$filter": "lastname ne 'Bob'", "$orderby": "lastname desc", "$count": "true"}).json()
        assert [item["@odata.id"] for item in body["value"]] == [contact_url(accounts["Cal"]),
                                                                 contact_url(accounts["Ann"])]
        assert body["@odata.count"] == 2

    def test_pages_with_a_next_link_on_the_ref_url(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        url = f"accounts({accounts['a']})/contact_customer_accounts/$ref?$orderby=lastname"
        first = api.get(url, headers={"Prefer": "odata.maxpagesize=2"}).json()
        assert [item["@odata.id"] for item in first["value"]] == [contact_url(accounts["Ann"]),
                                                                  contact_url(accounts["Bob"])]
        next_link = first["@odata.nextLink"]
        assert next_link.startswith(f"{SERVICE_ROOT}accounts({accounts['a']})/contact_customer_accounts/$ref?")
        second = api.get(next_link, headers={"Prefer": "odata.maxpagesize=2"}).json()
        assert [item["@odata.id"] for item in second["value"]] == [contact_url(accounts["Cal"])]
        assert "@odata.nextLink" not in second

    def test_select_does_not_apply_to_references(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        response = api.get(f"accounts({accounts['a']})/contact_customer_accounts/$ref?$select=lastname")
        assert response.status_code == 400

    def test_missing_record_is_404(self, api: ServiceRootSession) -> None:
        response = api.get("accounts(00000000-0000-0000-0000-000000000001)/contact_customer_accounts/$ref")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "0x80040217"  # the record, not the path

    def test_associate_and_disassociate_still_work(self, api: ServiceRootSession, accounts: dict[str, str]) -> None:
        refs = f"accounts({accounts['empty']})/contact_customer_accounts/$ref"
        assert api.post(refs, json={"@odata.id": contact_url(accounts["Kid"])}).status_code == 204
        assert [item["@odata.id"] for item in api.get(refs).json()["value"]] == [contact_url(accounts["Kid"])]
        removed = api.delete(f"accounts({accounts['empty']})/contact_customer_accounts({accounts['Kid']})/$ref")
        assert removed.status_code == 204
        assert api.get(refs).json()["value"] == []
