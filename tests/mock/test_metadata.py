"""Metadata over HTTP: EntityDefinitions, Attributes and option sets."""

from __future__ import annotations

from d365lab.mock.inprocess import ServiceRootSession

from .conftest import SERVICE_ROOT


def test_entity_definitions_filtered_by_logical_name(api: ServiceRootSession) -> None:
    response = api.get("EntityDefinitions", params={
        "$select": "LogicalName,EntitySetName,PrimaryIdAttribute", "$filter": "LogicalName eq 'lead'"})
    assert response.status_code == 200
    body = response.json()
    fragment = "EntityDefinitions(LogicalName,EntitySetName,PrimaryIdAttribute)"
    assert body["@odata.context"] == f"{SERVICE_ROOT}$metadata#{fragment}"
    (lead,) = body["value"]
    assert (lead["LogicalName"], lead["EntitySetName"], lead["PrimaryIdAttribute"]) == ("lead", "leads", "leadid")
    assert "ObjectTypeCode" not in lead


def test_unknown_table_filter_is_an_empty_list(api: ServiceRootSession) -> None:
    body = api.get("EntityDefinitions?$filter=LogicalName eq 'nope'").json()
    assert body["value"] == []


def test_all_entity_definitions(api: ServiceRootSession) -> None:
    body = api.get("EntityDefinitions?$select=EntitySetName,LogicalName").json()
    sets = {item["LogicalName"]: item["EntitySetName"] for item in body["value"]}
    assert sets["opportunity"] == "opportunities"
    assert sets["leadtoopportunitysalesprocess"] == "leadtoopportunitysalesprocesses"


def test_entity_definition_by_logical_name_with_attributes(api: ServiceRootSession) -> None:
    body = api.get("EntityDefinitions(LogicalName='lead')?$select=LogicalName,SchemaName,EntitySetName,"
                   "PrimaryIdAttribute,PrimaryNameAttribute,ObjectTypeCode,MetadataId&$expand=Attributes").json()
    assert body["SchemaName"] == "Lead"
    assert body["PrimaryNameAttribute"] == "fullname"
    assert body["ObjectTypeCode"] == 4
    attributes = {a["LogicalName"]: a for a in body["Attributes"]}
    assert attributes["subject"]["AttributeType"] == "String"
    assert attributes["subject"]["MaxLength"] == 300
    assert attributes["fullname"]["IsValidForCreate"] is False
    assert attributes["parentaccountid"]["Targets"] == ["account"]
    assert attributes["estimatedclosedate"]["DateTimeBehavior"] == {"Value": "DateOnly"}
    by_id = api.get(f"EntityDefinitions({body['MetadataId']})?$select=LogicalName").json()
    assert by_id["LogicalName"] == "lead"


def test_single_attribute(api: ServiceRootSession) -> None:
    body = api.get("EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')").json()
    assert body["@odata.type"] == "#Microsoft.Dynamics.CRM.StringAttributeMetadata"
    assert (body["LogicalName"], body["MaxLength"], body["IsPrimaryName"]) == ("name", 160, True)


def test_status_options_carry_their_state(api: ServiceRootSession) -> None:
    body = api.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='statuscode')/"
                   "Microsoft.Dynamics.CRM.StatusAttributeMetadata?$select=LogicalName&$expand=OptionSet").json()
    options = {o["Value"]: (o["State"], o["Label"]["UserLocalizedLabel"]["Label"])
               for o in body["OptionSet"]["Options"]}
    assert options[1] == (0, "New")
    assert options[3] == (1, "Qualified")
    assert options[6] == (2, "No Longer Interested")


def test_state_and_picklist_casts(api: ServiceRootSession) -> None:
    state = api.get("EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='statecode')/"
                    "Microsoft.Dynamics.CRM.StateAttributeMetadata?$expand=OptionSet").json()
    assert [(o["Value"], o["DefaultStatus"]) for o in state["OptionSet"]["Options"]] == [(0, 1), (1, 3), (2, 4)]
    picklists = api.get("EntityDefinitions(LogicalName='lead')/Attributes/Microsoft.Dynamics.CRM."
                        "PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)").json()
    names = {p["LogicalName"]: p for p in picklists["value"]}
    assert "statuscode" not in names
    web = [o for o in names["leadsourcecode"]["OptionSet"]["Options"] if o["Value"] == 8][0]
    assert web["Label"]["LocalizedLabels"][0]["Label"] == "Web"


def test_wrong_cast_and_unknown_names(api: ServiceRootSession) -> None:
    wrong = api.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='subject')/"
                    "Microsoft.Dynamics.CRM.PicklistAttributeMetadata")
    assert wrong.status_code == 400
    assert api.get("EntityDefinitions(LogicalName='nope')").status_code == 404
    assert api.get("EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='nope')").status_code == 404


def test_service_document_and_csdl(api: ServiceRootSession) -> None:
    root = api.get("").json()
    assert {"name": "leads", "kind": "EntitySet", "url": "leads"} in root["value"]
    csdl = api.get("$metadata")
    assert csdl.headers["Content-Type"] == "application/xml"
    assert '<EntitySet Name="leads" EntityType="mscrm.lead"/>' in csdl.text


def test_boolean_metadata_filters(api: ServiceRootSession) -> None:
    body = api.get("EntityDefinitions?$select=LogicalName&$filter=IsPrivate eq false").json()
    assert "lead" in {item["LogicalName"] for item in body["value"]}
    assert api.get("EntityDefinitions?$filter=IsPrivate eq true").json()["value"] == []
