"""Lookups, value formats, annotations, validation errors and routing errors, over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from d365lab.mock.handlers import registry
from d365lab.mock.handlers.registry import OperationCall, OperationResult
from d365lab.mock.inprocess import ServiceRootSession
from d365lab.mock.tenant_api import Tenant

from .conftest import SERVICE_ROOT

Create = Callable[[str, dict[str, Any]], str]
ALL_ANNOTATIONS = {"Prefer": 'odata.include-annotations="*"'}


def error_of(response: Any, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    return error


# ------------------------------------------------------------------- lookups

@pytest.mark.parametrize("uri", ["/accounts({id})", "accounts({id})", SERVICE_ROOT + "accounts({id})"])
def test_bind_accepts_relative_and_absolute_uris(api: ServiceRootSession, create: Create, uri: str) -> None:
    account_id = create("accounts", {"name": "Fabrikam"})
    lead_id = create("leads", {"subject": "x", "parentaccountid@odata.bind": uri.format(id=account_id)})
    assert api.get(f"leads({lead_id})?$select=_parentaccountid_value").json()["_parentaccountid_value"] == account_id


def test_bind_to_a_missing_row_is_404(api: ServiceRootSession) -> None:
    missing = "00000000-0000-0000-0000-0000000000aa"
    response = api.post("leads", json={"subject": "x", "parentaccountid@odata.bind": f"/accounts({missing})"})
    assert error_of(response, 404)["message"] == f"account With Id = {missing} Does Not Exist"


def test_bind_to_the_wrong_table_is_400(api: ServiceRootSession, create: Create) -> None:
    contact_id = create("contacts", {"lastname": "Doe"})
    response = api.post("leads", json={"parentaccountid@odata.bind": f"/contacts({contact_id})"})
    assert "expects a account reference" in error_of(response, 400)["message"]


def test_bind_names_are_case_sensitive_navigation_properties(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "A"})
    response = api.post("opportunities", json={"name": "o", "customerid@odata.bind": f"/accounts({account_id})"})
    assert "customerid" in error_of(response, 400)["message"]
    ok = api.post("opportunities", json={"name": "o", "customerid_account@odata.bind": f"/accounts({account_id})"})
    assert ok.status_code == 204


def test_null_bind_clears_a_lookup(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "A"})
    lead_id = create("leads", {"parentaccountid@odata.bind": f"/accounts({account_id})"})
    assert api.patch(f"leads({lead_id})", json={"parentaccountid@odata.bind": None}).status_code == 204
    assert api.get(f"leads({lead_id})?$select=_parentaccountid_value").json()["_parentaccountid_value"] is None


def test_lookup_annotations_on_request(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Fabrikam"})
    opportunity_id = create("opportunities", {"name": "Deal",
                                              "customerid_account@odata.bind": f"/accounts({account_id})"})
    plain = api.get(f"opportunities({opportunity_id})?$select=_customerid_value").json()
    assert [k for k in plain if k.startswith("_customerid_value@")] == []
    row = api.get(f"opportunities({opportunity_id})?$select=_customerid_value", headers=ALL_ANNOTATIONS).json()
    assert row["_customerid_value"] == account_id
    assert row["_customerid_value@OData.Community.Display.V1.FormattedValue"] == "Fabrikam"
    assert row["_customerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert row["_customerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"] == "customerid_account"


def test_annotation_list_and_wildcards(api: ServiceRootSession, create: Create) -> None:
    account_id = create("accounts", {"name": "Fabrikam"})
    lead_id = create("leads", {"leadsourcecode": 8, "parentaccountid@odata.bind": f"/accounts({account_id})"})
    url = f"leads({lead_id})?$select=leadsourcecode,_parentaccountid_value"
    only_logical = api.get(url, headers={
        "Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'}).json()
    assert "_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname" in only_logical
    assert "leadsourcecode@OData.Community.Display.V1.FormattedValue" not in only_logical
    formatted = api.get(url, headers={"Prefer": 'odata.include-annotations="OData.Community.Display.V1.*"'})
    assert formatted.json()["leadsourcecode@OData.Community.Display.V1.FormattedValue"] == "Web"
    assert "OData.Community.Display.V1.*" in formatted.headers["Preference-Applied"]


def test_prefer_may_come_comma_separated(api: ServiceRootSession) -> None:
    response = api.post("leads?$select=leadsourcecode", json={"leadsourcecode": 7},
                        headers={"Prefer": 'return=representation, odata.include-annotations="*"'})
    assert response.status_code == 201
    assert response.json()["leadsourcecode@OData.Community.Display.V1.FormattedValue"] == "Trade Show"


# -------------------------------------------------------------- value formats

def test_value_formats_and_formatted_values(api: ServiceRootSession) -> None:
    response = api.post(
        "opportunities?$select=budgetamount,estimatedclosedate,isrevenuesystemcalculated,closeprobability,"
        "purchasetimeframe", headers={"Prefer": 'return=representation,odata.include-annotations="*"'},
        json={"name": "o", "budgetamount": 20000.123456, "estimatedclosedate": "2026-03-31",
              "isrevenuesystemcalculated": False, "closeprobability": 1500 // 30, "purchasetimeframe": 1})
    row = response.json()
    assert row["budgetamount"] == 20000.1235
    assert row["budgetamount@OData.Community.Display.V1.FormattedValue"] == "$20,000.12"
    assert row["_transactioncurrencyid_value"] is not None  # money brings the base currency
    assert row["estimatedclosedate"] == "2026-03-31"
    assert row["estimatedclosedate@OData.Community.Display.V1.FormattedValue"] == "3/31/2026"
    assert row["isrevenuesystemcalculated@OData.Community.Display.V1.FormattedValue"] == "User Provided"
    assert row["purchasetimeframe@OData.Community.Display.V1.FormattedValue"] == "This Quarter"


def test_datetimes_are_normalised_to_utc_without_fractions(api: ServiceRootSession, create: Create) -> None:
    call_id = create("phonecalls", {"subject": "Call", "scheduledend": "2026-04-07T16:59:30.123+02:00"})
    row = api.get(f"phonecalls({call_id})?$select=scheduledend", headers=ALL_ANNOTATIONS).json()
    assert row["scheduledend"] == "2026-04-07T14:59:30Z"
    assert row["scheduledend@OData.Community.Display.V1.FormattedValue"] == "4/7/2026 2:59 PM"


def test_deep_insert_of_activity_parties(api: ServiceRootSession, create: Create) -> None:
    contact_id = create("contacts", {"lastname": "Doe"})
    user_id = api.get("WhoAmI").json()["UserId"]
    call_id = create("phonecalls", {"subject": "Call", "phonecall_activity_parties": [
        {"partyid_systemuser@odata.bind": f"/systemusers({user_id})", "participationtypemask": 1},
        {"partyid_contact@odata.bind": f"/contacts({contact_id})", "participationtypemask": 2},
    ]})
    row = api.get(f"phonecalls({call_id})?$select=subject&$expand=phonecall_activity_parties("
                  "$select=participationtypemask,_partyid_value;$orderby=participationtypemask)").json()
    parties = [(p["participationtypemask"], p["_partyid_value"]) for p in row["phonecall_activity_parties"]]
    assert parties == [(1, user_id), (2, contact_id)]
    listed = api.get(f"phonecalls({call_id})/phonecall_activity_parties?$select=participationtypemask").json()
    assert sorted(p["participationtypemask"] for p in listed["value"]) == [1, 2]


# ---------------------------------------------------------------- validation

def test_unknown_property_is_400_naming_it(api: ServiceRootSession) -> None:
    response = api.post("accounts", json={"Name": "case matters"})
    assert error_of(response, 400) == {
        "code": "0x0", "message": "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'."}


def test_max_length_is_0x80044331(api: ServiceRootSession) -> None:
    response = api.post("leads", json={"subject": "x" * 301})
    assert error_of(response, 400) == {
        "code": "0x80044331",
        "message": "A validation error occurred.  The length of the 'subject' attribute of the 'lead' entity "
                   "exceeded the maximum allowed length of '300'."}


@pytest.mark.parametrize(("body", "fragment"), [
    ({"leadsourcecode": 99}, "outside the valid range"),
    ({"budgetamount": -5}, "outside the valid range"),
    ({"leadsourcecode": "Web"}, "Cannot convert the literal 'Web' to the expected type 'Edm.Int32'"),
    ({"decisionmaker": "yes"}, "Edm.Boolean"),
    ({"estimatedclosedate": "2026-02-30"}, "Edm.Date"),
    ({"subject": 12}, "Edm.String"),
    ({"fullname": "computed"}, "read-only"),
    ({"leadid": "not-a-guid"}, "Edm.Guid"),
])
def test_bad_values_are_400(api: ServiceRootSession, body: dict[str, Any], fragment: str) -> None:
    assert fragment in error_of(api.post("leads", json=body), 400)["message"]


def test_a_failed_create_writes_nothing(api: ServiceRootSession) -> None:
    before = api.get("leads/$count").text
    api.post("leads", json={"subject": "x" * 400})
    assert api.get("leads/$count").text == before


def test_malformed_json_is_400(api: ServiceRootSession) -> None:
    response = api.post("leads", data=b"{not json", headers={"Content-Type": "application/json"})
    assert "not valid JSON" in error_of(response, 400)["message"]


# ------------------------------------------------------------------- routing

def test_unknown_entity_set_is_404_0x8006088a(api: ServiceRootSession) -> None:
    assert error_of(api.get("Leads"), 404) == {"code": "0x8006088a",
                                               "message": "Resource not found for the segment 'Leads'."}


def test_functions_with_and_without_parentheses(api: ServiceRootSession) -> None:
    assert api.get("WhoAmI").json() == api.get("WhoAmI()").json()
    version = api.get("RetrieveVersion()").json()
    assert version["@odata.context"].endswith("$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse")
    assert version["Version"].startswith("9.2.")


def test_wrong_verb_is_404_no_http_resource(api: ServiceRootSession) -> None:
    response = api.post("WhoAmI", json={})
    assert error_of(response, 404)["message"] == (
        f"No HTTP resource was found that matches the request URI '{SERVICE_ROOT}WhoAmI'.")
    assert "No HTTP resource" in error_of(api.get("WinOpportunity"), 404)["message"]


def test_bound_action_without_namespace_is_400(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "x"})
    response = api.post(f"leads({lead_id})/QualifyLead", json={})
    assert error_of(response, 400)["message"] == "Request message has unresolved parameters."


def test_function_parameter_aliases(api: ServiceRootSession, create: Create) -> None:
    lead_id = create("leads", {"subject": "x"})
    flows = api.get(f"leadtoopportunitysalesprocesses?$filter=_leadid_value eq {lead_id}").json()["value"]
    if not flows:
        pytest.skip("no process instance is created for leads with the current settings")
    flow_id = flows[0]["businessprocessflowinstanceid"]
    path = api.get(f"RetrieveActivePath(ProcessInstanceId=@p)?@p={flow_id}")
    assert path.status_code == 200, path.text


@pytest.fixture
def exploding_action() -> Iterator[str]:
    """A test-only unbound action that writes a row and then fails unexpectedly."""

    def explode(tenant: Tenant, call: OperationCall) -> OperationResult:
        tenant.create("account", {"name": "half-written"})
        raise RuntimeError("boom: internal detail that must not leak")

    registry.UNBOUND_ACTIONS["TestExplode"] = explode
    yield "TestExplode"
    del registry.UNBOUND_ACTIONS["TestExplode"]


def test_unexpected_errors_are_a_500_envelope_and_roll_back(api: ServiceRootSession, exploding_action: str) -> None:
    response = api.post(exploding_action, json={})
    assert error_of(response, 500) == {"code": "0x80040216", "message": "An unexpected error occurred."}
    assert "boom" not in response.text
    assert api.get("accounts?$filter=name eq 'half-written'").json()["value"] == []


def test_deep_insert_of_a_single_valued_navigation(api: ServiceRootSession) -> None:
    response = api.post("leads?$select=subject&$expand=parentaccountid($select=name)",
                        json={"subject": "deep", "parentaccountid": {"name": "Created inline"}},
                        headers={"Prefer": "return=representation"})
    assert response.status_code == 201, response.text
    assert response.json()["parentaccountid"]["name"] == "Created inline"


def test_odata_type_must_name_the_target_table(api: ServiceRootSession) -> None:
    assert api.post("leads", json={"@odata.type": "Microsoft.Dynamics.CRM.lead", "subject": "ok"}).status_code == 204
    response = api.post("leads", json={"@odata.type": "#Microsoft.Dynamics.CRM.account", "subject": "no"})
    assert "not compatible" in error_of(response, 400)["message"]


def test_older_api_versions_behave_like_v9_2(api: ServiceRootSession) -> None:
    response = api.get(SERVICE_ROOT.replace("v9.2", "v9.1") + "WhoAmI()")
    assert response.status_code == 200
    assert "/api/data/v9.1/$metadata#" in response.json()["@odata.context"]
    assert api.get(SERVICE_ROOT.replace("v9.2", "v8.2") + "WhoAmI()").status_code == 404


def test_error_annotations_on_request(api: ServiceRootSession) -> None:
    missing = "00000000-0000-0000-0000-0000000000ab"
    plain = api.get(f"leads({missing})").json()["error"]
    assert set(plain) == {"code", "message"}
    error = api.get(f"leads({missing})", headers=ALL_ANNOTATIONS).json()["error"]
    assert error["code"] == "0x80040217"
    assert error["@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode"] == "-2147220969"
    assert error["@Microsoft.PowerApps.CDS.HelpLink"].endswith(
        "error=Microsoft.Crm.CrmException%3a0x80040217&client=platform")
    assert error["@Microsoft.PowerApps.CDS.InnerError.Message"] == error["message"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_malformed_json(api: ServiceRootSession, literal: str) -> None:
    before = api.get("leads/$count").text
    response = api.post("leads", data='{"subject": "s", "lastname": "l", "budgetamount": ' + literal + "}",
                        headers={"Content-Type": "application/json"})
    assert f"{literal.lstrip('-')} is not a JSON value" in error_of(response, 400)["message"]
    assert api.get("leads/$count").text == before
