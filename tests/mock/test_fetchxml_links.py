"""FetchXML ``<link-entity>`` over HTTP: inner and outer joins, linked filters and attributes.

Source: Microsoft Learn, "Join tables using FetchXml" (link-entity element reference).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from d365lab.mock.inprocess import ServiceRootSession


@pytest.fixture
def crm(create: Callable[[str, dict[str, Any]], str]) -> dict[str, str]:
    """Two accounts, three contacts (two at Contoso, one without an account)."""
    ids = {"contoso": create("accounts", {"name": "Contoso", "address1_city": "Redmond"}),
           "fabrikam": create("accounts", {"name": "Fabrikam", "address1_city": "Lynnwood"})}
    for first, account in (("Ana", "contoso"), ("Bo", "contoso"), ("Cy", None)):
        body: dict[str, Any] = {"firstname": first, "lastname": "Test"}
        if account:
            body["parentcustomerid_account@odata.bind"] = f"/accounts({ids[account]})"
        ids[first] = create("contacts", body)
    return ids


def fetch(api: ServiceRootSession, entity_set: str, xml: str, extra: str = "") -> Any:
    """GET <set>?fetchXml=<xml> (200 expected) and return the body."""
    response = api.get(f"{entity_set}?fetchXml={quote(xml)}{extra}")
    assert response.status_code == 200, response.text
    return response.json()


def test_inner_join_returns_one_row_per_match_with_aliased_attributes(
        api: ServiceRootSession, crm: dict[str, str]) -> None:
    xml = ("<fetch><entity name='account'><attribute name='name'/>"
           "<link-entity name='contact' from='parentcustomerid' to='accountid' alias='c'>"
           "<attribute name='firstname'/><order attribute='firstname'/></link-entity>"
           "<order attribute='name'/></entity></fetch>")
    rows = fetch(api, "accounts", xml)["value"]
    assert [(r["name"], r["c.firstname"]) for r in rows] == [("Contoso", "Ana"), ("Contoso", "Bo")]
    assert rows[0]["accountid"] == crm["contoso"]


def test_outer_join_keeps_rows_without_a_match_and_leaves_out_null_linked_values(
        api: ServiceRootSession, crm: dict[str, str]) -> None:
    xml = ("<fetch><entity name='contact'><attribute name='firstname'/><order attribute='firstname'/>"
           "<link-entity name='account' from='accountid' to='parentcustomerid' link-type='outer'>"
           "<attribute name='name'/><attribute name='address1_city'/></link-entity></entity></fetch>")
    rows = fetch(api, "contacts", xml, "&$count=true")
    assert rows["@odata.count"] == 3
    values = rows["value"]
    assert [(r["firstname"], r.get("account1.name")) for r in values] == [
        ("Ana", "Contoso"), ("Bo", "Contoso"), ("Cy", None)]
    assert "account1.name" not in values[2]


def test_linked_filter_and_not_exists_condition(api: ServiceRootSession, crm: dict[str, str]) -> None:
    in_redmond = ("<fetch><entity name='contact'><attribute name='firstname'/>"
                  "<link-entity name='account' from='accountid' to='parentcustomerid' alias='a'>"
                  "<filter><condition attribute='address1_city' operator='eq' value='REDMOND'/></filter>"
                  "</link-entity></entity></fetch>")
    assert sorted(r["firstname"] for r in fetch(api, "contacts", in_redmond)["value"]) == ["Ana", "Bo"]
    without_contacts = ("<fetch><entity name='account'><attribute name='name'/>"
                        "<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='outer'"
                        " alias='c'/><filter><condition entityname='c' attribute='contactid' operator='null'/>"
                        "</filter></entity></fetch>")
    assert [r["name"] for r in fetch(api, "accounts", without_contacts)["value"]] == ["Fabrikam"]


@pytest.mark.parametrize(("link_type", "expected"), [
    ("exists", ["Contoso"]), ("in", ["Contoso"]), ("any", ["Contoso"]), ("not any", ["Fabrikam"])])
def test_semi_joins_add_no_rows(api: ServiceRootSession, crm: dict[str, str], link_type: str,
                                expected: list[str]) -> None:
    xml = (f"<fetch><entity name='account'><attribute name='name'/>"
           f"<link-entity name='contact' from='parentcustomerid' to='accountid' link-type='{link_type}'/>"
           f"</entity></fetch>")
    assert [r["name"] for r in fetch(api, "accounts", xml)["value"]] == expected


def test_nested_links(api: ServiceRootSession, crm: dict[str, str],
                      create: Callable[[str, dict[str, Any]], str]) -> None:
    create("opportunities", {"name": "Big deal", "parentcontactid@odata.bind": f"/contacts({crm['Ana']})"})
    xml = ("<fetch><entity name='opportunity'><attribute name='name'/>"
           "<link-entity name='contact' from='contactid' to='parentcontactid' alias='c'>"
           "<attribute name='firstname'/>"
           "<link-entity name='account' from='accountid' to='parentcustomerid' alias='a'>"
           "<attribute name='name'/></link-entity></link-entity></entity></fetch>")
    [row] = fetch(api, "opportunities", xml)["value"]
    assert (row["name"], row["c.firstname"], row["a.name"]) == ("Big deal", "Ana", "Contoso")


@pytest.mark.parametrize(("xml", "fragment"), [
    ("<fetch><entity name='account'><link-entity name='nope' from='a' to='accountid'/></entity></fetch>",
     "'nope' was not found"),
    ("<fetch><entity name='account'><link-entity name='contact' from='nope' to='accountid'/></entity></fetch>",
     "'contact' entity doesn't contain attribute with Name = 'nope'"),
    ("<fetch><entity name='account'><link-entity name='contact' to='accountid'/></entity></fetch>",
     "needs 'from' and 'to'"),
    ("<fetch><entity name='account'><filter><condition entityname='x' attribute='name' operator='null'/>"
     "</filter></entity></fetch>", "alias 'x'"),
    ("<fetch><entity name='account'>" + "<link-entity name='contact' from='parentcustomerid' to='accountid'/>" * 16
     + "</entity></fetch>", "exceeded maximum limit"),
    ("<fetch><entity name='account'><link-entity name='contact' from='parentcustomerid' to='accountid' "
     "link-type='exists'><attribute name='firstname'/></link-entity></entity></fetch>", "takes no attributes"),
])
def test_refused(api: ServiceRootSession, crm: dict[str, str], xml: str, fragment: str) -> None:
    response = api.get(f"accounts?fetchXml={quote(xml)}")
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_filters_inside_links_count_towards_the_stated_limits(api: ServiceRootSession) -> None:
    nested = "<filter>" * 25 + "<condition attribute='name' operator='null'/>" + "</filter>" * 25
    xml = (f"<fetch><entity name='contact'><link-entity name='account' from='accountid' to='parentcustomerid'>"
           f"{nested}</link-entity></entity></fetch>")
    response = api.get(f"contacts?fetchXml={quote(xml)}")
    assert response.status_code == 400, response.text
    assert "nesting" in response.json()["error"]["message"]
