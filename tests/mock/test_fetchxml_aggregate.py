"""FetchXML ``aggregate="true"`` over HTTP, after Microsoft's "Aggregate data using FetchXml" page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings
from tests.mock.test_aggregate_apply import ANNOTATIONS, FORMATTED, accounts

__all__ = ["accounts"]  # the fixture, shared with the $apply tests


def fetch(api: ServiceRootSession, entity_set: str, xml: str, annotations: bool = False) -> Any:
    """GET <set>?fetchXml=<xml>."""
    return api.get(f"{entity_set}?fetchXml={quote(xml)}", headers=ANNOTATIONS if annotations else {})


def test_documented_aggregates(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    # Employees in the page's sample are revenue here: same numbers, a column the mock has.
    xml = ("<fetch aggregate='true'><entity name='account'>"
           "<attribute name='revenue' alias='Average' aggregate='avg'/>"
           "<attribute name='revenue' alias='Count' aggregate='count'/>"
           "<attribute name='revenue' alias='ColumnCount' aggregate='countcolumn'/>"
           "<attribute name='revenue' alias='Maximum' aggregate='max'/>"
           "<attribute name='revenue' alias='Minimum' aggregate='min'/>"
           "<attribute name='revenue' alias='Sum' aggregate='sum'/>"
           "</entity></fetch>")
    response = fetch(api, "accounts", xml)
    assert response.status_code == 200, response.text
    [row] = response.json()["value"]
    assert row["Average"] == pytest.approx(35200 / 9)
    assert (row["Count"], row["ColumnCount"], row["Maximum"], row["Minimum"], row["Sum"]) == (10, 9, 6200, 1500, 35200)


def test_distinct_countcolumn(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    xml = ("<fetch aggregate='true'><entity name='account'>"
           "<attribute name='revenue' alias='ColumnCount' aggregate='countcolumn' distinct='true'/>"
           "</entity></fetch>")
    assert fetch(api, "accounts", xml).json()["value"] == [{"ColumnCount": 8}]


def test_grouping_with_order_alias(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    xml = ("<fetch aggregate='true'><entity name='account'>"
           "<attribute name='revenue' alias='Total' aggregate='sum'/>"
           "<attribute name='address1_city' alias='Count' aggregate='count'/>"
           "<attribute name='address1_city' alias='City' groupby='true'/>"
           "<order alias='City'/></entity></fetch>")
    rows = fetch(api, "accounts", xml).json()["value"]
    assert [(r.get("City", "").lower(), r["Count"], r["Total"]) for r in rows] == [
        ("", 1, None), ("dallas", 1, 6000), ("los angeles", 1, 2900), ("lynnwood", 1, 2700),
        ("missoula", 1, 4800), ("phoenix", 1, 3900), ("redmond", 3, 1500 + 2900 + 6200), ("santa cruz", 1, 4300)]


def test_grouping_by_date_parts_and_descending_order(api: ServiceRootSession, accounts: dict[str, str]) -> None:
    xml = ("<fetch aggregate='true'><entity name='account'>"
           "<attribute name='accountid' alias='n' aggregate='count'/>"
           "<attribute name='createdon' alias='Year' groupby='true' dategrouping='year'/>"
           "<attribute name='createdon' alias='Quarter' groupby='true' dategrouping='quarter'/>"
           "<attribute name='statecode' alias='State' groupby='true'/>"
           "<order alias='n' descending='true'/></entity></fetch>")
    rows = fetch(api, "accounts", xml, annotations=True).json()["value"]
    assert [(r["State"], r[f"State@{FORMATTED}"], r["n"]) for r in rows] == [(0, "Active", 7), (1, "Inactive", 3)]
    assert all(r["Year"] >= 2024 and 1 <= r["Quarter"] <= 4 for r in rows)


def test_group_by_lookup_on_a_linked_table(api: ServiceRootSession, accounts: dict[str, str],
                                           create: Callable[[str, dict[str, Any]], str]) -> None:
    for name, amount in (("Contoso Pharmaceuticals", 100), ("Contoso Pharmaceuticals", 250), ("Coho Winery", 40)):
        create("opportunities", {"name": f"{name} deal", "estimatedvalue": amount,
                                 "parentaccountid@odata.bind": f"/accounts({accounts[name]})"})
    create("opportunities", {"name": "orphan", "estimatedvalue": 7})
    xml = ("<fetch aggregate='true'><entity name='opportunity'>"
           "<attribute name='estimatedvalue' alias='value' aggregate='sum'/>"
           "<attribute name='opportunityid' alias='deals' aggregate='count'/>"
           "<link-entity name='account' from='accountid' to='parentaccountid' link-type='outer' alias='a'>"
           "<attribute name='accountid' alias='account' groupby='true'/>"
           "<attribute name='name' alias='accountname' groupby='true'/>"
           "<attribute name='address1_city' alias='city' groupby='true'/></link-entity>"
           "<order alias='value' descending='true'/></entity></fetch>")
    response = fetch(api, "opportunities", xml, annotations=True)
    assert response.status_code == 200, response.text
    rows = response.json()["value"]
    assert [(r.get("accountname"), r.get("city"), r["deals"], r["value"]) for r in rows] == [
        ("Contoso Pharmaceuticals", "Redmond", 2, 350), ("Coho Winery", "Phoenix", 1, 40), (None, None, 1, 7)]
    assert rows[0]["account"] == accounts["Contoso Pharmaceuticals"]


@pytest.mark.parametrize(("xml", "fragment"), [
    ("<fetch aggregate='true'><entity name='account'><attribute name='revenue' aggregate='sum'/></entity></fetch>",
     "needs an alias"),
    ("<fetch aggregate='true'><entity name='account'><attribute name='name' alias='x'/></entity></fetch>",
     "needs groupby='true' or an aggregate"),
    ("<fetch aggregate='true'><entity name='account'><attribute name='name' alias='x' aggregate='sum'/>"
     "</entity></fetch>", "not valid on the String column"),
    ("<fetch aggregate='true'><entity name='account'><attribute name='createdon' alias='x' groupby='true' "
     "dategrouping='fiscal-year'/></entity></fetch>", "dategrouping 'fiscal-year'"),
    ("<fetch aggregate='true'><entity name='account'><attribute name='revenue' alias='x' aggregate='sum'/>"
     "<order alias='y'/></entity></fetch>", "names the alias"),
    ("<fetch aggregate='true' aggregatelimit='lots'><entity name='account'>"
     "<attribute name='revenue' alias='x' aggregate='sum'/></entity></fetch>", "aggregatelimit"),
    ("<fetch aggregate='true'><entity name='account'><all-attributes/></entity></fetch>", "all-attributes"),
])
def test_refused(api: ServiceRootSession, accounts: dict[str, str], xml: str, fragment: str) -> None:
    response = fetch(api, "accounts", xml)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_aggregate_record_limit_and_per_query_limit(api: ServiceRootSession, accounts: dict[str, str],
                                                    mock_settings: MockSettings) -> None:
    count = ("<fetch aggregate='true'{limit}><entity name='account'>"
             "<attribute name='name' alias='opportunity_count' aggregate='count'/></entity></fetch>")
    assert fetch(api, "accounts", count.format(limit="")).json()["value"] == [{"opportunity_count": 10}]
    lowered = fetch(api, "accounts", count.format(limit=" aggregatelimit='9'"))
    assert lowered.status_code == 400
    assert lowered.json()["error"] == {"code": "0x8004e023",
                                       "message": "AggregateQueryRecordLimit exceeded. Cannot perform this operation."}
    mock_settings.aggregate_record_limit = 9
    raised = fetch(api, "accounts", count.format(limit=" aggregatelimit='20'"))
    assert raised.status_code == 400  # a per-query limit never exceeds the tenant's
