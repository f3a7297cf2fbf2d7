"""Composite addresses, ``fullname`` and ``yomifullname``: computed on every write, over plain HTTP.

Sources: Microsoft Learn, FormatAddress function ("Builds the full address according to
country/regional format specific requirements") and its functions-and-actions sample (US and
Japanese orders); UserSettingsFullNameConventionCode (the eight full-name formats).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.settings import MockSettings

Create = Callable[[str, dict[str, Any]], str]
ADDRESS = {"address1_line1": "1 Main St", "address1_line2": "Suite 5", "address1_city": "Austin",
           "address1_stateorprovince": "TX", "address1_postalcode": "78701", "address1_country": "United States"}


def read(api: ServiceRootSession, path: str, columns: str) -> dict[str, Any]:
    response = api.get(f"{path}?$select={columns}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("entity_set", ["leads", "contacts", "accounts", "competitors"])
def test_address1_composite_in_the_us_order(api: ServiceRootSession, create: Create, entity_set: str) -> None:
    required = {"leads": {"lastname": "Doe"}, "contacts": {"lastname": "Doe"}}.get(entity_set, {"name": "Fabrikam"})
    record = create(entity_set, {**required, **ADDRESS})
    row = read(api, f"{entity_set}({record})", "address1_composite,address2_composite")
    assert row["address1_composite"] == "1 Main St\r\nSuite 5\r\nAustin, TX 78701\r\nUnited States"
    assert row["address2_composite"] is None


def test_composites_follow_their_parts_on_update(api: ServiceRootSession, create: Create) -> None:
    contact = create("contacts", {"lastname": "Doe", "address3_city": "Austin", "address3_country": "United States",
                                  "address2_city": "Redmond"})
    row = read(api, f"contacts({contact})", "address2_composite,address3_composite")
    assert (row["address2_composite"], row["address3_composite"]) == ("Redmond", "Austin\r\nUnited States")
    changes = {"address3_stateorprovince": "TX", "address2_city": None}
    assert api.patch(f"contacts({contact})", json=changes).status_code == 204
    row = read(api, f"contacts({contact})", "address2_composite,address3_composite")
    assert (row["address2_composite"], row["address3_composite"]) == (None, "Austin, TX\r\nUnited States")


def test_japanese_address_in_the_japanese_order(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Contoso Japan", "address1_line1": "1-2-3 Sakura", "address1_city": "Nagoya",
                                  "address1_stateorprovince": "Aichi", "address1_postalcode": "455-2345",
                                  "address1_country": "JAPAN"})
    composite = read(api, f"accounts({account})", "address1_composite")["address1_composite"]
    formatted = api.get("FormatAddress(Line1=@p1,City=@p2,StateOrProvince=@p3,PostalCode=@p4,Country=@p5)"
                        "?@p1='1-2-3 Sakura'&@p2='Nagoya'&@p3='Aichi'&@p4='455-2345'&@p5='JAPAN'").json()["Address"]
    assert composite == formatted == "455-2345\r\nAichi\r\nNagoya\r\n1-2-3 Sakura\r\nJAPAN"


def test_qualify_lead_gives_the_new_records_their_composites(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "Coffee", "firstname": "Jon", "lastname": "Doe", "companyname": "Fabrikam",
                            "yomifirstname": "Jon", "yomilastname": "Do", **ADDRESS})
    answer = api.post(f"leads({lead})/Microsoft.Dynamics.CRM.QualifyLead", json={
        "CreateAccount": True, "CreateContact": True, "CreateOpportunity": False, "Status": 3})
    assert answer.status_code == 200, answer.text
    ids = {key: value for row in answer.json()["value"] for key, value in row.items() if key.endswith("id")}
    expected = "1 Main St\r\nSuite 5\r\nAustin, TX 78701\r\nUnited States"
    assert read(api, f"accounts({ids['accountid']})", "address1_composite")["address1_composite"] == expected
    contact = read(api, f"contacts({ids['contactid']})", "address1_composite,fullname")
    assert (contact["address1_composite"], contact["fullname"]) == (expected, "Jon Doe")


def test_yomifullname_of_leads_and_contacts(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"lastname": "Tanaka", "yomifirstname": "タロウ", "yomilastname": "タナカ"})
    assert read(api, f"leads({lead})", "yomifullname")["yomifullname"] == "タロウ タナカ"
    contact = create("contacts", {"lastname": "Doe", "yomilastname": "ドウ"})
    assert read(api, f"contacts({contact})", "yomifullname")["yomifullname"] == "ドウ"
    assert api.patch(f"contacts({contact})", json={"yomilastname": None}).status_code == 204
    assert read(api, f"contacts({contact})", "yomifullname")["yomifullname"] is None


@pytest.mark.parametrize(("convention", "expected"), [
    (0, "Doe, Jon"), (1, "Jon Doe"), (2, "Doe, Jon P."), (3, "Jon P. Doe"),
    (4, "Doe, Jon Paul"), (5, "Jon Paul Doe"), (6, "Doe Jon"), (7, "DoeJon"),
])
def test_full_name_format_is_a_setting(mock_settings: MockSettings, api: ServiceRootSession, create: Create,
                                       convention: int, expected: str) -> None:
    mock_settings.computed.full_name_convention = convention
    lead = create("leads", {"firstname": "Jon", "middlename": "Paul", "lastname": "Doe",
                            "yomifirstname": "Jon", "yomimiddlename": "Paul", "yomilastname": "Doe"})
    row = read(api, f"leads({lead})", "fullname,yomifullname")
    assert (row["fullname"], row["yomifullname"]) == (expected, expected)


def test_computed_name_columns_are_refused_when_written(api: ServiceRootSession, create: Create) -> None:
    for column in ("address1_composite", "yomifullname", "fullname"):
        answer = api.post("contacts", json={"lastname": "Doe", column: "x"})
        assert answer.status_code == 400
        assert f"'{column}' attribute of the 'contact' entity is read-only" in answer.json()["error"]["message"]


def test_filter_orderby_and_select_on_composites_and_yomi_names(api: ServiceRootSession, create: Create) -> None:
    create("contacts", {"lastname": "A", "yomilastname": "b", "address1_city": "Austin", "address1_country": "US"})
    create("contacts", {"lastname": "B", "yomilastname": "a", "address1_city": "Boston"})
    create("contacts", {"lastname": "C", "yomilastname": "c", "address1_city": "Austin"})
    rows = api.get("contacts?$select=lastname,address1_composite&$filter=startswith(address1_composite,'austin')"
                   "&$orderby=yomifullname desc").json()["value"]
    assert [(r["lastname"], r["address1_composite"]) for r in rows] == [("C", "Austin"), ("A", "Austin\r\nUS")]
    rows = api.get("contacts?$select=yomifullname&$orderby=yomifullname").json()["value"]
    assert [r["yomifullname"] for r in rows] == ["a", "b", "c"]
