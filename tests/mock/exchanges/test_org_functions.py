"""FormatAddress, InitializeFrom, RetrieveCurrentOrganization, RetrieveTotalRecordCount called as clients call them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
FORMAT = "FormatAddress(Line1=@p1,City=@p2,StateOrProvince=@p3,PostalCode=@p4,Country=@p5)"


@pytest.mark.parametrize(("country", "expected"), [
    ("USA", "1 Main St\r\nSpringfield, IL 62701\r\nUSA"),
    ("Japan", "455-2345\r\nIL\r\nSpringfield\r\n1 Main St\r\nJapan"),
])
def test_format_address_orders_lines_for_the_country(api: ServiceRootSession, country: str, expected: str) -> None:
    response = api.get(f"{FORMAT}?@p1='1 Main St'&@p2='Springfield'&@p3='IL'&@p4='62701'&@p5='{country}'")
    assert response.status_code == 200
    body = response.json()
    assert body["Address"] == expected.replace("455-2345", "62701")
    assert body["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.FormatAddressResponse")


def test_initialize_from_binds_the_new_row_to_its_source(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "Espresso", "lastname": "Lee"})
    response = api.get("InitializeFrom(EntityMoniker=@p1,TargetEntityName=@p2,TargetFieldType=@p3)"
                       f"?@p1={{'@odata.id':'leads({lead})'}}&@p2='opportunity'"
                       "&@p3=Microsoft.Dynamics.CRM.TargetFieldType'ValidForCreate'")
    assert response.status_code == 200, response.text
    assert response.headers["Preference-Applied"] == "return=representation"
    body = response.json()
    assert body["@odata.type"] == "#Microsoft.Dynamics.CRM.opportunity"
    assert body["originatingleadid@odata.bind"] == f"leads({lead})"
    created = api.post("opportunities", json={**body, "name": "From lead"})
    assert created.status_code == 204, created.text


def test_initialize_from_a_missing_row_is_404(api: ServiceRootSession) -> None:
    response = api.get("InitializeFrom(EntityMoniker=@p1,TargetEntityName=@p2,TargetFieldType=@p3)"
                       "?@p1={'@odata.id':'leads(00000000-0000-0000-0000-000000000009)'}&@p2='opportunity'"
                       "&@p3=Microsoft.Dynamics.CRM.TargetFieldType'ValidForCreate'")
    assert response.status_code == 404


def test_retrieve_current_organization_names_the_mock_org(api: ServiceRootSession) -> None:
    who = api.get("WhoAmI").json()
    response = api.get("RetrieveCurrentOrganization(AccessType=@p1)"
                       "?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Default'")
    assert response.status_code == 200
    detail = response.json()["Detail"]
    assert detail["OrganizationId"] == who["OrganizationId"]
    assert detail["State"] == "Enabled"
    assert detail["Endpoints"]["Values"][0] == api.base_url + "/"


def test_retrieve_current_organization_refuses_another_enum_member(api: ServiceRootSession) -> None:
    response = api.get("RetrieveCurrentOrganization(AccessType=@p1)"
                       "?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Any'")
    assert response.status_code == 400


def test_retrieve_total_record_count_counts_every_row(api: ServiceRootSession, create: Create) -> None:
    for index in range(3):
        create("accounts", {"name": f"A{index}"})
    create("contacts", {"lastname": "Only"})
    response = api.get('RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["account","contact"]')
    assert response.status_code == 200
    collection = response.json()["EntityRecordCountCollection"]
    assert collection == {"Count": 2, "IsReadOnly": False, "Keys": ["account", "contact"], "Values": [3, 1]}


def test_retrieve_total_record_count_of_an_unknown_table_is_400(api: ServiceRootSession) -> None:
    assert api.get('RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["nosuchtable"]').status_code == 400
