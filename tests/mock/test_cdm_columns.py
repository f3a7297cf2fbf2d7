"""The out-of-box columns from Microsoft's definitions, over HTTP: accepted with their types and
limits, defaults applied on create, booleans never null."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d365lab.mock.inprocess import ServiceRootSession

FORMATTED = "@OData.Community.Display.V1.FormattedValue"
ANNOTATIONS = {"Prefer": 'odata.include-annotations="*"'}


def test_columns_the_narrow_schema_refused_are_accepted(api: ServiceRootSession,
                                                        create: Callable[[str, dict[str, Any]], str]) -> None:
    parent = create("accounts", {"name": "Contoso"})
    contact = create("contacts", {"firstname": "Susie", "lastname": "Curtis", "annualincome": 48000})
    account = create("accounts", {"name": "Fourth Coffee", "accountcategorycode": 1, "industrycode": 7,
                                  "numberofemployees": 250, "parentaccountid@odata.bind": f"/accounts({parent})"})
    competitor = create("competitors", {"name": "Adventure Works", "strengths": "Price"})
    row = api.get(f"accounts({account})?$select=industrycode,numberofemployees,_parentaccountid_value",
                  headers=ANNOTATIONS).json()
    assert row["industrycode"] == 7 and row["numberofemployees"] == 250
    assert row[f"industrycode{FORMATTED}"] == "Consulting"
    assert row["_parentaccountid_value"] == parent
    assert api.get(f"contacts({contact})?$select=annualincome").json()["annualincome"] == 48000
    assert api.get(f"competitors({competitor})?$select=strengths").json()["strengths"] == "Price"


def test_limits_of_the_definitions_are_enforced(api: ServiceRootSession) -> None:
    too_many = api.post("accounts", json={"name": "x", "numberofemployees": 1_000_000_001})
    assert too_many.status_code == 400 and "numberofemployees" in too_many.json()["error"]["message"]
    unknown_option = api.post("accounts", json={"name": "x", "industrycode": 999})
    assert unknown_option.status_code == 400 and "industrycode" in unknown_option.json()["error"]["message"]
    too_long = api.post("leads", json={"lastname": "x", "address2_city": "c" * 81})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "0x80044331"
    wrong_type = api.post("contacts", json={"lastname": "x", "annualincome": "lots"})
    assert wrong_type.status_code == 400
    computed = api.post("leads", json={"lastname": "x", "revenue_base": 10})
    assert computed.status_code == 400 and "read-only" in computed.json()["error"]["message"]


def test_defaults_are_applied_on_create_and_booleans_are_never_null(
        api: ServiceRootSession, create: Callable[[str, dict[str, Any]], str]) -> None:
    account = create("accounts", {"name": "Contoso"})
    opportunity = create("opportunities", {"name": "Coffee", "customerid_account@odata.bind": f"/accounts({account})"})
    row = api.get(f"opportunities({opportunity})", headers=ANNOTATIONS).json()
    assert row["isrevenuesystemcalculated"] is False
    assert row[f"isrevenuesystemcalculated{FORMATTED}"] == "User Provided"
    assert row["opportunityratingcode"] == 2 and row["msdyn_forecastcategory"] == 100000001
    booleans = [name for name, value in row.items() if "@" not in name and isinstance(value, bool)]
    assert len(booleans) > 10
    assert all(row[name] is not None for name in ("decisionmaker", "confirminterest", "participatesinworkflow"))
    lead = api.get(f"leads({create('leads', {'lastname': 'Doe', 'donotemail': True})})").json()
    assert lead["donotemail"] is True and lead["donotphone"] is False and lead["followemail"] is True
    assert lead["leadqualitycode"] == 2


def test_a_sent_value_wins_over_the_default_but_a_null_boolean_does_not(
        api: ServiceRootSession, create: Callable[[str, dict[str, Any]], str]) -> None:
    lead = create("leads", {"lastname": "Doe", "leadqualitycode": None, "donotemail": None})
    row = api.get(f"leads({lead})?$select=leadqualitycode,donotemail").json()
    assert row["leadqualitycode"] is None and row["donotemail"] is False


def test_metadata_comes_from_the_definitions(api: ServiceRootSession) -> None:
    url = "EntityDefinitions(LogicalName='lead')/Attributes(LogicalName='industrycode')/" \
          "Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet"
    options = api.get(url).json()["OptionSet"]["Options"]
    assert {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"] for o in options}[1] == "Accounting"
    attributes = api.get("EntityDefinitions(LogicalName='lead')/Attributes?$select=LogicalName").json()["value"]
    assert len(attributes) > 140


def test_display_names_and_requirement_levels_come_from_the_definitions(api: ServiceRootSession) -> None:
    table = api.get("EntityDefinitions(LogicalName='opportunity')?$select=DisplayName").json()
    assert table["DisplayName"]["UserLocalizedLabel"]["Label"] == "Opportunity"
    attributes = api.get("EntityDefinitions(LogicalName='lead')/Attributes"
                         "?$select=LogicalName,DisplayName,RequiredLevel").json()["value"]
    by_name = {a["LogicalName"]: a for a in attributes}
    assert by_name["numberofemployees"]["DisplayName"]["UserLocalizedLabel"]["Label"] == "No. of Employees"
    assert by_name["lastname"]["RequiredLevel"]["Value"] == "ApplicationRequired"
    assert by_name["firstname"]["RequiredLevel"]["Value"] == "Recommended"
    assert by_name["leadid"]["RequiredLevel"]["Value"] == "SystemRequired"
    assert by_name["jobtitle"]["RequiredLevel"]["Value"] == "None"
