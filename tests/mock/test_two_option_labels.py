"""Two-option (boolean) columns show their own labels, as in the out-of-box schema.

Labels from the Dataverse table reference pages (lead, opportunity, phonecall, systemuser):
``phonecall.directioncode`` is Outgoing/Incoming, ``opportunity.isrevenuesystemcalculated``
System Calculated/User Provided, ``lead.confirminterest`` is labelled true = "No",
false = "Yes", ``phonecall.leftvoicemail`` Yes/No.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from d365lab.mock.inprocess import ServiceRootSession

Create = Callable[[str, dict[str, Any]], str]
FORMATTED = "@OData.Community.Display.V1.FormattedValue"
FORMATTED_ONLY = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}


def formatted(api: ServiceRootSession, entity_set: str, row_id: str, column: str) -> Any:
    """The FormattedValue the mock returns for one column of one row."""
    row = api.get(f"{entity_set}({row_id})?$select={column}", headers=FORMATTED_ONLY).json()
    return row[column + FORMATTED]


@pytest.mark.parametrize(("value", "label"), [(True, "Outgoing"), (False, "Incoming")])
def test_direction_of_a_phone_call_is_outgoing_or_incoming(
        api: ServiceRootSession, create: Create, value: bool, label: str) -> None:
    call_id = create("phonecalls", {"subject": "Call back", "directioncode": value})
    assert formatted(api, "phonecalls", call_id, "directioncode") == label


@pytest.mark.parametrize(("value", "label"), [(True, "Yes"), (False, "No")])
def test_a_column_labelled_yes_no_keeps_yes_no(
        api: ServiceRootSession, create: Create, value: bool, label: str) -> None:
    call_id = create("phonecalls", {"subject": "Voicemail", "leftvoicemail": value})
    assert formatted(api, "phonecalls", call_id, "leftvoicemail") == label


def test_revenue_source_of_an_opportunity_in_a_listing(api: ServiceRootSession, create: Create) -> None:
    create("opportunities", {"name": "System", "isrevenuesystemcalculated": True})
    create("opportunities", {"name": "User", "isrevenuesystemcalculated": False})
    rows = api.get("opportunities?$select=name,isrevenuesystemcalculated&$orderby=name",
                   headers=FORMATTED_ONLY).json()["value"]
    assert [(r["name"], r["isrevenuesystemcalculated" + FORMATTED]) for r in rows] == [
        ("System", "System Calculated"), ("User", "User Provided")]


def test_process_step_columns_use_the_shipped_wording(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"lastname": "Doe", "confirminterest": True, "decisionmaker": False})
    assert formatted(api, "leads", lead_id, "confirminterest") == "No"
    assert formatted(api, "leads", lead_id, "decisionmaker") == "mark complete"
    opportunity_id = create("opportunities", {"name": "Deal", "developproposal": True})
    assert formatted(api, "opportunities", opportunity_id, "developproposal") == "Completed"


def test_representation_of_a_create_carries_the_label(api: ServiceRootSession) -> None:
    response = api.post("phonecalls?$select=directioncode", json={"subject": "x", "directioncode": False},
                        headers={"Prefer": 'return=representation,odata.include-annotations="*"'})
    assert response.status_code == 201
    assert response.json()["directioncode" + FORMATTED] == "Incoming"


def test_boolean_attribute_metadata_shows_the_same_labels(api: ServiceRootSession) -> None:
    url = ("EntityDefinitions(LogicalName='phonecall')/Attributes(LogicalName='directioncode')/"
           "Microsoft.Dynamics.CRM.BooleanAttributeMetadata?$select=LogicalName&$expand=OptionSet")
    option_set = api.get(url).json()["OptionSet"]
    assert option_set["OptionSetType"] == "Boolean"
    assert option_set["TrueOption"]["Value"] == 1
    assert option_set["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"] == "Outgoing"
    assert option_set["FalseOption"]["Value"] == 0
    assert option_set["FalseOption"]["Label"]["LocalizedLabels"][0]["Label"] == "Incoming"


def test_boolean_casts_on_the_collection_expand_every_option_set(api: ServiceRootSession) -> None:
    url = ("EntityDefinitions(LogicalName='systemuser')/Attributes/"
           "Microsoft.Dynamics.CRM.BooleanAttributeMetadata?$select=LogicalName&$expand=OptionSet")
    items = api.get(url).json()["value"]
    labels = {i["LogicalName"]: (i["OptionSet"]["TrueOption"]["Label"]["UserLocalizedLabel"]["Label"],
                                 i["OptionSet"]["FalseOption"]["Label"]["UserLocalizedLabel"]["Label"])
              for i in items}
    assert labels["isdisabled"] == ("Disabled", "Enabled")
    assert labels["isintegrationuser"] == ("Yes", "No")  # every two-option column of the table is listed
    assert {i["@odata.type"] for i in items} == {"#Microsoft.Dynamics.CRM.BooleanAttributeMetadata"}
