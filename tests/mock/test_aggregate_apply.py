"""``$apply`` over HTTP, shaped after Microsoft's "Aggregate data using OData" examples.

Ten accounts as in the FetchXML aggregation page's sample set (one without revenue and
city), three inactive, three with a primary contact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

FORMATTED = "OData.Community.Display.V1.FormattedValue"
ANNOTATIONS = {"Prefer": f'odata.include-annotations="{FORMATTED}"'}
ACCOUNTS = [  # name, revenue, city, state, inactive
    ("Example Account", None, None, None, False),
    ("Contoso Pharmaceuticals", 1500, "Redmond", "WA", False),
    ("Fabrikam, Inc.", 2700, "Lynnwood", "WA", False),
    ("Blue Yonder Airlines", 2900, "Los Angeles", "CA", False),
    ("City Power & Light", 2900, "REDMOND", "WA", True),
    ("Coho Winery", 3900, "Phoenix", "AZ", False),
    ("Adventure Works", 4300, "Santa Cruz", "CA", True),
    ("Alpine Ski House", 4800, "Missoula", "MT", False),
    ("Litware, Inc.", 6000, "Dallas", "TX", True),
    ("A. Datum Corporation", 6200, "Redmond", "WA", False),
]


@pytest.fixture
def accounts(api: ServiceRootSession, create: Callable[[str, dict[str, Any]], str]) -> dict[str, str]:
    """The sample accounts; the first three with revenue have a primary contact."""
    ids: dict[str, str] = {}
    contacts = [create("contacts", {"firstname": "Jim", "lastname": "Glynn"}),
                create("contacts", {"firstname": "Maria", "lastname": "Campbell"})]
    for index, (name, revenue, city, state, inactive) in enumerate(ACCOUNTS):
        body: dict[str, Any] = {"name": name, "revenue": revenue, "address1_city": city,
                                "address1_stateorprovince": state}
        if 1 <= index <= 3:
            body["primarycontactid@odata.bind"] = f"/contacts({contacts[0 if index == 1 else 1]})"
        ids[name] = create("accounts", body)
        if inactive:
            response = api.patch(f"accounts({ids[name]})", json={"statecode": 1, "statuscode": 2})
            assert response.status_code == 204, response.text
    return ids


def apply(api: ServiceRootSession, text: str, extra: str = "", annotations: bool = False) -> Any:
    """GET accounts?$apply=<text>[&extra] and return the response."""
    query = f"accounts?$apply={text}" + (f"&{extra}" if extra else "")
    return api.get(query, headers=ANNOTATIONS if annotations else {})


def test_unique_statuses(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    response = apply(api, "groupby((statuscode))", annotations=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#accounts")
    assert body["value"] == [{f"statuscode@{FORMATTED}": "Active", "statuscode": 1},
                             {f"statuscode@{FORMATTED}": "Inactive", "statuscode": 2}]


def test_count_by_status(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    rows = apply(api, "groupby((statuscode),aggregate($count as count))", annotations=True).json()["value"]
    assert [(r["statuscode"], r["count"], r[f"count@{FORMATTED}"]) for r in rows] == [(1, 7, "7"), (2, 3, "3")]


def test_sum_average_min_max_and_countdistinct(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    response = apply(api, "aggregate(revenue with sum as total,revenue with average as mean,"
                          "revenue with min as low,revenue with max as high,"
                          "revenue with countdistinct as distinctrevenues,$count as n)", annotations=True)
    assert response.status_code == 200, response.text
    [row] = response.json()["value"]
    assert row["total"] == 35200 and row[f"total@{FORMATTED}"] == "$35,200.00"
    assert row["mean"] == pytest.approx(35200 / 9)
    assert (row["low"], row["high"], row["distinctrevenues"], row["n"]) == (1500, 6200, 8, 10)


def test_sum_by_status_after_filter(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    rows = apply(api, "filter(address1_stateorprovince eq 'WA')/groupby((statuscode),"
                      "aggregate(revenue with sum as total))").json()["value"]
    assert rows == [{"statuscode": 1, "total": 1500 + 2700 + 6200}, {"statuscode": 2, "total": 2900}]


def test_group_by_text_is_case_insensitive_and_null_keys_are_left_out(
        api: ServiceRootSession, accounts: dict[str, str]) -> None:
    rows = apply(api, "groupby((address1_city),aggregate($count as n))").json()["value"]
    by_city = {r.get("address1_city", "").lower(): r["n"] for r in rows}
    assert by_city["redmond"] == 3
    assert by_city[""] == 1  # the row without a city has no address1_city key at all
    assert sum(by_city.values()) == 10


def test_group_by_navigation_property(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    rows = apply(api, "groupby((primarycontactid/fullname),aggregate(revenue with sum as total))",
                 "$orderby=primarycontactid/fullname").json()["value"]
    named = [r for r in rows if "contact_fullname" in r]
    assert named == [{"contact_fullname": "Jim Glynn", "total": 1500},
                     {"contact_fullname": "Maria Campbell", "total": 2700 + 2900}]


def test_distinct_values_of_several_columns(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    rows = apply(api, "groupby((statecode,statuscode))").json()["value"]
    assert rows == [{"statecode": 0, "statuscode": 1}, {"statecode": 1, "statuscode": 2}]


def test_filter_option_narrows_rows_and_top_caps_groups(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    rows = apply(api, "groupby((address1_stateorprovince),aggregate($count as n))",
                 "$filter=statecode eq 0&$orderby=address1_stateorprovince desc&$top=2").json()["value"]
    assert rows == [{"address1_stateorprovince": "WA", "n": 3}, {"address1_stateorprovince": "MT", "n": 1}]


def test_group_by_lookup_value(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    response = apply(api, "groupby((_primarycontactid_value),aggregate($count as n))", annotations=True)
    rows = response.json()["value"]
    named = {r[f"_primarycontactid_value@{FORMATTED}"]: r["n"] for r in rows if "_primarycontactid_value" in r}
    assert named == {"Jim Glynn": 1, "Maria Campbell": 2}


@pytest.mark.parametrize(("text", "extra", "fragment"), [
    ("groupby((createdon))", "", "date and time"),
    ("groupby((statuscode),aggregate($count as n))", "$orderby=n", "SingleValueOpenPropertyAccess"),
    ("aggregate(name with sum as total)", "", "not valid on the String column"),
    ("aggregate(revenue with median as m)", "", "'median' is not supported"),
    ("compute(revenue mul 2 as double)", "", "'compute' is not supported"),
    ("aggregate($count as n)/filter(n gt 1)", "", "after groupby/aggregate"),
    ("groupby((nope))", "", "Could not find a property named 'nope'"),
    ("groupby((statuscode))", "$select=name", "cannot be combined"),
    ("filter(name eq 'x')", "", "groupby or aggregate is required"),
    ("groupby(statuscode)", "", "groupby takes"),
])
def test_refused(api: ServiceRootSession, accounts: dict[str, str], text: str, extra: str, fragment: str) -> None:
    response = apply(api, text, extra)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_aggregate_record_limit(api: ServiceRootSession, accounts: dict[str, str],
                                mock_settings: MockSettings) -> None:
    mock_settings.aggregate_record_limit = 5  # the service's is 50,000; a small one is reachable here
    response = apply(api, "aggregate($count as n)")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "0x8004e023"
    assert error["message"] == "AggregateQueryRecordLimit exceeded. Cannot perform this operation."
    narrowed = apply(api, "filter(address1_stateorprovince eq 'WA')/aggregate($count as n)")
    assert narrowed.json()["value"] == [{"n": 4}]
