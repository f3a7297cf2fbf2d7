"""Metadata queries as Microsoft's Python SDK and dynamics-web-api send them: enum members, ``ne``,
parentheses, and relationship definitions matching the navigations the mock serves."""

from __future__ import annotations

import pytest

from d365lab.mock.inprocess import ServiceRootSession
from d365lab.models.schema import TABLES

USER_OWNED = "Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'"


def _names(api: ServiceRootSession, path: str, key: str = "LogicalName") -> list[str]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return [item[key] for item in response.json()["value"]]


@pytest.mark.parametrize("condition", [f"IsPrivate eq false and (OwnershipType eq {USER_OWNED})",
                                       f"IsPrivate eq false and OwnershipType eq {USER_OWNED}"])
def test_entity_definitions_filter_on_an_enum_member(api: ServiceRootSession, condition: str) -> None:
    names = _names(api, f"EntityDefinitions?$select=LogicalName,OwnershipType&$filter={condition}")
    expected = sorted(t.logical_name for t in TABLES.values() if "ownerid" in t.columns)
    assert sorted(names) == expected
    assert "systemuser" not in names and len(names) < len(TABLES)


def test_entity_definitions_filter_with_not_or_and_ne(api: ServiceRootSession) -> None:
    names = _names(api, "EntityDefinitions?$select=LogicalName"
                        "&$filter=not (LogicalName ne 'lead' and LogicalName ne 'account') or LogicalName eq 'x'")
    assert sorted(names) == ["account", "lead"]


def test_attributes_filter_with_ne(api: ServiceRootSession) -> None:
    everything = _names(api, "EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName")
    not_virtual = _names(api, "EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName"
                              "&$filter=AttributeType ne 'Virtual'")
    not_strings = _names(api, "EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName"
                              "&$filter=AttributeType ne 'String'")
    assert not_virtual == everything
    assert "subject" in everything and "subject" not in not_strings and "statecode" in not_strings


def test_an_unsupported_metadata_filter_is_400(api: ServiceRootSession) -> None:
    response = api.get("EntityDefinitions?$filter=startswith(LogicalName,'l')")
    assert response.status_code == 400


def test_one_to_many_relationships_match_the_collection_navigations(api: ServiceRootSession) -> None:
    response = api.get("EntityDefinitions(LogicalName='account')/OneToManyRelationships"
                       "?$select=SchemaName,ReferencingEntity,ReferencingAttribute,ReferencingEntityNavigationPropertyName")
    assert response.status_code == 200
    by_name = {item["SchemaName"]: item for item in response.json()["value"]}
    contacts = by_name["contact_customer_accounts"]
    assert (contacts["ReferencingEntity"], contacts["ReferencingAttribute"],
            contacts["ReferencingEntityNavigationPropertyName"]) == ("contact", "parentcustomerid",
                                                                     "parentcustomerid_account")
    for name, item in by_name.items():  # every relationship named there is a navigation the mock serves
        account = api.post("accounts", json={"name": f"for {name}"}).headers["OData-EntityId"].rsplit("/", 1)[1]
        assert api.get(f"{account}/{name}").status_code == 200, name
        assert item["ReferencingEntity"] in TABLES


def test_many_to_one_and_many_to_many_relationships(api: ServiceRootSession) -> None:
    many_to_one = _names(api, "EntityDefinitions(LogicalName='contact')/ManyToOneRelationships?$select=SchemaName",
                         key="SchemaName")
    assert "contact_customer_accounts" in many_to_one and "account_primary_contact" not in many_to_one
    many_to_many = api.get("EntityDefinitions(LogicalName='competitor')/ManyToManyRelationships").json()["value"]
    assert [(r["SchemaName"], r["IntersectEntityName"], r["Entity1LogicalName"], r["Entity2LogicalName"])
            for r in many_to_many] == [("opportunitycompetitors_association", "opportunitycompetitors",
                                        "opportunity", "competitor")]


def test_relationship_definitions_list_filter_cast_and_key(api: ServiceRootSession) -> None:
    every = _names(api, "RelationshipDefinitions?$select=SchemaName", key="SchemaName")
    assert "contact_customer_accounts" in every and "opportunitycompetitors_association" in every
    cast = _names(api, "RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata"
                       "?$select=SchemaName", key="SchemaName")
    assert cast == ["opportunitycompetitors_association"]
    filtered = _names(api, "RelationshipDefinitions?$select=SchemaName&$filter=ReferencedEntity eq 'campaign'",
                      key="SchemaName")
    assert sorted(filtered) == ["campaign_leads", "campaign_opportunities"]
    one = api.get("RelationshipDefinitions(SchemaName='lead_parent_account')").json()
    again = api.get(f"RelationshipDefinitions({one['MetadataId']})").json()
    assert one["ReferencingAttribute"] == again["ReferencingAttribute"] == "parentaccountid"
    assert api.get("RelationshipDefinitions(SchemaName='nope')").status_code == 404
