"""``?sql=`` with JOIN, COUNT/SUM/AVG/MIN/MAX, GROUP BY and DISTINCT over HTTP (run as FetchXML).

Source: the ``?sql=`` requests of Microsoft's Python SDK (``client.query.sql``); Dataverse documents no
answer shape for them, so the FetchXML one is used (UNVERIFIED, docs/mock-tenant.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings


@pytest.fixture
def crm(create: Callable[[str, dict[str, Any]], str]) -> dict[str, str]:
    """Contoso (two contacts, revenue 500), Fabrikam (one, 300), Litware (none, no revenue)."""
    ids = {name: create("accounts", {"name": name, "revenue": revenue, "address1_city": city})
           for name, revenue, city in (("Contoso", 500, "Redmond"), ("Fabrikam", 300, "Redmond"),
                                       ("Litware", None, "Dallas"))}
    for first, account, title in (("Ana", "Contoso", "Buyer"), ("Bo", "Contoso", "Owner"), ("Cy", "Fabrikam", "Buyer")):
        ids[first] = create("contacts", {"firstname": first, "lastname": "Test", "jobtitle": title,
                                         "parentcustomerid_account@odata.bind": f"/accounts({ids[account]})"})
    return ids


def sql(api: ServiceRootSession, entity_set: str, statement: str) -> Any:
    """GET <set>?sql=<statement>."""
    return api.get(f"{entity_set}?sql={quote(statement)}")


def rows(api: ServiceRootSession, entity_set: str, statement: str) -> list[dict[str, Any]]:
    """The rows of a statement (200 expected), without @odata annotations."""
    response = sql(api, entity_set, statement)
    assert response.status_code == 200, response.text
    return [{k: v for k, v in row.items() if not k.startswith("@")} for row in response.json()["value"]]


def test_inner_join(api: ServiceRootSession, crm: dict[str, str]) -> None:
    found = rows(api, "accounts", "SELECT a.name, c.firstname FROM account a INNER JOIN contact c "
                                  "ON c.parentcustomerid = a.accountid WHERE c.jobtitle = 'Buyer' "
                                  "ORDER BY a.name DESC")
    assert [(r["name"], r["firstname"]) for r in found] == [("Fabrikam", "Cy"), ("Contoso", "Ana")]


def test_left_join_keeps_rows_without_a_match(api: ServiceRootSession, crm: dict[str, str]) -> None:
    found = rows(api, "accounts", "SELECT account.name, contact.firstname AS person FROM account "
                                  "LEFT JOIN contact ON account.accountid = contact.parentcustomerid "
                                  "ORDER BY account.name, contact.firstname")
    assert [(r["name"], r.get("person")) for r in found] == [
        ("Contoso", "Ana"), ("Contoso", "Bo"), ("Fabrikam", "Cy"), ("Litware", None)]


def test_count_group_by_and_order_by_aggregate(api: ServiceRootSession, crm: dict[str, str]) -> None:
    found = rows(api, "accounts", "SELECT a.name, COUNT(*) AS people FROM account a "
                                  "JOIN contact c ON c.parentcustomerid = a.accountid "
                                  "GROUP BY a.name ORDER BY people DESC")
    assert found == [{"name": "Contoso", "people": 2}, {"name": "Fabrikam", "people": 1}]


def test_aggregates_without_group_by(api: ServiceRootSession, crm: dict[str, str]) -> None:
    [row] = rows(api, "accounts", "SELECT COUNT(*), COUNT(revenue), SUM(revenue) AS total, AVG(revenue), "
                                  "MIN(revenue), MAX(revenue), COUNT(DISTINCT address1_city) AS cities FROM account")
    assert row == {"count": 3, "count_revenue": 2, "total": 800, "avg_revenue": 400, "min_revenue": 300,
                   "max_revenue": 500, "cities": 2}


def test_group_by_with_where_and_between(api: ServiceRootSession, crm: dict[str, str]) -> None:
    found = rows(api, "accounts", "SELECT address1_city, COUNT(*) AS n FROM account "
                                  "WHERE revenue BETWEEN 100 AND 400 OR revenue IS NULL GROUP BY address1_city "
                                  "ORDER BY address1_city")
    assert found == [{"address1_city": "Dallas", "n": 1}, {"address1_city": "Redmond", "n": 1}]


def test_distinct(api: ServiceRootSession, crm: dict[str, str]) -> None:
    found = rows(api, "contacts", "SELECT DISTINCT jobtitle FROM contact ORDER BY jobtitle")
    assert found == [{"jobtitle": "Buyer"}, {"jobtitle": "Owner"}]


def test_aggregate_limit_applies(api: ServiceRootSession, crm: dict[str, str], mock_settings: MockSettings) -> None:
    mock_settings.aggregate_record_limit = 2
    response = sql(api, "accounts", "SELECT COUNT(*) FROM account")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "0x8004e023"


@pytest.mark.parametrize(("statement", "fragment"), [
    ("SELECT name, COUNT(*) FROM account", "must be in GROUP BY"),
    ("SELECT a.name FROM account a JOIN contact c ON c.parentcustomerid > a.accountid", "one equality"),
    ("SELECT a.name FROM account a JOIN contact c ON a.name = a.accountid", "must name a column of c"),
    ("SELECT x.name FROM account a JOIN contact c ON c.parentcustomerid = a.accountid", "unknown table or alias"),
    ("SELECT name FROM account JOIN nope ON nope.x = account.accountid", "unknown table 'nope'"),
    ("SELECT COUNT(*) FROM contact", "does not match"),
    ("SELECT SUM(*) FROM account", "only COUNT takes *"),
    ("SELECT SUM(name) AS s FROM account", "not valid on the String column"),
    ("SELECT a.name, c.nope FROM account a JOIN contact c ON c.parentcustomerid = a.accountid",
     "doesn't contain attribute with Name = 'nope'"),
    ("SELECT COUNT(*) FROM account WHERE " + "(" * 30 + "name = 'x'" + ")" * 30, "nesting"),
])
def test_refused(api: ServiceRootSession, crm: dict[str, str], statement: str, fragment: str) -> None:
    response = sql(api, "accounts", statement)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]
