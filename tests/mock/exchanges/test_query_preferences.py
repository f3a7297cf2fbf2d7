"""``Prefer`` as the docs write it, the collection annotations, and parameter aliases in $filter and $orderby."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.wire import parse_prefer

Create = Callable[[str, dict[str, Any]], str]
TOTAL = "@Microsoft.Dynamics.CRM.totalrecordcount"
EXCEEDED = "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
VERSION = "@Microsoft.Dynamics.CRM.globalmetadataversion"


def _contacts(create: Create) -> None:
    for first, job in (("Ann", "Manager"), ("Bo", "Analyst"), ("Cy", "Manager"), ("Di", "Buyer"), ("Ed", "Analyst")):
        create("contacts", {"firstname": first, "lastname": "Sample", "jobtitle": job})


def test_semicolon_separated_prefer_pages_and_annotates(api: ServiceRootSession, create: Create) -> None:
    _contacts(create)
    prefer = 'odata.maxpagesize=2; odata.include-annotations="*"'
    first = api.get("contacts?$select=fullname&$filter=lastname eq 'Sample'&$count=true", headers={"Prefer": prefer})
    assert first.status_code == 200, first.text
    assert parse_prefer(first.headers["Preference-Applied"]) == {"odata.include-annotations": "*",
                                                                 "odata.maxpagesize": "2"}
    body = first.json()
    assert (body["@odata.count"], body[TOTAL], body[EXCEEDED]) == (5, 5, False)
    assert isinstance(body[VERSION], str) and body[VERSION]
    assert list(body)[:5] == ["@odata.context", "@odata.count", TOTAL, EXCEEDED, VERSION]
    seen = [row["fullname"] for row in body["value"]]
    link = body["@odata.nextLink"]
    while link:
        page = api.get(link, headers={"Prefer": prefer}).json()
        seen += [row["fullname"] for row in page["value"]]
        link = page.get("@odata.nextLink")
    assert sorted(seen) == ["Ann Sample", "Bo Sample", "Cy Sample", "Di Sample", "Ed Sample"]


def test_total_record_count_is_minus_one_without_count_and_absent_without_annotations(
        api: ServiceRootSession, create: Create) -> None:
    _contacts(create)
    annotated = api.get("contacts?$select=fullname", headers={"Prefer": 'odata.include-annotations="*"'}).json()
    assert (annotated[TOTAL], annotated[EXCEEDED]) == (-1, False)
    plain = api.get("contacts?$select=fullname").json()
    assert TOTAL not in plain and VERSION not in plain
    pattern = 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount"'
    only_count = api.get("contacts?$select=fullname&$count=true", headers={"Prefer": pattern}).json()
    assert only_count[TOTAL] == 5 and VERSION not in only_count


def test_parameter_aliases_name_properties_in_filter_and_orderby(api: ServiceRootSession, create: Create) -> None:
    _contacts(create)
    response = api.get("contacts?$select=fullname&$filter=contains(@p1,'sample') and @p2 ne @p3"
                       "&$orderby=@p4 asc,@p5 desc&@p1=fullname&@p2=jobtitle&@p3='Buyer'&@p4=jobtitle&@p5=firstname")
    assert response.status_code == 200, response.text
    assert [row["fullname"] for row in response.json()["value"]] == [
        "Ed Sample", "Bo Sample", "Cy Sample", "Ann Sample"]


def test_an_orderby_alias_without_a_value_is_400(api: ServiceRootSession) -> None:
    response = api.get("contacts?$orderby=@p9")
    assert response.status_code == 400
    assert "@p9" in response.json()["error"]["message"]


def test_single_record_get_carries_the_etag_header(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Tagged"})
    response = api.get(f"accounts({account})?$select=name")
    assert response.headers["ETag"] == response.json()["@odata.etag"]
