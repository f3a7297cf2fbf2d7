"""``$filter`` across relationships over HTTP: a lookup's columns, ``any``/``all`` on collections.

Source: Microsoft Learn, "Filter rows using OData" (lookup properties, lambda operators).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from d365lab.mock.inprocess import ServiceRootSession


@pytest.fixture
def crm(create: Callable[[str, dict[str, Any]], str]) -> dict[str, str]:
    """Contoso (two contacts), Fabrikam (one), Litware (none); leads pointing at accounts."""
    ids = {name: create("accounts", {"name": name, "address1_city": city})
           for name, city in (("Contoso", "Redmond"), ("Fabrikam", "Lynnwood"), ("Litware", "Dallas"))}
    for first, account, title in (("Ana", "Contoso", "Buyer"), ("Bo", "Contoso", "Owner"), ("Cy", "Fabrikam", "Buyer")):
        ids[first] = create("contacts", {"firstname": first, "lastname": "Test", "jobtitle": title,
                                         "parentcustomerid_account@odata.bind": f"/accounts({ids[account]})"})
    for subject, account in (("Espresso", "Contoso"), ("Latte", "Fabrikam"), ("Mocha", None)):
        body: dict[str, Any] = {"subject": subject, "lastname": "Lead"}
        if account:
            body["parentaccountid@odata.bind"] = f"/accounts({ids[account]})"
        ids[subject] = create("leads", body)
    return ids


def names(api: ServiceRootSession, entity_set: str, field: str, condition: str) -> list[str]:
    """The ``field`` of the rows matching ``condition`` (200 expected), sorted."""
    response = api.get(f"{entity_set}?$select={field}&$filter={quote(condition)}")
    assert response.status_code == 200, response.text
    return sorted(row[field] for row in response.json()["value"])


@pytest.mark.parametrize(("condition", "expected"), [
    ("parentaccountid/name eq 'contoso'", ["Espresso"]),
    ("parentaccountid/name ne 'Contoso'", ["Latte", "Mocha"]),
    ("startswith(parentaccountid/address1_city,'Lyn')", ["Latte"]),
    ("parentaccountid/name eq null", ["Mocha"]),
    ("parentaccountid/name eq 'Contoso' or subject eq 'Mocha'", ["Espresso", "Mocha"]),
])
def test_columns_of_the_related_row(api: ServiceRootSession, crm: dict[str, str], condition: str,
                                    expected: list[str]) -> None:
    assert names(api, "leads", "subject", condition) == expected


@pytest.mark.parametrize(("condition", "expected"), [
    ("contact_customer_accounts/any(c:c/jobtitle eq 'Buyer')", ["Contoso", "Fabrikam"]),
    ("contact_customer_accounts/any(c:c/jobtitle eq 'Owner')", ["Contoso"]),
    ("contact_customer_accounts/all(c:c/jobtitle eq 'Buyer')", ["Fabrikam", "Litware"]),
    ("contact_customer_accounts/any()", ["Contoso", "Fabrikam"]),
    ("not contact_customer_accounts/any()", ["Litware"]),
    ("contact_customer_accounts/any(c:c/firstname eq 'Ana' and c/jobtitle eq 'Buyer') and name ne 'x'", ["Contoso"]),
    ("contact_customer_accounts/any(c:(c/firstname eq 'Bo' or c/firstname eq 'Cy'))", ["Contoso", "Fabrikam"]),
])
def test_any_and_all(api: ServiceRootSession, crm: dict[str, str], condition: str, expected: list[str]) -> None:
    assert names(api, "accounts", "name", condition) == expected


def test_related_column_inside_a_lambda(api: ServiceRootSession, crm: dict[str, str]) -> None:
    condition = "contact_customer_accounts/any(c:c/parentcustomerid_account/address1_city eq 'Redmond')"
    assert names(api, "accounts", "name", condition) == ["Contoso"]


@pytest.mark.parametrize(("condition", "fragment"), [
    ("parentaccountid/nope eq 'x'", "Could not find a property named 'nope'"),
    ("nope/name eq 'x'", "Could not find a property named 'nope/name'"),
    ("nope/any(c:c/name eq 'x')", "Could not find a property named 'nope'"),
    ("contact_customer_accounts/any(c:c eq 'x')", "alone is not a property"),
    ("contact_customer_accounts/all()", "needs a lambda expression"),
    ("contact_customer_accounts/any(c:c/firstname eq 'x'", "closing the lambda"),
])
def test_refused(api: ServiceRootSession, crm: dict[str, str], condition: str, fragment: str) -> None:
    entity_set = "leads" if condition.startswith("parentaccountid") else "accounts"
    response = api.get(f"{entity_set}?$filter={quote(condition)}")
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]
