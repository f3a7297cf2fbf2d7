"""The query engine over HTTP: $select, $filter, $orderby, $top, $count, $expand, paging."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from d365lab.mock.inprocess import ServiceRootSession

from .conftest import SERVICE_ROOT

Create = Callable[[str, dict[str, Any]], str]

PEOPLE = [
    {"subject": "Espresso", "firstname": "Ann", "lastname": "Lee", "companyname": "Contoso",
     "leadsourcecode": 8, "budgetamount": 1000, "decisionmaker": True, "estimatedclosedate": "2026-01-15"},
    {"subject": "Latte", "firstname": "Bob", "lastname": "O'Brien", "companyname": "Fabrikam",
     "leadsourcecode": 7, "budgetamount": 5000, "decisionmaker": False, "estimatedclosedate": "2026-02-15"},
    {"subject": "Mocha 50%_off", "firstname": "Cy", "lastname": "Doe", "companyname": "Contoso Coffee",
     "leadsourcecode": 8, "budgetamount": 20000, "estimatedclosedate": "2026-03-15"},
    {"subject": "Ristretto", "firstname": "Di", "lastname": "Doe", "leadsourcecode": 1},
]


@pytest.fixture
def people(create: Create) -> dict[str, str]:
    """Four leads, by subject -> id."""
    return {p["subject"]: create("leads", p) for p in PEOPLE}


def subjects(api: ServiceRootSession, query: str) -> list[str]:
    response = api.get(f"leads?$select=subject&{query}")
    assert response.status_code == 200, response.text
    return [row["subject"] for row in response.json()["value"]]


def error_message(api: ServiceRootSession, query: str) -> str:
    response = api.get(f"leads?{query}")
    assert response.status_code == 400, response.text
    message: str = response.json()["error"]["message"]
    return message


# ------------------------------------------------------------------- $select

def test_select_returns_pk_and_selected_columns_only(api: ServiceRootSession, people: dict[str, str]) -> None:
    body = api.get("leads?$select=subject,lastname&$orderby=subject").json()
    assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#leads(subject,lastname)"
    first = body["value"][0]
    assert set(first) == {"@odata.etag", "leadid", "subject", "lastname"}


def test_selecting_money_adds_the_currency(api: ServiceRootSession, people: dict[str, str]) -> None:
    row = api.get("leads?$select=budgetamount&$top=1&$filter=budgetamount ne null").json()["value"][0]
    assert set(row) == {"@odata.etag", "leadid", "budgetamount", "_transactioncurrencyid_value"}


def test_select_unknown_column_is_400(api: ServiceRootSession) -> None:
    assert "Could not find a property named 'nope'" in error_message(api, "$select=subject,nope")


# ------------------------------------------------------------------- $filter

@pytest.mark.parametrize(("query", "expected"), [
    ("$filter=lastname eq 'Doe'", {"Mocha 50%_off", "Ristretto"}),
    ("$filter=lastname eq 'doe'", {"Mocha 50%_off", "Ristretto"}),  # case-insensitive like the service
    ("$filter=lastname ne 'Doe'", {"Espresso", "Latte"}),
    ("$filter=budgetamount gt 1000", {"Latte", "Mocha 50%_off"}),
    ("$filter=budgetamount ge 1000 and budgetamount le 5000", {"Espresso", "Latte"}),
    ("$filter=budgetamount lt 5000", {"Espresso"}),
    ("$filter=leadsourcecode eq 8 or leadsourcecode eq 1", {"Espresso", "Mocha 50%_off", "Ristretto"}),
    ("$filter=not (leadsourcecode eq 8)", {"Latte", "Ristretto"}),
    ("$filter=(leadsourcecode eq 8 or leadsourcecode eq 7) and budgetamount gt 2000", {"Latte", "Mocha 50%_off"}),
    ("$filter=contains(companyname,'contoso')", {"Espresso", "Mocha 50%_off"}),
    ("$filter=startswith(subject,'Ri')", {"Ristretto"}),
    ("$filter=endswith(companyname,'Coffee')", {"Mocha 50%_off"}),
    ("$filter=contains(subject,'50%_')", {"Mocha 50%_off"}),
    ("$filter=contains(subject,'%')", {"Mocha 50%_off"}),
    ("$filter=contains(subject,'_')", {"Mocha 50%_off"}),
    ("$filter=companyname eq null", {"Ristretto"}),
    ("$filter=companyname ne null", {"Espresso", "Latte", "Mocha 50%_off"}),
    ("$filter=decisionmaker eq true", {"Espresso"}),
    ("$filter=decisionmaker eq false", {"Latte", "Mocha 50%_off", "Ristretto"}),  # booleans default to false
    ("$filter=estimatedclosedate ge 2026-02-01", {"Latte", "Mocha 50%_off"}),
    ("$filter=lastname eq 'O''Brien'", {"Latte"}),
    ("$filter=lastname eq @p1&@p1='O''Brien'", {"Latte"}),
    ("$filter=budgetamount gt @p1&@p1=4000", {"Latte", "Mocha 50%_off"}),
    ("$filter=Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['Lee','O''Brien'])",
     {"Espresso", "Latte"}),
    ("$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=1)",
     {"Espresso", "Latte", "Mocha 50%_off", "Ristretto"}),
    ("$filter=Microsoft.Dynamics.CRM.OlderThanXDays(PropertyName='createdon',PropertyValue=1)", set()),
    ("$filter=statecode eq 0 and createdon ge 2020-01-01T00:00:00Z", {"Espresso", "Latte", "Mocha 50%_off",
                                                                      "Ristretto"}),
])
def test_filters(api: ServiceRootSession, people: dict[str, str], query: str, expected: set[str]) -> None:
    assert set(subjects(api, query)) == expected


def test_filter_on_lookups_and_guids(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Parent"})
    linked = create("leads", {"subject": "linked", "parentaccountid@odata.bind": f"/accounts({account_id})"})
    create("leads", {"subject": "alone"})
    assert subjects(api, f"$filter=_parentaccountid_value eq {account_id}") == ["linked"]
    assert subjects(api, f"$filter=_parentaccountid_value eq {account_id.upper()}") == ["linked"]
    assert subjects(api, f"$filter=parentaccountid/accountid eq {account_id}") == ["linked"]
    assert subjects(api, f"$filter=leadid eq {linked}") == ["linked"]
    assert subjects(api, "$filter=_parentaccountid_value eq null") == ["alone"]


@pytest.mark.parametrize("attack", [
    "lastname eq '' or 1 eq 1",
    "lastname eq 'x'' or ''1''=''1'",
    "lastname eq 'Doe'; DROP TABLE lead; --'",
])
def test_injection_attempts_match_nothing_or_fail_cleanly(api: ServiceRootSession, people: dict[str, str],
                                                          attack: str) -> None:
    response = api.get(f"leads?$select=subject&$filter={quote(attack)}")
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["value"] == []
    assert set(subjects(api, "")) == {p["subject"] for p in PEOPLE}


@pytest.mark.parametrize(("query", "fragment"), [
    ("$filter=lastname eq", "expected a property or a value at the end"),
    ("$filter=lastname equals 'x'", "unknown operator 'equals'"),
    ("$filter=(lastname eq 'x'", "expected ')'"),
    ("$filter=nope eq 1", "Could not find a property named 'nope'"),
    ("$filter=budgetamount eq 'lots'", "cannot be compared"),
    ("$filter=lastname eq 'unterminated", "unexpected character"),
    ("$filter=lastname eq @missing", "'@missing' has no value"),
    ("$skip=2", "$skip is not supported"),
    ("$orderby=subject sideways", "Invalid $orderby direction"),
    ("$top=many", "Invalid $top"),
])
def test_malformed_queries_are_400_naming_the_problem(api: ServiceRootSession, query: str, fragment: str) -> None:
    assert fragment in error_message(api, query)


# --------------------------------------------------------- $orderby, $top, $count

def test_orderby_multiple_keys(api: ServiceRootSession, people: dict[str, str]) -> None:
    assert subjects(api, "$orderby=lastname desc,subject asc") == ["Latte", "Espresso", "Mocha 50%_off", "Ristretto"]
    assert subjects(api, "$orderby=budgetamount desc,subject")[:3] == ["Mocha 50%_off", "Latte", "Espresso"]


def test_top(api: ServiceRootSession, people: dict[str, str]) -> None:
    assert subjects(api, "$orderby=subject&$top=2") == ["Espresso", "Latte"]


def test_count_true_and_count_segment(api: ServiceRootSession, people: dict[str, str]) -> None:
    body = api.get("leads?$select=subject&$filter=lastname eq 'Doe'&$count=true").json()
    assert body["@odata.count"] == 2
    response = api.get("leads/$count?$filter=leadsourcecode eq 8")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "2"


def test_count_is_capped_at_5000(api: ServiceRootSession) -> None:
    targets = [{"@odata.type": "Microsoft.Dynamics.CRM.account", "name": f"a{i}"} for i in range(5003)]
    created = api.post("accounts/Microsoft.Dynamics.CRM.CreateMultiple", json={"Targets": targets})
    assert created.status_code == 200, created.text
    assert api.get("accounts/$count").text == "5000"
    assert api.get("accounts?$select=name&$count=true&$top=1").json()["@odata.count"] == 5000


# ------------------------------------------------------------------- $expand

def test_expand_single_valued_lookup(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Fabrikam", "accountnumber": "F1"})
    create("leads", {"subject": "with parent", "parentaccountid@odata.bind": f"/accounts({account_id})"})
    create("leads", {"subject": "orphan"})
    body = api.get("leads?$select=subject&$orderby=subject&$expand=parentaccountid($select=name)").json()
    assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#leads(subject,parentaccountid(name))"
    orphan, child = body["value"]
    assert orphan["parentaccountid"] is None
    assert child["parentaccountid"]["name"] == "Fabrikam"
    assert child["parentaccountid"]["accountid"] == account_id
    assert "accountnumber" not in child["parentaccountid"]


def test_expand_unknown_navigation_is_400(api: ServiceRootSession, people: dict[str, str]) -> None:
    assert "Could not find a property named 'nothing'" in error_message(api, "$expand=nothing")


# -------------------------------------------------------------------- paging

def test_server_paging_follows_opaque_next_links(api: ServiceRootSession, create: Create) -> None:
    for i in range(7):
        create("leads", {"subject": f"p{i}", "lastname": "Page" if i % 2 else "Other"})
    seen: list[str] = []
    url: str | None = "leads?$select=subject&$orderby=lastname desc,subject"
    pages = 0
    while url:
        response = api.get(url, headers={"Prefer": "odata.maxpagesize=3"})
        assert response.status_code == 200, response.text
        assert "odata.maxpagesize=3" in response.headers["Preference-Applied"]
        body = response.json()
        assert len(body["value"]) <= 3
        seen += [row["subject"] for row in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(SERVICE_ROOT + "leads?")
            assert "$skiptoken=" in url
        pages += 1
    assert pages == 3
    assert seen == ["p1", "p3", "p5", "p0", "p2", "p4", "p6"]


def test_paging_keeps_the_filter(api: ServiceRootSession, create: Create) -> None:
    for i in range(5):
        create("leads", {"subject": f"f{i}", "lastname": "Keep" if i < 4 else "Drop"})
    first = api.get("leads?$select=subject&$filter=lastname eq 'Keep'", headers={"Prefer": "odata.maxpagesize=2"})
    second = api.get(first.json()["@odata.nextLink"], headers={"Prefer": "odata.maxpagesize=2"}).json()
    both = [r["subject"] for r in first.json()["value"] + second["value"]]
    assert sorted(both) == ["f0", "f1", "f2", "f3"]  # default order is the primary key: random GUIDs
    assert "@odata.nextLink" not in second


def test_paging_with_null_sort_values(api: ServiceRootSession, create: Create) -> None:
    for i, company in enumerate([None, "B", None, "A", "C"]):
        create("leads", {"subject": f"n{i}", **({"companyname": company} if company else {})})
    for order in ("companyname", "companyname desc"):
        url: str | None = f"leads?$select=subject,companyname&$orderby={order}"
        collected: list[str] = []
        while url:
            body = api.get(url, headers={"Prefer": "odata.maxpagesize=2"}).json()
            collected += [r["subject"] for r in body["value"]]
            url = body.get("@odata.nextLink")
        full = subjects(api, f"$orderby={order}")
        assert collected == full and len(set(collected)) == 5


def test_top_limits_without_paging_and_is_ignored_with_maxpagesize(api: ServiceRootSession,
                                                                   people: dict[str, str]) -> None:
    body = api.get("leads?$select=subject&$top=3").json()
    assert len(body["value"]) == 3
    assert "@odata.nextLink" not in body
    url: str | None = "leads?$select=subject&$top=3"
    seen = 0
    while url:
        page = api.get(url, headers={"Prefer": "odata.maxpagesize=2"}).json()
        assert len(page["value"]) <= 2
        seen += len(page["value"])
        url = page.get("@odata.nextLink")
    assert seen == 4


def test_bad_skiptoken_is_400(api: ServiceRootSession) -> None:
    assert "$skiptoken is not valid" in error_message(api, "$skiptoken=garbage")


def test_in_accepts_json_string_arrays(api: ServiceRootSession, people: dict[str, str]) -> None:
    query = """$filter=Microsoft.Dynamics.CRM.In(PropertyName='subject',PropertyValues=["Latte","Ristretto"])"""
    assert set(subjects(api, query)) == {"Latte", "Ristretto"}


def test_unknown_system_query_option_is_400(api: ServiceRootSession) -> None:
    assert "$search is not supported" in error_message(api, "$search=coffee")


# ------------------------------------------------------------------- FetchXML

def fetch(api: ServiceRootSession, xml: str) -> Any:
    return api.get("leads", params={"fetchXml": xml})


def test_fetch_xml_attributes_filter_and_order(api: ServiceRootSession, people: dict[str, str]) -> None:
    response = fetch(api, "<fetch><entity name='lead'><attribute name='subject'/><attribute name='lastname'/>"
                          "<filter type='or'><condition attribute='lastname' operator='eq' value='Doe'/>"
                          "<condition attribute='subject' operator='begins-with' value='Esp'/></filter>"
                          "<order attribute='subject' descending='true'/></entity></fetch>")
    assert response.status_code == 200, response.text
    rows = response.json()["value"]
    assert [r["subject"] for r in rows] == ["Ristretto", "Mocha 50%_off", "Espresso"]
    assert set(rows[0]) == {"@odata.etag", "leadid", "subject", "lastname"}


def test_fetch_xml_nested_filters_in_null_and_paging(api: ServiceRootSession, people: dict[str, str]) -> None:
    xml = ("<fetch count='2' page='{page}'><entity name='lead'><attribute name='subject'/>"
           "<filter><condition attribute='leadsourcecode' operator='in'><value>8</value><value>1</value></condition>"
           "<filter type='or'><condition attribute='companyname' operator='null'/>"
           "<condition attribute='budgetamount' operator='ge' value='1000'/></filter></filter>"
           "<order attribute='subject'/></entity></fetch>")
    first = fetch(api, xml.format(page=1)).json()
    second = fetch(api, xml.format(page=2)).json()
    assert [r["subject"] for r in first["value"]] == ["Espresso", "Mocha 50%_off"]
    assert first["@Microsoft.Dynamics.CRM.morerecords"] is True
    assert [r["subject"] for r in second["value"]] == ["Ristretto"]
    assert "@Microsoft.Dynamics.CRM.morerecords" not in second


@pytest.mark.parametrize(("xml", "fragment"), [
    ("<fetch><entity name='lead'>", "not well-formed"),
    ("<fetch><entity name='account'/></fetch>", "<entity name='lead'>"),
    ("<fetch><entity name='lead'><attribute name='nope'/></entity></fetch>", "attribute with Name = 'nope'"),
    ("<fetch><entity name='lead'><link-entity name='account' from='accountid' to='parentaccountid' "
     "link-type='matchfirstrowusingcrossapply'/></entity></fetch>", "link-type 'matchfirstrowusingcrossapply'"),
    ("<fetch><entity name='lead'><filter><condition attribute='subject' operator='under'/></filter>"
     "</entity></fetch>", "'under' is not supported"),
])
def test_fetch_xml_errors(api: ServiceRootSession, xml: str, fragment: str) -> None:
    response = fetch(api, xml)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_unsupported_filter_functions_are_named(api: ServiceRootSession) -> None:
    assert "The function 'tolower' is not supported" in error_message(api, "$filter=tolower(subject) eq 'x'")


# ---------------------------------------------------------------- ?sql=

def sql(api: ServiceRootSession, statement: str) -> Any:
    return api.get("leads", params={"sql": statement})


def test_sql_select_where_order_top(api: ServiceRootSession, people: dict[str, str]) -> None:
    response = sql(api, "SELECT subject, lastname FROM lead WHERE lastname = 'Doe' OR lastname = 'O''Brien' "
                        "ORDER BY subject DESC")
    assert response.status_code == 200, response.text
    rows = response.json()["value"]
    assert [r["subject"] for r in rows] == ["Ristretto", "Mocha 50%_off", "Latte"]
    assert set(rows[0]) == {"@odata.etag", "leadid", "subject", "lastname"}
    top = sql(api, "SELECT TOP 1 subject FROM lead ORDER BY subject").json()["value"]
    assert [r["subject"] for r in top] == ["Espresso"]


@pytest.mark.parametrize(("condition", "expected"), [
    ("companyname LIKE 'Contoso%'", {"Espresso", "Mocha 50%_off"}),
    ("companyname LIKE '%Coffee'", {"Mocha 50%_off"}),
    ("companyname NOT LIKE '%oso%'", {"Latte"}),
    ("companyname IS NULL", {"Ristretto"}),
    ("companyname IS NOT NULL AND budgetamount >= 5000", {"Latte", "Mocha 50%_off"}),
    ("leadsourcecode IN (1, 7)", {"Latte", "Ristretto"}),
    ("NOT (leadsourcecode = 8)", {"Latte", "Ristretto"}),
    ("decisionmaker = true", {"Espresso"}),
])
def test_sql_conditions(api: ServiceRootSession, people: dict[str, str], condition: str, expected: set[str]) -> None:
    response = sql(api, f"SELECT subject FROM lead WHERE {condition}")
    assert response.status_code == 200, response.text
    assert {r["subject"] for r in response.json()["value"]} == expected


@pytest.mark.parametrize(("statement", "fragment"), [
    ("SELECT subject FROM account", "does not match"),
    ("SELECT nope FROM lead", "Could not find a property named 'nope'"),
    ("SELECT COUNT(nope) FROM lead", "doesn't contain attribute with Name = 'nope'"),
    ("SELECT subject FROM lead WHERE subject LIKE 'a%b'", "LIKE patterns"),
    ("SELECT subject FROM lead GROUP BY subject HAVING COUNT(*) > 1", "unexpected 'HAVING'"),
    ("DELETE FROM lead", "expected SELECT"),
    ("SELECT subject FROM lead WHERE subject = 'x'; DROP TABLE lead", "unexpected"),
])
def test_sql_errors(api: ServiceRootSession, people: dict[str, str], statement: str, fragment: str) -> None:
    response = sql(api, statement)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]
    assert len(subjects(api, "")) == 4
