"""``$ref`` on many-to-many navigations (opportunitycompetitors_association) and on single-valued ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
NAV = "opportunitycompetitors_association"


def _names(api: ServiceRootSession, path: str) -> list[str]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return sorted(row["name"] for row in response.json()["value"])


def test_many_to_many_associate_list_expand_and_disassociate_from_both_sides(
        api: ServiceRootSession, create: Create) -> None:
    competitor = create("competitors", {"name": "Adventure Works"})
    rafting = create("opportunities", {"name": "River rafting"})
    hiking = create("opportunities", {"name": "Hiking"})
    for opportunity in (rafting, hiking):
        response = api.post(f"opportunities({opportunity})/{NAV}/$ref",
                            json={"@odata.id": f"{api.service_root}competitors({competitor})"})
        assert response.status_code == 204, response.text
    assert _names(api, f"competitors({competitor})/{NAV}?$select=name") == ["Hiking", "River rafting"]
    assert _names(api, f"opportunities({rafting})/{NAV}?$select=name") == ["Adventure Works"]
    expanded = api.get(f"competitors({competitor})?$select=name&$expand={NAV}($select=name;$filter=name eq 'Hiking')")
    assert [row["name"] for row in expanded.json()[NAV]] == ["Hiking"]
    gone = api.delete(f"competitors({competitor})/{NAV}({hiking})/$ref")
    assert gone.status_code == 204
    assert _names(api, f"competitors({competitor})/{NAV}?$select=name") == ["River rafting"]
    again = api.delete(f"opportunities({hiking})/{NAV}/$ref?$id={api.service_root}competitors({competitor})")
    assert again.status_code == 404


def test_deleting_a_row_removes_its_many_to_many_associations(api: ServiceRootSession, create: Create) -> None:
    competitor = create("competitors", {"name": "Fabrikam"})
    opportunity = create("opportunities", {"name": "Deal"})
    api.post(f"competitors({competitor})/{NAV}/$ref", json={"@odata.id": f"opportunities({opportunity})"})
    assert _names(api, f"opportunities({opportunity})/{NAV}?$select=name") == ["Fabrikam"]
    assert api.delete(f"competitors({competitor})").status_code == 204
    assert _names(api, f"opportunities({opportunity})/{NAV}?$select=name") == []


def test_get_single_valued_navigation_reference(api: ServiceRootSession, create: Create) -> None:
    lead = create("leads", {"subject": "x", "lastname": "Doe"})
    who = api.get("WhoAmI").json()["UserId"]
    owner = api.get(f"leads({lead})/ownerid/$ref")
    assert owner.status_code == 200
    assert owner.json() == {"@odata.context": f"{api.service_root}$metadata#$ref",
                            "@odata.id": f"{api.service_root}systemusers({who})"}
    assert api.get(f"leads({lead})/parentaccountid/$ref").status_code == 204


def test_deep_insert_through_collection_valued_navigations(api: ServiceRootSession) -> None:
    response = api.post("accounts", json={
        "name": "Fourth Coffee",
        "primarycontactid": {"firstname": "Susie", "lastname": "Curtis"},
        "contact_customer_accounts": [{"firstname": "Ann", "lastname": "One"}, {"firstname": "Bo", "lastname": "Two"}],
        "lead_parent_account": [{"subject": "Espresso", "lastname": "Lee"}],
    })
    assert response.status_code == 204, response.text
    account = response.headers["OData-EntityId"].rsplit("(", 1)[1][:-1]
    body = api.get(f"accounts({account})?$select=name&$expand=contact_customer_accounts($select=fullname),"
                   "lead_parent_account($select=subject),primarycontactid($select=fullname)").json()
    assert sorted(c["fullname"] for c in body["contact_customer_accounts"]) == ["Ann One", "Bo Two"]
    assert [lead["subject"] for lead in body["lead_parent_account"]] == ["Espresso"]
    assert body["primarycontactid"]["fullname"] == "Susie Curtis"


def test_deep_insert_failure_rolls_everything_back(api: ServiceRootSession) -> None:
    response = api.post("accounts", json={"name": "Broken", "contact_customer_accounts": [
        {"firstname": "Ok", "lastname": "Fine"}, {"lastname": "Bad", "nosuchcolumn": 1}]})
    assert response.status_code == 400
    assert api.get("accounts?$filter=name eq 'Broken'").json()["value"] == []
    assert api.get("contacts?$filter=lastname eq 'Fine'").json()["value"] == []


def test_null_navigation_property_on_update_disassociates(api: ServiceRootSession, create: Create) -> None:
    account = create("accounts", {"name": "Parent"})
    lead = create("leads", {"subject": "x", "lastname": "Doe", "parentaccountid@odata.bind": f"accounts({account})"})
    assert api.get(f"leads({lead})?$select=_parentaccountid_value").json()["_parentaccountid_value"] == account
    assert api.patch(f"leads({lead})", json={"parentaccountid": None}).status_code == 204
    assert api.get(f"leads({lead})?$select=_parentaccountid_value").json()["_parentaccountid_value"] is None
    assert api.patch(f"leads({lead})", json={"nosuchnavigation": None}).status_code == 400
