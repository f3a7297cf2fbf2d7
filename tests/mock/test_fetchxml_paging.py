"""FetchXML paging cookies and ``$count`` over HTTP, after "Page results using FetchXml" (Web API tab)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

COOKIE = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"
PREFER = {"Prefer": f'odata.include-annotations="{COOKIE},Microsoft.Dynamics.CRM.morerecords"'}
QUERY = ("<fetch count='3' page='{page}'{cookie}><entity name='contact'><attribute name='fullname'/>"
         "<attribute name='jobtitle'/><order descending='true' attribute='fullname'/></entity></fetch>")


@pytest.fixture
def contacts(create: Callable[[str, dict[str, Any]], str]) -> list[str]:
    """Eight contacts, two of them sharing a full name (the key breaks the tie)."""
    names = ["Yvonne McKay", "Thomas Andersen", "Susanna Stubberod", "Susan Burk", "Scott Konersmann",
             "Rene Valdes", "Rene Valdes", "Patrick Sands"]
    for name in names:
        first, last = name.split(" ")
        create("contacts", {"firstname": first, "lastname": last, "jobtitle": "Owner"})
    return names


def get(api: ServiceRootSession, xml: str, extra: str = "") -> Any:
    """GET contacts?fetchXml=… with the documented Prefer header."""
    response = api.get(f"contacts?fetchXml={quote(xml)}{extra}", headers=PREFER)
    assert response.status_code == 200, response.text
    return response


def test_paging_cookie_walks_every_page(api: ServiceRootSession, contacts: list[str]) -> None:
    seen: list[str] = []
    page, cookie_attribute = 1, ""
    while True:
        response = get(api, QUERY.format(page=page, cookie=cookie_attribute))
        body = response.json()
        seen += [row["fullname"] for row in body["value"]]
        if not body.get("@Microsoft.Dynamics.CRM.morerecords"):
            assert f"@{COOKIE}" not in body
            break
        assert "fetchxmlpagingcookie" in response.headers["Preference-Applied"]
        outer = ElementTree.fromstring(body[f"@{COOKIE}"])
        assert outer.get("pagenumber") == str(page + 1) and outer.get("istracking") == "False"
        inner = unquote(unquote(outer.get("pagingcookie") or ""))
        cookie = ElementTree.fromstring(inner)
        assert cookie.get("page") == str(page)
        assert cookie.find("fullname") is not None and cookie.find("contactid") is not None
        page = int(outer.get("pagenumber") or 0)
        escaped = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        cookie_attribute = f" paging-cookie='{escaped}'"
    assert seen == sorted(contacts, reverse=True)
    assert page == 3


def test_cookie_pages_from_its_last_row_not_from_the_page_number(api: ServiceRootSession,
                                                                 contacts: list[str]) -> None:
    first = get(api, QUERY.format(page=1, cookie="")).json()
    inner = unquote(unquote(ElementTree.fromstring(first[f"@{COOKIE}"]).get("pagingcookie") or ""))
    escaped = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    # A page number far beyond the data: the cookie alone says where the next page starts.
    second = get(api, QUERY.format(page=40, cookie=f" paging-cookie='{escaped}'")).json()
    assert [r["fullname"] for r in second["value"]] == ["Susan Burk", "Scott Konersmann", "Rene Valdes"]


def test_cookie_without_prefer_is_a_setting_and_none_on_the_last_page(
        api: ServiceRootSession, contacts: list[str], mock_settings: MockSettings) -> None:
    url = f"contacts?fetchXml={quote(QUERY.format(page=1, cookie=''))}"
    assert f"@{COOKIE}" in api.get(url).json()  # default "always": like morerecords, asked for or not
    mock_settings.fetch_paging_cookie = "when_asked"
    plain = api.get(url).json()
    assert plain["@Microsoft.Dynamics.CRM.morerecords"] is True and f"@{COOKIE}" not in plain
    assert f"@{COOKIE}" in get(api, QUERY.format(page=1, cookie="")).json()
    everything = get(api, QUERY.format(page=1, cookie="").replace("count='3'", "count='50'")).json()
    assert f"@{COOKIE}" not in everything and len(everything["value"]) == 8


def test_count_true_adds_odata_count(api: ServiceRootSession, contacts: list[str]) -> None:
    body = get(api, QUERY.format(page=1, cookie=""), "&$count=true").json()
    assert body["@odata.count"] == 8
    assert len(body["value"]) == 3
    filtered = ("<fetch><entity name='contact'><attribute name='fullname'/><filter>"
                "<condition attribute='lastname' operator='eq' value='valdes'/></filter></entity></fetch>")
    assert get(api, filtered, "&$count=true").json()["@odata.count"] == 2
