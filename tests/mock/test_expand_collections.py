"""Collection-valued (one-to-many) navigations over HTTP: ``$expand`` and ``GET <record>/<nav>``.

Shapes follow Microsoft's "Join tables using OData" page: a single-level expand on an
entity-set query returns every related row with its referencing lookup and a
``<nav>@odata.nextLink``; with a nested ``$expand`` the page size applies to each expanded
collection and ``$top``/``$orderby`` are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

from .conftest import SERVICE_ROOT

Create = Callable[[str, dict[str, Any]], str]
LIMITS = ("Only $select and $filter clause can be provided while doing $expand on many-to-one "
          "relationship or nested one-to-many relationship.")


@pytest.fixture
def accounts(create: Create) -> dict[str, str]:
    """Three accounts: ``a`` with contacts Ann and Bob, ``b`` with Cid, ``empty`` with none.

    A contact under a contact (``parentcustomerid_contact``) must never show up under an account.
    """
    ids = {name: create("accounts", {"name": name}) for name in ("a", "b", "empty")}
    for lastname, parent in (("Ann", "a"), ("Bob", "a"), ("Cid", "b")):
        ids[lastname] = create("contacts", {"lastname": lastname,
                                            "parentcustomerid_account@odata.bind": f"/accounts({ids[parent]})"})
    ids["Kid"] = create("contacts", {"lastname": "Kid",
                                     "parentcustomerid_contact@odata.bind": f"/contacts({ids['Ann']})"})
    return ids


def names(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(row["fullname"] for row in rows)


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["error"]
    return response.status_code, body["code"], body["message"]


# ------------------------------------------------------------------ single record

def test_single_record_expand_lists_only_its_own_children(api: ServiceRootSession,
                                                          accounts: dict[str, str]) -> None:
    response = api.get(f"accounts({accounts['a']})?$select=name"
                       "&$expand=contact_customer_accounts($select=fullname)")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == (f"{SERVICE_ROOT}$metadata#accounts(name,contact_customer_accounts(fullname))"
                                      "/$entity")
    assert names(body["contact_customer_accounts"]) == ["Ann", "Bob"]
    assert {row["contactid"] for row in body["contact_customer_accounts"]} == {accounts["Ann"], accounts["Bob"]}
    assert "lastname" not in body["contact_customer_accounts"][0]


def test_single_record_without_children_gets_an_empty_array(api: ServiceRootSession,
                                                             accounts: dict[str, str]) -> None:
    body = api.get(f"accounts({accounts['empty']})?$expand=contact_customer_accounts($select=fullname)").json()
    assert body["contact_customer_accounts"] == []


def test_contact_children_of_a_contact_are_a_separate_navigation(api: ServiceRootSession,
                                                                  accounts: dict[str, str]) -> None:
    body = api.get(f"contacts({accounts['Ann']})?$select=fullname"
                   "&$expand=contact_customer_contacts($select=fullname)").json()
    assert names(body["contact_customer_contacts"]) == ["Kid"]


def test_nested_options_filter_order_and_top(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    url = (f"accounts({accounts['a']})?$select=name&$expand=contact_customer_accounts("
           "$select=fullname;$filter=lastname ne 'Zed';$orderby=fullname desc;$top=1)")
    body = api.get(url).json()
    assert [row["fullname"] for row in body["contact_customer_accounts"]] == ["Bob"]


def test_filter_text_with_parentheses_and_semicolons_is_one_option(api: ServiceRootSession,
                                                                    create: Create) -> None:
    account = create("accounts", {"name": "odd"})
    for lastname in ("Smith :); x", "Smith"):
        create("contacts", {"lastname": lastname, "parentcustomerid_account@odata.bind": f"/accounts({account})"})
    url = (f"accounts({account})?$expand=contact_customer_accounts("
           "$filter=contains(lastname,':);');$select=fullname),primarycontactid($select=fullname)")
    response = api.get(url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert names(body["contact_customer_accounts"]) == ["Smith :); x"]
    assert body["primarycontactid"] is None


# ------------------------------------------------------------------ collections

def test_collection_query_gives_each_row_its_own_array_and_a_link(api: ServiceRootSession,
                                                                   accounts: dict[str, str]) -> None:
    response = api.get("accounts?$select=name&$orderby=name"
                       "&$expand=contact_customer_accounts($select=fullname;$orderby=fullname)")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#accounts(name,contact_customer_accounts(fullname))"
    by_name = {row["name"]: row for row in body["value"]}
    assert [r["fullname"] for r in by_name["a"]["contact_customer_accounts"]] == ["Ann", "Bob"]
    assert [r["fullname"] for r in by_name["b"]["contact_customer_accounts"]] == ["Cid"]
    assert by_name["empty"]["contact_customer_accounts"] == []
    # Each expanded row carries its referencing lookup; the link names the filtered collection.
    assert {r["_parentcustomerid_value"] for r in by_name["a"]["contact_customer_accounts"]} == {accounts["a"]}
    link = by_name["a"]["contact_customer_accounts@odata.nextLink"]
    assert link == (f"{SERVICE_ROOT}accounts({accounts['a']})/contact_customer_accounts"
                    "?$select=fullname&$orderby=fullname")
    followed = api.get(link).json()
    assert [r["fullname"] for r in followed["value"]] == ["Ann", "Bob"]


def test_lookups_to_several_tables_and_new_relationships(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "customer"})
    campaign = create("campaigns", {"name": "spring"})
    lead = create("leads", {"subject": "mine", "customerid_account@odata.bind": f"/accounts({account})",
                            "campaignid@odata.bind": f"/campaigns({campaign})"})
    create("leads", {"subject": "someone else's"})
    call = create("phonecalls", {"subject": "call", "regardingobjectid_lead_phonecall@odata.bind": f"/leads({lead})"})
    body = api.get(f"accounts({account})?$expand=lead_customer_accounts($select=subject)").json()
    assert [r["subject"] for r in body["lead_customer_accounts"]] == ["mine"]
    body = api.get("campaigns?$expand=campaign_leads($select=subject)").json()
    assert [r["subject"] for r in body["value"][0]["campaign_leads"]] == ["mine"]
    body = api.get(f"leads({lead})?$select=subject&$expand=Lead_Phonecalls($select=subject)").json()
    assert [r["activityid"] for r in body["Lead_Phonecalls"]] == [call]


# ------------------------------------------------------------------ GET <record>/<nav>

def test_get_navigation_collection_with_options(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    response = api.get(f"accounts({accounts['a']})/contact_customer_accounts"
                       "?$select=fullname&$filter=lastname eq 'Bob'&$count=true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#contacts(fullname)"
    assert body["@odata.count"] == 1
    assert names(body["value"]) == ["Bob"]
    top = api.get(f"accounts({accounts['a']})/contact_customer_accounts?$select=fullname&$top=1").json()
    assert len(top["value"]) == 1
    assert api.get(f"accounts({accounts['empty']})/contact_customer_accounts").json()["value"] == []


# ------------------------------------------------------------------ nested $expand

def test_nested_expand_inside_a_collection(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    url = (f"accounts({accounts['a']})?$select=name&$expand=contact_customer_accounts($select=fullname;"
           "$expand=parentcustomerid_account($select=name))")
    response = api.get(url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == (f"{SERVICE_ROOT}$metadata#accounts(name,contact_customer_accounts"
                                      "(fullname,parentcustomerid_account(name)))/$entity")
    assert {r["parentcustomerid_account"]["name"] for r in body["contact_customer_accounts"]} == {"a"}


def test_nested_expand_pages_each_expanded_collection(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    url = ("accounts?$select=name&$filter=name eq 'a'&$expand=contact_customer_accounts($select=fullname;"
           "$expand=parentcustomerid_account($select=name))")
    body = api.get(url, headers={"Prefer": "odata.maxpagesize=1"}).json()
    account = body["value"][0]
    assert len(account["contact_customer_accounts"]) == 1
    link = account["contact_customer_accounts@odata.nextLink"]
    assert "$skiptoken=" in link
    rest = api.get(link, headers={"Prefer": "odata.maxpagesize=1"}).json()
    seen = account["contact_customer_accounts"] + rest["value"]
    assert names(seen) == ["Ann", "Bob"]


@pytest.mark.parametrize("expand", [
    "contact_customer_accounts($top=1;$expand=parentcustomerid_account)",
    "contact_customer_accounts($orderby=fullname;$expand=parentcustomerid_account)",
    "primarycontactid($top=1)",
    "primarycontactid($orderby=fullname)",
])
def test_top_and_orderby_refused_where_the_service_refuses_them(api: ServiceRootSession, expand: str) -> None:
    assert error(api.get(f"accounts?$expand={expand}")) == (400, "0x80060888", LIMITS)


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("name", ["Contact_customer_accounts", "contact_customer_account", "contacts"])
def test_unknown_navigation_is_400_even_without_rows(api: ServiceRootSession, name: str) -> None:
    assert error(api.get(f"accounts?$expand={name}($select=fullname)")) == (
        400, "0x0", f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.account'.")


def test_unknown_nested_property_is_400(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    status, _, message = error(api.get(f"accounts({accounts['a']})?$expand=contact_customer_accounts($select=nope)"))
    assert status == 400
    assert message == "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.contact'."


def test_ref_expansion_of_a_collection_is_refused(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    assert error(api.get(f"accounts({accounts['a']})?$expand=contact_customer_accounts/$ref")) == (
        400, "0x80060888", "Expand with $ref is only supported on lookup type navigation property.")
